// Success, TaskError (alias Error) and the deprecated aliases success() and error(): their checks and wire
// form; the same names from import and require; the SDK's own TaskDaemonError.

import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { describe, test } from "node:test";

import * as esm from "taskdaemon";
import { error, Error as TaskDaemonErrorResult, isTaskDaemonError, Success, success, TaskDaemonError, TaskError } from "taskdaemon";

const cjs = createRequire(import.meta.url)("taskdaemon");

describe("the public names", () => {
  test("import and require give the same names", () => {
    assert.deepEqual(Object.keys(cjs).sort(), Object.keys(esm).sort());
    for (const name of ["run", "Task", "Success", "TaskError", "Error", "success", "error", "TaskDaemonError", "isTaskDaemonError"]) {
      assert.equal(typeof esm[name], "function", name);
    }
  });

  test("Error is TaskError, for handlers written for TaskDaemon's Node SDK", () => {
    assert.equal(TaskDaemonErrorResult, TaskError);
    assert.equal(cjs.Error, cjs.TaskError);
  });
});

describe("Success", () => {
  test("carries its result and metadata to the wire", () => {
    assert.deepEqual(new Success({ a: 1 }, { metadata: { ms: 3 } }).toMessage("t1"), {
      status: "success", result: { a: 1 }, task_id: "t1", metadata: { ms: 3 },
    });
  });

  test("with no result it is null on the wire", () => {
    assert.deepEqual(new Success().toMessage("t1"), { status: "success", result: null, task_id: "t1" });
    assert.deepEqual(new Success().toMessage(), { status: "success", result: null });
  });

  test("success(), a deprecated alias, is new Success()", () => {
    assert.deepEqual(success().toMessage(), new Success().toMessage());
    const made = success([1], { metadata: { n: 1 } });
    assert.ok(made instanceof Success);
    assert.deepEqual(made.toMessage(), new Success([1], { metadata: { n: 1 } }).toMessage());
  });

  test("metadata that is not an object is refused, naming what it got", () => {
    assert.throws(() => new Success(1, { metadata: [1] }), { name: "TaskDaemonError", message: "[taskdaemon] metadata must be an object, got array" });
    assert.throws(() => new Success(1, { metadata: null }), /metadata must be an object, got null/);
  });
});

describe("TaskError", () => {
  test("is not retryable by default, and always writes retryable", () => {
    const result = new TaskError("bad input");
    assert.equal(result.retryable, false);
    assert.equal(result.error, "bad input");
    assert.equal(result.message, "bad input");
    assert.deepEqual(result.toMessage("t1"), { status: "error", error: "bad input", retryable: false, task_id: "t1" });
  });

  test("writes every option given, under its protocol name", () => {
    const result = new TaskError("busy", { retryable: true, errorType: "Busy", retryAfter: 1.5, metadata: { q: 9 }, traceback: "at x" });
    assert.deepEqual(result.toMessage("t1"), {
      status: "error", error: "busy", retryable: true, task_id: "t1", error_type: "Busy", retry_after: 1.5, traceback: "at x", metadata: { q: 9 },
    });
  });

  test("a bare boolean second argument means retryable, as in TaskDaemon's SDK", () => {
    assert.equal(new TaskError("later", true).retryable, true);
    assert.equal(new TaskError("never", false).retryable, false);
  });

  test("error(), a deprecated alias, is new TaskError(), bare boolean included", () => {
    const made = error("x", { retryable: true, errorType: "X" });
    assert.ok(made instanceof TaskError);
    assert.deepEqual(made.toMessage(), { status: "error", error: "x", retryable: true, error_type: "X" });
    assert.deepEqual(error("later", true).toMessage(), new TaskError("later", true).toMessage());
    assert.equal(error("never", false).retryable, false);
  });

  const refused = [
    [() => new TaskError(42), "error message must be a string, got integer"],
    [() => new TaskError("x", { retryable: "yes" }), "retryable must be a boolean, got string"],
    [() => new TaskError("x", { errorType: "" }), "errorType must be a non-empty string, got an empty string"],
    [() => new TaskError("x", { retryAfter: -1 }), "retryAfter must be a finite number of seconds >= 0, got -1"],
    [() => new TaskError("x", { retryAfter: NaN }), "retryAfter must be a finite number of seconds >= 0, got NaN"],
    [() => new TaskError("x", { metadata: "m" }), "metadata must be an object, got string"],
    [() => new TaskError("x", { traceback: 1 }), "traceback must be a string, got integer"],
    [() => new TaskError("x", [true]), "TaskError options must be an object, got array"],
  ];
  for (const [make, message] of refused) {
    test(`refuses what the protocol cannot carry: ${message}`, () => {
      assert.throws(make, (err) => {
        assert.ok(err instanceof TaskDaemonError);
        assert.equal(err.message, `[taskdaemon] ${message}`);
        return true;
      });
    });
  }
});

describe("TaskDaemonError", () => {
  test("has its name, the [taskdaemon] prefix and the cause it was given", () => {
    const cause = new RangeError("inner");
    const err = new TaskDaemonError("something was wrong", { cause });
    assert.equal(err.name, "TaskDaemonError");
    assert.equal(err.message, "[taskdaemon] something was wrong");
    assert.equal(err.cause, cause);
    assert.ok(err instanceof globalThis.Error);
    assert.notEqual(TaskDaemonError, TaskError);
  });

  test("isTaskDaemonError recognises it, from either build, and nothing else", () => {
    assert.equal(isTaskDaemonError(new TaskDaemonError("x")), true);
    assert.equal(isTaskDaemonError(new cjs.TaskDaemonError("x")), true);
    assert.equal(cjs.isTaskDaemonError(new TaskDaemonError("x")), true);
    assert.equal(isTaskDaemonError(new globalThis.Error("x")), false);
    assert.equal(isTaskDaemonError(new TaskError("x")), false);
    assert.equal(isTaskDaemonError(null), false);
  });
});
