/** The two answers a handler can give, `Success` and `TaskError`, and their wire form. */

import { isObject, jsonTypeName } from "./describe.js";
import { TaskDaemonError } from "./errors.js";

/** Tags results so they are recognised even when they come from another copy of the package. */
const KIND: unique symbol = Symbol.for("taskdaemon.result") as never;

/** Figures about a run (durations, counts, versions) that the daemon keeps beside the result. */
export type Metadata = Record<string, unknown>;

/** Options of `new Success()`. */
export interface SuccessOptions {
  /** Figures about the run, kept with the result but not part of it. */
  metadata?: Metadata | undefined;
}

/** Options of `new TaskError()`. */
export interface TaskErrorOptions {
  /** True when a later attempt may succeed (a dependency was down). Default false. */
  retryable?: boolean | undefined;
  /** A short machine-readable category, e.g. "UpstreamUnavailable". */
  errorType?: string | undefined;
  /** Seconds the daemon should wait before the next attempt (a finite number >= 0). */
  retryAfter?: number | undefined;
  /** Figures about the run, kept with the result. */
  metadata?: Metadata | undefined;
  /** The stack trace behind the error; set by the SDK for exceptions a handler throws. */
  traceback?: string | undefined;
}

/** The wire form of a result: the object `run()` writes as one JSON line. */
export type ResultMessage = SuccessMessage | ErrorMessage;

/** `{"status":"success","result":...}` with `task_id` and `metadata` when known. */
export interface SuccessMessage {
  status: "success";
  result: unknown;
  task_id?: string;
  metadata?: Metadata;
}

/** `{"status":"error","error":...,"retryable":...}` with the optional fields when known. */
export interface ErrorMessage {
  status: "error";
  error: string;
  retryable: boolean;
  task_id?: string;
  error_type?: string;
  retry_after?: number;
  traceback?: string;
  metadata?: Metadata;
}

function checkMetadata(metadata: unknown): Metadata | undefined {
  if (metadata === undefined) return undefined;
  if (!isObject(metadata)) {
    throw new TaskDaemonError(`metadata must be an object, got ${jsonTypeName(metadata)}`);
  }
  return metadata;
}

function checkOptions(options: unknown, what: string): Record<string, unknown> {
  if (options === undefined) return {};
  if (!isObject(options)) {
    throw new TaskDaemonError(`${what} options must be an object, got ${jsonTypeName(options)}`);
  }
  return options;
}

/**
 * The task was done; `result` is its value (any JSON value, `null` included).
 *
 * @example
 * return new Success({ count: 3 }, { metadata: { ms: 12 } });
 */
export class Success<T = unknown> {
  /** The task's output. */
  readonly result: T;
  /** Figures about the run, when given. */
  readonly metadata: Metadata | undefined;
  readonly [KIND] = "success";

  constructor(result?: T, options?: SuccessOptions) {
    // `new Success()` means "done, nothing to report": null on the wire, as for a handler returning nothing.
    this.result = (result === undefined ? null : result) as T;
    this.metadata = checkMetadata(checkOptions(options, "Success").metadata);
  }

  /** The result message, in wire order, with `task_id` when given. */
  toMessage(taskId?: string): SuccessMessage {
    const message: SuccessMessage = { status: "success", result: this.result };
    if (taskId !== undefined) message.task_id = taskId;
    if (this.metadata !== undefined) message.metadata = this.metadata;
    return message;
  }
}

/**
 * The task was not done; `error` says why.
 *
 * Exported as both `TaskError` and `Error` (the name TaskDaemon's Node SDK uses). The second argument is
 * an options object, or a bare boolean meaning `retryable` (TaskDaemon's own signature).
 *
 * It is a result to return, not an exception to throw. (A handler that throws one anyway gets it sent
 * as its answer, unchanged.)
 *
 * @example
 * return new TaskError("upstream returned 503", { retryable: true, retryAfter: 5 });
 */
export class TaskError {
  /** The human-readable message. */
  readonly error: string;
  /** True when a later attempt may succeed. */
  readonly retryable: boolean;
  /** A short machine-readable category, when given. */
  readonly errorType: string | undefined;
  /** Seconds to wait before the next attempt, when given. */
  readonly retryAfter: number | undefined;
  /** Figures about the run, when given. */
  readonly metadata: Metadata | undefined;
  /** The stack trace behind the error, when there is one. */
  readonly traceback: string | undefined;
  readonly [KIND] = "error";

  constructor(message: string, options?: TaskErrorOptions | boolean) {
    if (typeof message !== "string") {
      throw new TaskDaemonError(`error message must be a string, got ${jsonTypeName(message)}`);
    }
    const opts = typeof options === "boolean" ? { retryable: options } : checkOptions(options, "TaskError");
    this.error = message;
    this.retryable = checkRetryable(opts.retryable);
    this.errorType = checkErrorType(opts.errorType);
    this.retryAfter = checkRetryAfter(opts.retryAfter);
    this.metadata = checkMetadata(opts.metadata);
    this.traceback = checkTraceback(opts.traceback);
  }

  /** The message `error` as well, under the name JavaScript errors use. */
  get message(): string {
    return this.error;
  }

  /**
   * The result message, in wire order, with `task_id` when given. `retryable` is always written, so a
   * reader never has to know its default.
   */
  toMessage(taskId?: string): ErrorMessage {
    const message: ErrorMessage = { status: "error", error: this.error, retryable: this.retryable };
    if (taskId !== undefined) message.task_id = taskId;
    if (this.errorType !== undefined) message.error_type = this.errorType;
    if (this.retryAfter !== undefined) message.retry_after = this.retryAfter;
    if (this.traceback !== undefined) message.traceback = this.traceback;
    if (this.metadata !== undefined) message.metadata = this.metadata;
    return message;
  }
}

function checkRetryable(value: unknown): boolean {
  if (value === undefined) return false;
  if (typeof value !== "boolean") {
    throw new TaskDaemonError(`retryable must be a boolean, got ${jsonTypeName(value)}`);
  }
  return value;
}

function checkErrorType(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value === "") {
    throw new TaskDaemonError(`errorType must be a non-empty string, got ${value === "" ? "an empty string" : jsonTypeName(value)}`);
  }
  return value;
}

function checkRetryAfter(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    const shown = typeof value === "number" ? String(value) : jsonTypeName(value);
    throw new TaskDaemonError(`retryAfter must be a finite number of seconds >= 0, got ${shown}`);
  }
  return value;
}

function checkTraceback(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string") {
    throw new TaskDaemonError(`traceback must be a string, got ${jsonTypeName(value)}`);
  }
  return value;
}

/**
 * `new Success(result, options)` under another name.
 *
 * @deprecated Write `new Success(result, options)`, the one documented way. This alias stays so that
 * handlers written with it keep working; it builds exactly the same `Success`.
 */
export function success<T>(result?: T, options?: SuccessOptions): Success<T> {
  return new Success(result, options);
}

/**
 * `new TaskError(message, options)` under another name; `error(message, true)` (a bare boolean for
 * `retryable`) works too.
 *
 * @deprecated Write `new TaskError(message, options)`, the one documented way. This alias stays so that
 * handlers written with it keep working; it builds exactly the same `TaskError`.
 */
export function error(message: string, options?: TaskErrorOptions | boolean): TaskError {
  return new TaskError(message, options);
}

/** Whether `value` is a `Success`, from this copy of the package or another. */
export function isSuccess(value: unknown): value is Success {
  return value instanceof Success || kindOf(value) === "success";
}

/** Whether `value` is a `TaskError`, from this copy of the package or another. */
export function isTaskError(value: unknown): value is TaskError {
  return value instanceof TaskError || kindOf(value) === "error";
}

function kindOf(value: unknown): unknown {
  return typeof value === "object" && value !== null ? (value as Record<symbol, unknown>)[KIND] : undefined;
}

/** What a handler may give back: a result, or nothing for `Success(null)`. */
export type HandlerResult = Success | TaskError | undefined | null | void;
