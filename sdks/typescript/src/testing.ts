/**
 * Helpers for testing handlers without a daemon: `call()` runs a handler on one task, in this process,
 * through the same code path as `run()`, and tells you everything it did.
 *
 * @example
 * import { call } from "taskdaemon/testing";
 * const outcome = await call(handler, { name: "Ada" });
 * assert.deepEqual(outcome.message, { status: "success", result: { message: "Hello, Ada!" }, task_id: "test-task" });
 */

import { captureStdout } from "./channel.js";
import type { ResultMessage, Success, TaskError } from "./results.js";
import { answer, makeDispatch, type Handler, type HandlerMap } from "./runner.js";
import { Task, type Dependency, type EventMessage, type TaskData } from "./task.js";

/** Everything a handler did with one task. */
export interface Outcome {
  /** The answer: a `Success` or a `TaskError` (an exception, a bad return or an unserialisable result become one). */
  result: Success | TaskError;
  /** True when the answer is a success. */
  ok: boolean;
  /** The result message exactly as `run()` would write it, parsed back from its JSON line. */
  message: ResultMessage;
  /** The log and progress events the handler emitted, in order. */
  events: EventMessage[];
  /** What the handler wrote with `console.log` / `process.stdout.write` (under `run()` it goes to stderr). */
  output: string;
}

/** The task fields other than task_data, for `call()`. */
export interface CallOptions {
  /** Default "test". */
  taskType?: string;
  /** Default "test-task". */
  taskId?: string;
  /** Default 0 (the first attempt). */
  attempt?: number;
  /** Default {} (no tags). */
  tags?: Record<string, string>;
  /**
   * Default {} (no dependencies): the tasks this one waited for, by name, each with its result:
   * `{ load: { task_id: "t1", task_type: "fetch", result: { rows: 42 } } }`.
   */
  dependencies?: Record<string, Dependency>;
}

/** Calls run one after another: each captures process.stdout, which is one per process. */
let previousCall: Promise<unknown> = Promise.resolve();

/**
 * Run `handler` on a task built from `taskData` and the options, with the same dispatch, exception and
 * serialisation rules as `run()`, and return the `Outcome`.
 *
 * @throws TaskDaemonError when the handler or a task field is not acceptable (the same checks as `run()`
 *   and the protocol make).
 */
export async function call<Data extends object = TaskData>(
  handler: Handler<Data> | HandlerMap,
  taskData: Data | Record<string, never> = {},
  { taskType = "test", taskId = "test-task", attempt = 0, tags = {}, dependencies = {} }: CallOptions = {},
): Promise<Outcome> {
  const dispatch = makeDispatch(handler);
  const task = new Task<object>({ task_id: taskId, task_type: taskType, task_data: taskData, attempt, tags, dependencies });
  const mine = previousCall.then(async () => {
    const events: EventMessage[] = [];
    // Events are kept as they would be read from the wire: decoded copies, not the objects passed around.
    const record = (event: EventMessage): void => {
      events.push(JSON.parse(JSON.stringify(event)) as EventMessage);
    };
    const { value, output } = await captureStdout(() => answer(dispatch, task, record));
    const message = JSON.parse(value.line) as ResultMessage;
    return { result: value.result, ok: message.status === "success", message, events, output };
  });
  previousCall = mine.catch(() => undefined);
  return mine;
}
