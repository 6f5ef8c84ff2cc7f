// taskdaemon/testing: call() runs a handler in-process through run()'s own code path.

import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { setTimeout as delay } from "node:timers/promises";
import { describe, test } from "node:test";

import { isTaskDaemonError, Success, Task, TaskDaemonError, TaskError } from "taskdaemon";
import { call } from "taskdaemon/testing";

describe("call", () => {
  test("returns the result, the wire message, the events and the printed output", async () => {
    const outcome = await call(
      (task) => {
        task.log("hello");
        task.progress(0.25);
        console.log("printed");
        process.stdout.write("written\n");
        return new Success({ greeting: `Hello, ${task.task_data.name}!` });
      },
      { name: "Ada" },
    );
    assert.ok(outcome.result instanceof Success);
    assert.equal(outcome.ok, true);
    assert.deepEqual(outcome.result.result, { greeting: "Hello, Ada!" });
    assert.deepEqual(outcome.message, { status: "success", result: { greeting: "Hello, Ada!" }, task_id: "test-task" });
    assert.deepEqual(outcome.events, [
      { event: "log", task_id: "test-task", level: "info", message: "hello" },
      { event: "progress", task_id: "test-task", progress: 0.25 },
    ]);
    assert.equal(outcome.output, "printed\nwritten\n");
  });

  test("builds the task from the defaults, or from the options", async () => {
    const fields = (task) => new Success([task.task_id, task.task_type, task.task_data, task.attempt, task.tags]);
    assert.deepEqual((await call(fields)).result.result, ["test-task", "test", {}, 0, {}]);
    const options = { taskType: "t", taskId: "id-9", attempt: 2, tags: { team: "ops" } };
    assert.deepEqual((await call(fields, { a: 1 }, options)).result.result, ["id-9", "t", { a: 1 }, 2, { team: "ops" }]);
  });

  test("a step reads its parent's result from the given dependencies", async () => {
    const report = (task) => new Success({ rows: task.dependencies.load.result.rows, from: Object.keys(task.dependencies) });
    const load = { task_id: "t1", task_type: "fetch", result: { rows: 42 } };
    assert.deepEqual((await call(report, {}, { dependencies: { load } })).message.result, { rows: 42, from: ["load"] });
    assert.deepEqual((await call((task) => new Success(task.dependencies))).message.result, {});
  });

  test("an exception becomes the error result run() would send", async () => {
    const outcome = await call(async () => {
      await delay(1);
      throw new SyntaxError("broken");
    });
    assert.ok(outcome.result instanceof TaskError);
    assert.equal(outcome.ok, false);
    assert.equal(outcome.message.status, "error");
    assert.equal(outcome.message.error, "broken");
    assert.equal(outcome.message.error_type, "SyntaxError");
    assert.equal(outcome.message.retryable, false);
    assert.match(outcome.message.traceback, /SyntaxError: broken/);
  });

  test("returning nothing is Success(null)", async () => {
    const outcome = await call(() => {});
    assert.ok(outcome.result instanceof Success);
    assert.deepEqual(outcome.message, { status: "success", result: null, task_id: "test-task" });
  });

  test("an unserialisable result is the UnserialisableResult error, as it would be sent", async () => {
    const outcome = await call(() => new Success({ x: NaN }));
    assert.ok(outcome.result instanceof TaskError);
    assert.equal(outcome.result.errorType, "UnserialisableResult");
    assert.equal(outcome.message.error, "result is not JSON-serialisable: result.x is NaN");
  });

  test("dispatches an object of handlers by taskType, and names unknown types", async () => {
    const handlers = { a: () => new Success("A"), b: () => new TaskError("B", true) };
    assert.equal((await call(handlers, {}, { taskType: "a" })).message.result, "A");
    assert.deepEqual((await call(handlers, {}, { taskType: "b" })).message, { status: "error", error: "B", retryable: true, task_id: "test-task" });
    const unknown = await call(handlers, {}, { taskType: "c" });
    assert.equal(unknown.message.error_type, "UnknownTaskType");
    assert.equal(unknown.message.error, 'no handler for task_type "c"; this handler serves: "a", "b"');
  });

  test("refuses a bad handler or task field with a TaskDaemonError naming it", async () => {
    await assert.rejects(call(() => {}, [1]), { name: "TaskDaemonError", message: "[taskdaemon] task_data must be an object, got array" });
    await assert.rejects(call(() => {}, {}, { attempt: -1 }), { message: "[taskdaemon] attempt must be >= 0, got -1" });
    await assert.rejects(call(() => {}, {}, { taskId: "" }), { message: "[taskdaemon] task_id must not be empty" });
    await assert.rejects(call("handler"), {
      message: "[taskdaemon] handler must be a function or an object from task type to function, got string",
    });
    await assert.rejects(call({ a: 1 }), { message: '[taskdaemon] handler for task type "a" must be a function, got number' });
    await assert.rejects(call({}), { message: "[taskdaemon] handler object is empty: give at least one task type" });
  });

  test("runs overlapping calls one at a time, so each output is its own", async () => {
    const printer = async (task) => {
      console.log(`${task.task_id} start`);
      await delay(task.task_data.ms);
      console.log(`${task.task_id} end`);
    };
    const [first, second] = await Promise.all([
      call(printer, { ms: 30 }, { taskId: "first" }),
      call(printer, { ms: 0 }, { taskId: "second" }),
    ]);
    assert.equal(first.output, "first start\nfirst end\n");
    assert.equal(second.output, "second start\nsecond end\n");
  });

  test("captures only the handler's own output, not what other code writes meanwhile", async () => {
    const original = process.stdout.write;
    const elsewhere = [];
    // Keeps this test's own marker; the real runner's reports (node --test uses stdout) pass through.
    process.stdout.write = function write(chunk, ...rest) {
      if (typeof chunk === "string" && chunk.startsWith("elsewhere:")) return elsewhere.push(chunk) > 0;
      return original.call(this, chunk, ...rest);
    };
    try {
      // Scheduled before the call, so it runs in the test's async context, in the middle of the call.
      const other = delay(5).then(() => process.stdout.write("elsewhere: another writer\n"));
      const outcome = await call(async () => {
        console.log("inside");
        await delay(30);
        console.log("inside again");
      });
      await other;
      assert.equal(outcome.output, "inside\ninside again\n");
      assert.deepEqual(elsewhere, ["elsewhere: another writer\n"]);
    } finally {
      process.stdout.write = original;
    }
  });

  test("puts process.stdout.write back afterwards, even when the handler throws", async () => {
    const before = process.stdout.write;
    await call(() => {
      throw new Error("x");
    });
    assert.equal(process.stdout.write, before);
  });

  test("works the same from require('taskdaemon/testing')", async () => {
    const require = createRequire(import.meta.url);
    const { call: cjsCall } = require("taskdaemon/testing");
    const { success: cjsSuccess, Success: CjsSuccess } = require("taskdaemon");
    const outcome = await cjsCall(() => cjsSuccess(1));
    assert.ok(outcome.result instanceof CjsSuccess);
    assert.deepEqual(outcome.message, { status: "success", result: 1, task_id: "test-task" });
    // A result from the other build is still recognised as a result.
    assert.deepEqual((await call(() => cjsSuccess(2))).message, { status: "success", result: 2, task_id: "test-task" });
  });
});

describe("Task", () => {
  test("keeps the protocol's field names", () => {
    const task = new Task({ task_id: "t", task_type: "x", task_data: { a: 1 }, attempt: 1 });
    assert.deepEqual({ ...task }, { task_id: "t", task_type: "x", task_data: { a: 1 }, attempt: 1, tags: {}, dependencies: {} });
  });

  test("keeps frozen copies of its dependencies, {} when none, and refuses malformed ones", () => {
    const given = { load: { task_id: "t1", task_type: "fetch", result: [1], extra: true } };
    const task = new Task({ task_id: "t", task_type: "x", task_data: {}, attempt: 0, dependencies: given });
    given.other = { task_id: "t2", task_type: "fetch", result: null };
    assert.deepEqual(task.dependencies, { load: { task_id: "t1", task_type: "fetch", result: [1] } });
    assert.ok(Object.isFrozen(task.dependencies) && Object.isFrozen(task.dependencies.load));
    assert.throws(() => { "use strict"; task.dependencies.load = null; }, TypeError);
    const plain = new Task({ task_id: "t", task_type: "x", task_data: {}, attempt: 0 });
    assert.deepEqual(plain.dependencies, {});
    assert.ok(Object.isFrozen(plain.dependencies));
    assert.throws(() => new Task({ task_id: "t", task_type: "x", task_data: {}, attempt: 0, dependencies: { load: { task_id: "t1" } } }),
      { name: "TaskDaemonError", message: '[taskdaemon] dependencies["load"].task_type is missing' });
  });

  test("built by hand, its events are checked and dropped", () => {
    const task = new Task({ task_id: "t", task_type: "x", task_data: {}, attempt: 0 });
    task.log("fine", "warning");
    task.progress(0);
    assert.throws(() => task.progress(1.5), { message: "[taskdaemon] progress fraction must be a number from 0 to 1, got 1.5" });
    assert.throws(() => task.progress(NaN), isTaskDaemonError);
    assert.throws(() => task.log("x", "verbose"), TaskDaemonError);
    assert.throws(() => task.log(42), { message: "[taskdaemon] log message must be a string, got integer" });
  });

  test("refuses fields the protocol does not allow", () => {
    assert.throws(() => new Task({ task_id: "t", task_type: "x", task_data: {}, attempt: true }), {
      message: "[taskdaemon] attempt must be an integer, got boolean",
    });
  });
});
