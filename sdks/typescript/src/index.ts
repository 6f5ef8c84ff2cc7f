/**
 * TaskDaemon handlers in TypeScript and JavaScript.
 *
 * @example
 * import { run, Success, type Task } from "taskdaemon";
 * run((task: Task) => new Success({ message: `Hello, ${task.task_data.name ?? "World"}!` }));
 *
 * This file is the whole public surface; the modules beside it are private.
 */

export { run } from "./runner.js";
export type { Handler, HandlerMap } from "./runner.js";
export { Task, LOG_LEVELS } from "./task.js";
export type {
  Dependencies,
  Dependency,
  EventMessage,
  LogEvent,
  LogLevel,
  ProgressEvent,
  TaskData,
  TaskFields,
} from "./task.js";
// `TaskError` is also exported as `Error`, the name TaskDaemon's Node SDK uses, so its handlers run unchanged.
// Importing it under that name shadows the global Error in that file, which is what such handlers expect.
// Results are built one way, `new Success(...)` and `new TaskError(...)`; `success()` and `error()` are
// deprecated aliases of those constructors, kept so that handlers written with them keep working.
export { Success, TaskError, TaskError as Error, success, error, isSuccess, isTaskError } from "./results.js";
export type {
  ErrorMessage,
  HandlerResult,
  Metadata,
  ResultMessage,
  SuccessMessage,
  SuccessOptions,
  TaskErrorOptions,
} from "./results.js";
export { TaskDaemonError, isTaskDaemonError } from "./errors.js";
