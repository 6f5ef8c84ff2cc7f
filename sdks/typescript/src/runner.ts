/**
 * Running handlers: dispatch by task type, turning whatever a handler does into exactly one result line,
 * and the `run()` loop that serves tasks from stdin one at a time, in order.
 */

import { protectStdout, writeLine } from "./channel.js";
import { escapeLoneSurrogates as asText, typeNameOf } from "./describe.js";
import { TaskDaemonError } from "./errors.js";
import { isSuccess, isTaskError, Success, TaskError, type HandlerResult } from "./results.js";
import { bindEvents, Task, unbindEvents, type EventSink, type TaskData } from "./task.js";
import { encode, LineSplitter, parseLine, UnserialisableError } from "./wire.js";

/**
 * A handler function: given a task, it returns (or resolves to) a `Success`, a `TaskError`, or nothing,
 * which answers `Success(null)`. What it throws becomes a non-retryable error result.
 */
export type Handler<Data extends object = TaskData> = (task: Task<Data>) => HandlerResult | Promise<HandlerResult>;

/** Handlers by task type, for a program that serves several types (`any`: each may type its own task_data). */
export type HandlerMap = { readonly [taskType: string]: Handler<any> };

/** Finds the handler function for a task type, or says why there is none. */
type Dispatch = (taskType: string) => Handler<object> | TaskError;

/** Check `handler` once, up front, and return how to find the function for each task type. */
export function makeDispatch(handler: unknown): Dispatch {
  if (typeof handler === "function") return () => handler as Handler<object>;
  if (typeof handler !== "object" || handler === null || Array.isArray(handler)) {
    throw new TaskDaemonError(
      `handler must be a function or an object from task type to function, got ${typeNameOf(handler)}`,
    );
  }
  const table = handler as Record<string, unknown>;
  const known = Object.keys(table).sort();
  if (known.length === 0) throw new TaskDaemonError("handler object is empty: give at least one task type");
  for (const taskType of known) {
    if (typeof table[taskType] !== "function") {
      throw new TaskDaemonError(`handler for task type ${JSON.stringify(taskType)} must be a function, got ${typeNameOf(table[taskType])}`);
    }
  }
  return (taskType) => {
    // Own keys only: "toString" or "__proto__" must not find Object.prototype's members.
    if (Object.hasOwn(table, taskType)) return table[taskType] as Handler<object>;
    const serves = known.map((name) => JSON.stringify(name)).join(", ");
    return new TaskError(`no handler for task_type ${JSON.stringify(taskType)}; this handler serves: ${serves}`, {
      errorType: "UnknownTaskType",
    });
  };
}

/** A handler's answer, checked: what it returned, or InvalidReturn. */
function toResult(returned: unknown): Success | TaskError {
  if (returned === undefined || returned === null) return new Success(null);
  if (isSuccess(returned) || isTaskError(returned)) return returned;
  return new TaskError(`the handler returned ${typeNameOf(returned)}; return Success(...), Error(...) or undefined`, {
    errorType: "InvalidReturn",
  });
}

/** The name to put in `error_type` for an Error: its `name`, or its class when `name` is the generic one. */
function errorTypeOf(err: object): string {
  const name = (err as { name?: unknown }).name;
  const className = typeNameOf(err);
  if (typeof name === "string" && name !== "" && (name !== "Error" || className === "Object")) return name;
  return className === "Object" ? "Error" : className;
}

/** What an exception escaping a handler becomes: a non-retryable error with its type and stack. */
function fromException(err: unknown): TaskError {
  // A TaskDaemon-style handler may `throw new Error(...)` with `Error` imported from this package: that is
  // an answer, not a crash, so it is sent as it is.
  if (isTaskError(err)) return err;
  if (typeof err === "object" && err !== null && "message" in err) {
    const errorType = errorTypeOf(err);
    const rawMessage = (err as { message?: unknown }).message;
    const message = typeof rawMessage === "string" && rawMessage !== "" ? rawMessage : errorType;
    const stack = (err as { stack?: unknown }).stack;
    return new TaskError(asText(message), {
      errorType: asText(errorType),
      traceback: typeof stack === "string" ? asText(stack) : undefined,
    });
  }
  // `throw "text"`, `throw 42`, `throw { code: 1 }`: no class, no stack; show the value.
  let text: string;
  try {
    if (typeof err === "string") text = err;
    else if (typeof err === "object" && err !== null) text = `${typeNameOf(err)} ${JSON.stringify(err)}`;
    else text = `${typeof err} ${String(err)}`;
  } catch {
    text = typeNameOf(err);
  }
  return new TaskError(asText(`the handler threw a non-Error value: ${text}`), { errorType: "NonError" });
}

/** A task's answer: the result, and the exact line `run()` writes for it (JSON, without LF). */
export interface Answer {
  result: Success | TaskError;
  line: string;
}

/** Encode `result` for `taskId`; a result JSON cannot carry becomes an UnserialisableResult error. */
function encodeAnswer(result: Success | TaskError, taskId: string | undefined): Answer {
  let message: object = {};
  try {
    message = result.toMessage(taskId);
    return { result, line: encode(message) };
  } catch (err) {
    const detail = err instanceof UnserialisableError ? err.message : String(err);
    const part = firstUnencodable(message);
    const refused = new TaskError(`${part} is not JSON-serialisable: ${detail}`, { errorType: "UnserialisableResult" });
    // Plain JSON.stringify: this message holds only strings, and it escapes any lone surrogate.
    return { result: refused, line: JSON.stringify(refused.toMessage(taskId)) };
  }
}

/** The field of `message` that cannot be encoded ("result", "metadata", "error"...), as every SDK names it. */
function firstUnencodable(message: object): string {
  for (const [name, value] of Object.entries(message)) {
    try {
      encode({ [name]: value });
    } catch {
      return name;
    }
  }
  return "result";
}

/**
 * Run the handler on one task and return its answer. Never throws: whatever the handler does (returns,
 * throws, rejects, returns something odd) ends as exactly one answer. This is the one code path both
 * `run()` and `call()` (taskdaemon/testing) use.
 */
export async function answer(dispatch: Dispatch, task: Task<object>, emit: EventSink): Promise<Answer> {
  return answerNow(dispatch, task, emit);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === "object" || typeof value === "function") &&
    value !== null &&
    typeof (value as { then?: unknown }).then === "function"
  );
}

/**
 * `answer()` without the promise when the handler answers synchronously, so that `run()` writes a sync
 * handler's answer in the same turn of the event loop as its task arrived (a promise per task was a
 * large share of the SDK's cost per task). An async handler's answer comes as a promise.
 */
export function answerNow(dispatch: Dispatch, task: Task<object>, emit: EventSink): Answer | Promise<Answer> {
  bindEvents(task, emit);
  let result: Success | TaskError;
  try {
    const found = dispatch(task.task_type);
    if (typeof found === "function") {
      const returned = found(task);
      if (isThenable(returned)) return settle(returned, task);
      result = toResult(returned);
    } else {
      result = found;
    }
  } catch (err) {
    result = fromException(err);
  }
  unbindEvents(task);
  return encodeAnswer(result, task.task_id);
}

/** The answer of an async handler, once its promise settles. */
async function settle(pending: PromiseLike<unknown>, task: Task<object>): Promise<Answer> {
  let result: Success | TaskError;
  try {
    result = toResult(await pending);
  } catch (err) {
    result = fromException(err);
  } finally {
    unbindEvents(task);
  }
  return encodeAnswer(result, task.task_id);
}

/** The answer to a line that is not a task. */
function invalidLineAnswer(errorType: string, message: string, taskId: string | undefined): string {
  return JSON.stringify(new TaskError(message, { errorType }).toMessage(taskId));
}

/** Whether `run()` is serving, so a second call is refused. */
let running = false;

/**
 * Serve tasks from stdin until EOF, one at a time and in order (an async handler is awaited before the
 * next line is read), writing each answer to stdout at once.
 *
 * - `handler`: a function (sync or async), or an object from task type to function.
 * - A handler that returns nothing (undefined or null) answers `Success(null)`: `{"result": null}`.
 * - While it serves, `process.stdout.write` and `console.log` go to stderr; only results and events are
 *   written to stdout.
 * - SIGTERM or SIGINT: idle, the process exits 0 at once; with a task in hand, it finishes the task, writes
 *   its result, and exits 0 without reading another line.
 * - A promise rejection nobody handled is logged to stderr instead of killing the process, so one
 *   forgotten promise does not lose the tasks after it.
 *
 * The returned promise resolves at EOF, after the last answer is written.
 *
 * @throws TaskDaemonError (synchronously) when `handler` is neither a function nor such an object, or when
 *   `run()` is already serving.
 */
export function run<Data extends object = TaskData>(handler: Handler<Data> | HandlerMap): Promise<void> {
  const dispatch = makeDispatch(handler);
  if (running) throw new TaskDaemonError("run() is already serving this process's stdin");
  running = true;
  protectStdout();
  return serve(dispatch);
}

async function serve(dispatch: Dispatch): Promise<void> {
  let busy = false;
  let stopRequested = false;
  const stop = (): void => {
    if (busy) stopRequested = true; // handleLine exits once the task in hand is answered
    else process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  process.on("unhandledRejection", (reason) => {
    let text: string;
    try {
      text = reason instanceof globalThis.Error ? (reason.stack ?? reason.message) : String(reason);
    } catch {
      text = typeNameOf(reason);
    }
    process.stderr.write(`[taskdaemon] unhandled promise rejection (the task goes on): ${text}\n`);
  });

  const emit: EventSink = (event) => writeLine(JSON.stringify(event));

  const answered = (answer: Answer): void => {
    try {
      writeLine(answer.line);
    } finally {
      busy = false;
    }
    if (stopRequested) process.exit(0);
  };

  /** Answer one line: at once for a sync handler, or a promise settled once an async one has answered. */
  const handleLine = (bytes: Buffer): Promise<void> | undefined => {
    const parsed = parseLine(bytes);
    if (parsed.kind === "blank") return undefined;
    if (parsed.kind === "invalid") {
      writeLine(invalidLineAnswer(parsed.errorType, parsed.message, parsed.taskId));
      return undefined;
    }
    busy = true;
    let pending: Answer | Promise<Answer>;
    try {
      pending = answerNow(dispatch, new Task(parsed.fields), emit);
    } catch (err) {
      busy = false;
      throw err;
    }
    if (pending instanceof Promise) return pending.then(answered);
    answered(pending);
    return undefined;
  };

  const fail = (err: unknown): void => {
    // Only the pipes themselves fail here (handlers' errors are answers): stdin unreadable, or stdout
    // closed by the daemon (EPIPE). No answer can be delivered any more, so stop, and say why.
    const reason = err instanceof globalThis.Error ? (err.stack ?? err.message) : String(err);
    process.stderr.write(`[taskdaemon] the protocol channel failed, stopping: ${reason}\n`);
    process.exit(1);
  };

  // Lines are read with 'data' events (an async iterator costs a promise per chunk) and handled strictly in
  // order: while an async handler works, stdin is paused, and the lines after it wait their turn.
  const stdin = process.stdin;
  const splitter = new LineSplitter();
  let lines: Buffer[] = [];
  let next = 0;
  let inFlight: Promise<void> | undefined;
  const drain = (): void => {
    inFlight = undefined;
    try {
      while (next < lines.length) {
        const line = lines[next] as Buffer;
        next += 1;
        const pending = handleLine(line);
        if (pending !== undefined) {
          stdin.pause();
          inFlight = pending.then(drain, fail);
          return;
        }
      }
    } catch (err) {
      fail(err);
      return;
    }
    if (stdin.isPaused()) stdin.resume();
  };
  await new Promise<void>((resolve) => {
    stdin.on("data", (chunk: Buffer) => {
      lines = splitter.push(chunk);
      next = 0;
      drain();
    });
    stdin.on("error", fail);
    stdin.on("end", () => {
      void (async () => {
        while (inFlight !== undefined) await inFlight;
        const last = splitter.finish();
        if (last !== undefined) await handleLine(last);
        resolve();
      })().catch(fail);
    });
  });
}
