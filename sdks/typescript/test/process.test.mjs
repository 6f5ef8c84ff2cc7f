// Real handler processes over pipes: the behaviour every TaskDaemon SDK shares, and the three faults of
// TaskDaemon's original Node SDK (answers out of order, a crash on a bad line, `undefined` printed) absent.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { HandlerProcess, stopAll, task } from "./helpers.mjs";
import { loadSchema } from "./schema.mjs";

const resultErrors = loadSchema("result");
const eventErrors = loadSchema("event");

after(stopAll);

/** Send one task of `taskType` to `handler` and return its answer, checked against the result schema. */
async function ask(handler, taskType, taskData = {}, taskId = `${taskType}-1`) {
  handler.sendTask(task({ task_id: taskId, task_type: taskType, task_data: taskData }));
  const message = await handler.readJson();
  assert.deepEqual(resultErrors(message), [], `answer breaks result.schema.json: ${JSON.stringify(message)}`);
  return message;
}

describe("a running handler", () => {
  let handler;
  before(() => {
    handler = new HandlerProcess("behaviours.mjs");
  });

  test("async handlers with different delays are answered strictly in task order", async () => {
    const delays = [60, 5, 40, 0, 25, 10];
    // All at once, as a test harness pipelining tasks would: each must still wait for the one before.
    handler.send(delays.map((ms, n) => `${JSON.stringify(task({ task_id: `s${n}`, task_type: "sleep", task_data: { ms, n } }))}\n`).join(""));
    const answers = [];
    for (let i = 0; i < delays.length; i += 1) answers.push(await handler.readJson());
    assert.deepEqual(
      answers.map((a) => [a.task_id, a.result.n]),
      delays.map((_, n) => [`s${n}`, n]),
    );
  });

  test("console.log and process.stdout.write of a result-looking line go to stderr, never stdout", async () => {
    const answer = await ask(handler, "print", {}, "p1");
    assert.deepEqual(answer, { status: "success", result: "clean", task_id: "p1" });
    // The next stdout line is the next task's answer: nothing the handler printed came in between.
    assert.equal((await ask(handler, "echo", {}, "after-print")).task_id, "after-print");
    const fake = JSON.stringify({ status: "success", result: "stolen", task_id: "p1" });
    assert.equal(handler.stderr.split(fake).length - 1, 3, `stderr:\n${handler.stderr}`);
  });

  test("a handler returning undefined answers success with result null", async () => {
    assert.deepEqual(await ask(handler, "nothing", {}, "n1"), { status: "success", result: null, task_id: "n1" });
    assert.deepEqual(await ask(handler, "async-nothing", {}, "n2"), { status: "success", result: null, task_id: "n2" });
    assert.deepEqual(await ask(handler, "null", {}, "n3"), { status: "success", result: null, task_id: "n3" });
  });

  test("a thrown exception becomes a non-retryable error with its class name and stack", async () => {
    const answer = await ask(handler, "throw-type-error", {}, "x1");
    assert.equal(answer.status, "error");
    assert.equal(answer.error, "bad input");
    assert.equal(answer.retryable, false);
    assert.equal(answer.error_type, "TypeError");
    assert.equal(answer.task_id, "x1");
    assert.match(answer.traceback, /^TypeError: bad input\n\s+at .*behaviours\.mjs/);
  });

  test("an Error subclass is named by its class, an empty message by the class name", async () => {
    const subclass = await ask(handler, "throw-subclass");
    assert.equal(subclass.error_type, "ValidationError");
    assert.equal(subclass.error, "name is required");
    const empty = await ask(handler, "throw-empty");
    assert.equal(empty.error_type, "RangeError");
    assert.equal(empty.error, "RangeError");
  });

  test("an exception whose message UTF-8 cannot carry still arrives, its lone surrogate escaped", async () => {
    const answer = await ask(handler, "throw-lone-surrogate");
    assert.equal(answer.error, "bad \\ud800 text");
    assert.equal(answer.error_type, "RangeError");
    assert.match(answer.traceback, /bad \\ud800 text/);
  });

  test("a rejected promise becomes an error like a thrown exception", async () => {
    const answer = await ask(handler, "reject");
    assert.equal(answer.error, "async boom");
    assert.equal(answer.error_type, "Error");
    assert.equal(answer.retryable, false);
    assert.match(answer.traceback, /async boom/);
  });

  test("a thrown non-Error value becomes a NonError error", async () => {
    const answer = await ask(handler, "throw-string");
    assert.equal(answer.error_type, "NonError");
    assert.equal(answer.error, "the handler threw a non-Error value: plain text");
  });

  test("a thrown TaskDaemon Error result is sent as the answer, as it is", async () => {
    assert.deepEqual(await ask(handler, "throw-result", {}, "r1"), {
      status: "error", error: "refused", retryable: true, task_id: "r1", retry_after: 2,
    });
  });

  test("returning something other than a result gets InvalidReturn naming it", async () => {
    const object = await ask(handler, "invalid-return");
    assert.equal(object.error_type, "InvalidReturn");
    assert.equal(object.error, "the handler returned Object; return Success(...), Error(...) or undefined");
    assert.equal(object.retryable, false);
    const string = await ask(handler, "string-return");
    assert.equal(string.error, "the handler returned string; return Success(...), Error(...) or undefined");
  });

  const unserialisable = {
    nan: "result.values[2] is NaN",
    "metadata-infinity": "metadata.rate is Infinity",
    bigint: "result.n is a BigInt (10n)",
    circular: "circular structure",
    "lone-surrogate": "result holds a lone surrogate",
    map: "result is a Map",
  };
  for (const [taskType, detail] of Object.entries(unserialisable)) {
    test(`a result JSON cannot carry (${taskType}) gets UnserialisableResult and the handler goes on`, async () => {
      const answer = await ask(handler, taskType, {}, `u-${taskType}`);
      assert.equal(answer.status, "error");
      assert.equal(answer.error_type, "UnserialisableResult");
      assert.equal(answer.retryable, false);
      assert.equal(answer.task_id, `u-${taskType}`);
      const part = taskType === "metadata-infinity" ? "metadata" : "result";
      assert.ok(answer.error.startsWith(`${part} is not JSON-serialisable: `), answer.error);
      assert.ok(answer.error.includes(detail), answer.error);
      assert.equal((await ask(handler, "echo", {}, `after-${taskType}`)).task_id, `after-${taskType}`);
    });
  }

  test("results carry every optional field given, in wire form", async () => {
    assert.deepEqual(await ask(handler, "error-bare-boolean", {}, "e1"), {
      status: "error", error: "try later", retryable: true, task_id: "e1",
    });
    assert.deepEqual(await ask(handler, "error-options", {}, "e2"), {
      status: "error", error: "upstream returned 503", retryable: true, task_id: "e2",
      error_type: "UpstreamUnavailable", retry_after: 5, metadata: { tries: 3 },
    });
    assert.deepEqual(await ask(handler, "success-metadata", {}, "e3"), {
      status: "success", result: [1, 2], task_id: "e3", metadata: { ms: 12 },
    });
  });

  test("log and progress events are written at once, in order, before the result", async () => {
    handler.sendTask(task({ task_id: "ev1", task_type: "events" }));
    const lines = [];
    for (let i = 0; i < 5; i += 1) lines.push(await handler.readJson());
    const events = lines.slice(0, 4);
    for (const event of events) assert.deepEqual(eventErrors(event), [], JSON.stringify(event));
    assert.deepEqual(events, [
      { event: "log", task_id: "ev1", level: "info", message: "starting" },
      { event: "progress", task_id: "ev1", progress: 0.5, message: "halfway" },
      { event: "log", task_id: "ev1", level: "debug", message: "details" },
      { event: "progress", task_id: "ev1", progress: 1 },
    ]);
    assert.deepEqual(lines[4], { status: "success", result: "done", task_id: "ev1" });
  });

  test("a bad log level is an SDK argument error, answered as an error naming the allowed levels", async () => {
    const answer = await ask(handler, "bad-level");
    assert.equal(answer.error_type, "TaskDaemonError");
    assert.equal(answer.error, '[taskdaemon] log level must be one of debug, info, warning, error; got "critical"');
  });

  test("an event emitted after the task's result is dropped with a warning, never written", async () => {
    assert.equal((await ask(handler, "late-event", {}, "late")).result, "early");
    await handler.waitStderr("dropped a log event for task late");
    assert.equal((await ask(handler, "echo", {}, "after-late")).task_id, "after-late");
  });

  test("a promise rejection nobody handles is logged and the handler keeps serving", async () => {
    assert.equal((await ask(handler, "forgotten-promise")).result, "ok");
    await handler.waitStderr("unhandled promise rejection");
    assert.equal((await ask(handler, "echo", {}, "after-forgotten")).task_id, "after-forgotten");
  });

  test("an unknown task type gets UnknownTaskType listing the known types, sorted", async () => {
    const answer = await ask(handler, "no-such-type", {}, "u1");
    assert.equal(answer.error_type, "UnknownTaskType");
    assert.equal(answer.retryable, false);
    assert.match(answer.error, /^no handler for task_type "no-such-type"; this handler serves: "async-nothing", "bad-level", "bigint", "circular", "echo", /);
  });

  test("prototype members are not task types", async () => {
    assert.equal((await ask(handler, "toString")).error_type, "UnknownTaskType");
    assert.equal((await ask(handler, "__proto__")).error_type, "UnknownTaskType");
  });

  test("a malformed line gets an error and the handler goes on (no crash)", async () => {
    handler.send("{not json\n");
    const answer = await handler.readJson();
    assert.equal(answer.error_type, "InvalidJSON");
    assert.equal((await ask(handler, "echo", {}, "after-bad-line")).task_id, "after-bad-line");
    assert.equal(handler.child.exitCode, null);
  });
});

describe("lifecycle", () => {
  test("EOF on stdin: the last task is answered (even without its LF) and the process exits 0", async () => {
    const handler = new HandlerProcess("behaviours.mjs");
    handler.sendTask(task({ task_id: "a", task_type: "sleep", task_data: { ms: 20, n: 1 } }));
    handler.send(JSON.stringify(task({ task_id: "b" })));
    handler.close();
    assert.equal((await handler.readJson()).task_id, "a");
    assert.equal((await handler.readJson()).task_id, "b");
    assert.deepEqual(await handler.waitExit(), { code: 0, signal: null });
  });

  test("SIGTERM during a slow task: the task is answered, nothing more is read, exit 0", async () => {
    const handler = new HandlerProcess("behaviours.mjs");
    handler.sendTask(task({ task_id: "slow", task_type: "slow", task_data: { ms: 300 } }));
    handler.sendTask(task({ task_id: "queued" }));
    await handler.waitStderr("slow task slow started");
    handler.signal("SIGTERM");
    assert.deepEqual(await handler.readJson(), { status: "success", result: "finished", task_id: "slow" });
    assert.deepEqual(await handler.waitExit(), { code: 0, signal: null });
    assert.deepEqual(handler.lines, [], "the task sent after the slow one must not be answered");
  });

  test("SIGINT during a slow task behaves like SIGTERM", async () => {
    const handler = new HandlerProcess("behaviours.mjs");
    handler.sendTask(task({ task_id: "slow", task_type: "slow", task_data: { ms: 200 } }));
    await handler.waitStderr("slow task slow started");
    handler.signal("SIGINT");
    assert.equal((await handler.readJson()).result, "finished");
    assert.deepEqual(await handler.waitExit(), { code: 0, signal: null });
  });

  for (const signal of ["SIGTERM", "SIGINT"]) {
    test(`${signal} while idle: exit 0 at once`, async () => {
      const handler = new HandlerProcess("behaviours.mjs");
      assert.equal((await ask(handler, "echo", {}, "first")).task_id, "first"); // it is serving
      handler.signal(signal);
      assert.deepEqual(await handler.waitExit(), { code: 0, signal: null });
    });
  }

  test("stdout closed by the reader: the handler says so on stderr and exits 1 instead of hanging", async () => {
    const handler = new HandlerProcess("behaviours.mjs");
    handler.child.stdout.destroy(); // the only read end of the pipe: the next result gets EPIPE
    handler.sendTask(task({ task_id: "lost" }));
    assert.deepEqual(await handler.waitExit(), { code: 1, signal: null });
    assert.match(handler.stderr, /the protocol channel failed, stopping: Error: EPIPE/);
  });

  // A result far above the 64 KiB a pipe holds: fd 1 is non-blocking once Node opened process.stdout, so
  // the writer must retry partial writes and EAGAIN until the reader has taken everything.
  test("a 64 MiB task round-trips", async () => {
    const handler = new HandlerProcess("echo.mjs");
    const text = `${"x".repeat(64 * 1024 * 1024)}é`;
    const line = JSON.stringify(task({ task_id: "big", task_data: { text } }));
    assert.ok(Buffer.byteLength(line) > 64 * 1024 * 1024);
    handler.send(`${line}\n`);
    const answer = await handler.readJson(60_000);
    assert.equal(answer.task_id, "big");
    assert.equal(answer.result.task_data.text.length, text.length);
    assert.ok(answer.result.task_data.text === text, "the text came back changed");
    handler.close();
    assert.deepEqual(await handler.waitExit(), { code: 0, signal: null });
  });
});
