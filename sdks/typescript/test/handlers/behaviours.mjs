// One handler process, one behaviour per task type, for the tests in test/process.test.mjs.
import { setTimeout as delay } from "node:timers/promises";
import { Error, run, Success, TaskError } from "taskdaemon";

class ValidationError extends globalThis.Error {}

run({
  echo: (task) => new Success({ task_id: task.task_id, task_type: task.task_type, task_data: task.task_data, attempt: task.attempt }),

  // Async, with the delay the task asks for: answers must still come back in task order.
  sleep: async (task) => {
    await delay(task.task_data.ms);
    return new Success({ n: task.task_data.n });
  },

  // Ordinary output that looks exactly like a result: it must reach stderr, never stdout.
  print: (task) => {
    const fake = JSON.stringify({ status: "success", result: "stolen", task_id: task.task_id });
    console.log(fake);
    console.info(fake);
    process.stdout.write(`${fake}\n`);
    return new Success("clean");
  },

  "throw-type-error": () => {
    throw new TypeError("bad input");
  },
  "throw-subclass": () => {
    throw new ValidationError("name is required");
  },
  "throw-empty": () => {
    throw new RangeError();
  },
  "throw-string": () => {
    throw "plain text"; // a non-Error value, on purpose
  },
  "throw-lone-surrogate": () => {
    throw new RangeError("bad \ud800 text");
  },
  reject: async () => {
    await delay(1);
    throw new globalThis.Error("async boom");
  },
  // TaskDaemon-style: `Error` here is the package's result class, thrown rather than returned.
  "throw-result": () => {
    throw new Error("refused", { retryable: true, retryAfter: 2 });
  },

  nothing: () => {},
  null: () => null,
  "async-nothing": async () => {
    await delay(1);
  },
  "invalid-return": () => ({ status: "success", result: 1 }),
  "string-return": () => "done",

  nan: () => new Success({ values: [1, 2, NaN] }),
  "metadata-infinity": () => new Success(1, { metadata: { rate: Infinity } }),
  bigint: () => new Success({ n: 10n }),
  circular: () => {
    const node = { name: "loop" };
    node.self = node;
    return new Success(node);
  },
  "lone-surrogate": () => new Success("\ud800"),
  map: () => new Success(new Map([["a", 1]])),

  "error-bare-boolean": () => new TaskError("try later", true),
  "error-options": () =>
    new TaskError("upstream returned 503", { retryable: true, errorType: "UpstreamUnavailable", retryAfter: 5, metadata: { tries: 3 } }),
  "success-metadata": () => new Success([1, 2], { metadata: { ms: 12 } }),

  events: (task) => {
    task.log("starting");
    task.progress(0.5, "halfway");
    task.log("details", "debug");
    task.progress(1);
    return new Success("done");
  },
  "bad-level": (task) => {
    task.log("loud", "critical");
  },
  // An event after the result would be for a task the daemon no longer has in hand: it is dropped.
  "late-event": (task) => {
    setTimeout(() => task.log("too late"), 5);
    return new Success("early");
  },
  // A promise nobody awaits rejects: logged to stderr, and the process keeps serving.
  "forgotten-promise": () => {
    Promise.reject(new globalThis.Error("forgotten"));
    return new Success("ok");
  },

  // For the SIGTERM tests: says on stderr that it started, so the test knows a task is in hand.
  slow: async (task) => {
    process.stderr.write(`slow task ${task.task_id} started\n`);
    await delay(task.task_data.ms ?? 1000);
    return new Success("finished");
  },
});
