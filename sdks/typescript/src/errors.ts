/**
 * The exceptions the SDK itself throws when it is used wrongly.
 *
 * They are programming errors in the handler (a bad log level, a progress of 2, a handler that is not a
 * function), never answers to a task: an answer is a `TaskError` result, which is a different thing.
 */

/** Marks SDK errors so the guard works even when two copies of the package (ESM and CJS) are loaded. */
const BRAND: unique symbol = Symbol.for("taskdaemon.TaskDaemonError") as never;

/**
 * Thrown when the SDK is called with an argument it cannot accept. The message starts with
 * `[taskdaemon]` and names the argument and what was wrong with it.
 *
 * Thrown inside a handler, it becomes an error result like any other exception, with
 * `error_type` `"TaskDaemonError"`.
 */
export class TaskDaemonError extends globalThis.Error {
  override readonly name: string = "TaskDaemonError";
  readonly [BRAND] = true;

  constructor(message: string, options?: { cause?: unknown }) {
    super(`[taskdaemon] ${message}`, options);
  }
}

/**
 * Whether `value` is an error thrown by the SDK (a `TaskDaemonError`).
 *
 * Checks a brand rather than only `instanceof`, so it also recognises errors from another copy of the
 * package (the CommonJS build when you imported the ES module, or a second install).
 *
 * @example
 * try { task.progress(2); } catch (err) { if (isTaskDaemonError(err)) console.error(err.message); }
 */
export function isTaskDaemonError(value: unknown): value is TaskDaemonError {
  return (
    value instanceof TaskDaemonError ||
    (typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[BRAND] === true)
  );
}
