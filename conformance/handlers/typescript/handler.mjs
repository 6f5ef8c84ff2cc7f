// The conformance handler for the TypeScript SDK: one behaviour per task_type (see conformance/README.md).
//
// Plain JavaScript (ESM) on the built SDK: `npm ci --offline` here links node_modules/taskdaemon to
// sdks/typescript (package.json: "taskdaemon": "file:../../../sdks/typescript"); the image installs the
// SDK's npm pack tarball instead.
import { setTimeout as delay } from "node:timers/promises";

import { run, Success, TaskError } from "taskdaemon";

// Thrown by the `raise` task type; every SDK's handler raises a class of this name.
class ConformanceError extends Error {
  constructor(message) {
    super(message);
    this.name = "ConformanceError";
  }
}

const handlers = {
  echo: (task) => new Success(task.task_data),
  value: (task) => new Success(task.task_data.value),
  attempt: (task) => new Success(task.attempt),
  fail: (task) => {
    const data = task.task_data;
    return new TaskError(data.message, {
      retryable: data.retryable ?? false,
      errorType: data.error_type,
      retryAfter: data.retry_after,
      metadata: data.metadata,
    });
  },
  metadata: (task) => new Success(task.task_data.result, { metadata: task.task_data.metadata }),
  raise: (task) => {
    throw new ConformanceError(task.task_data.message ?? "");
  },
  unserialisable: (task) => {
    const where = task.task_data.where ?? "result";
    if (where === "nested") return new Success({ ok: [1, { bad: Infinity }] });
    if (where === "metadata") return new Success("fine", { metadata: { bad: NaN } });
    if (where === "string") return new Success({ text: "lone surrogate \ud800" });
    return new Success(NaN);
  },
  "invalid-return": () => ({ status: "success", result: "not a Success" }),
  noise: (task) => {
    const line = task.task_data.line;
    console.log(line);
    process.stdout.write(`${line}\n`);
    console.error(task.task_data.stderr ?? "noise on stderr");
    return new Success("quiet");
  },
  // Asynchronous on purpose: the SDK must still answer strictly in order.
  sleep: async (task) => {
    await delay(task.task_data.ms);
    return new Success({ slept_ms: task.task_data.ms });
  },
  exit: (task) => process.exit(task.task_data.code),
  large: (task) => new Success("x".repeat(task.task_data.bytes)),
  events: (task) => {
    for (const event of task.task_data.events) {
      if ("log" in event) task.log(event.log, event.level ?? "info");
      else task.progress(event.progress, event.message);
    }
    return new Success("done");
  },
  none: () => undefined,
  dependencies: (task) => new Success(task.dependencies),
};

run(handlers);
