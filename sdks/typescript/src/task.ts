/** The task a handler receives, the checks on its fields, and the events it can emit. */

import { hasLoneSurrogate, isObject, jsonTypeName } from "./describe.js";
import { TaskDaemonError } from "./errors.js";

/** Log levels of a `log` event, lowest first (protocol section 5). */
export const LOG_LEVELS = ["debug", "info", "warning", "error"] as const;

/** A log level: "debug", "info", "warning" or "error". */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** `{"event":"log","task_id":...,"level":...,"message":...}` */
export interface LogEvent {
  event: "log";
  task_id: string;
  level: LogLevel;
  message: string;
}

/** `{"event":"progress","task_id":...,"progress":...}` with `message` when given. */
export interface ProgressEvent {
  event: "progress";
  task_id: string;
  progress: number;
  message?: string;
}

/** An event message, written to the daemon before the task's result. */
export type EventMessage = LogEvent | ProgressEvent;

/** Where a task's events go. */
export type EventSink = (event: EventMessage) => void;

/** The submitter's input: a JSON object. */
// `any` values, so `task.task_data.name` reads without a cast; narrow it yourself where it matters.
export type TaskData = Record<string, any>;

/**
 * A task this task waited for, and the result it completed with (protocol section 3.1): one value of
 * `task.dependencies`.
 */
// `result` defaults to `any`, as task_data's values do, so `dependencies.load.result.rows` reads without a
// cast; give the type (`Dependency<{ rows: number }>`) or narrow it where it matters.
export interface Dependency<Result = any> {
  /** The dependency's task id. */
  readonly task_id: string;
  /** The dependency's task type. */
  readonly task_type: string;
  /** The `result` of the dependency's success: any JSON value (`null` when its handler returned nothing). */
  readonly result: Result;
}

/** A task's dependencies by name: a workflow step's name, else the dependency's task id. */
export type Dependencies = Readonly<Record<string, Dependency>>;

/** The four fields of a task message (protocol section 3), and the optional ones. */
export interface TaskFields<Data extends object = TaskData> {
  task_id: string;
  task_type: string;
  task_data: Data;
  attempt: number;
  /** Optional: the submitter's labels for the task (string to string). */
  tags?: Record<string, string>;
  /** Optional: the tasks this task waited for, by name (protocol section 3.1). */
  dependencies?: Record<string, Dependency>;
}

function textProblem(name: string, value: unknown): string | undefined {
  if (value === undefined) return `${name} is missing`;
  if (typeof value !== "string") return `${name} must be a string, got ${jsonTypeName(value)}`;
  if (value === "") return `${name} must not be empty`;
  // A JSON "\ud800" escape decodes to a lone surrogate: not text, and impossible to echo as UTF-8.
  if (hasLoneSurrogate(value)) return `${name} must be valid Unicode text, got a lone surrogate`;
  return undefined;
}

/** What is wrong with a task_id (a non-empty string of valid Unicode), or undefined. */
export function taskIdProblem(value: unknown): string | undefined {
  return textProblem("task_id", value);
}

/** What is wrong with a task_type (a non-empty string of valid Unicode), or undefined. */
export function taskTypeProblem(value: unknown): string | undefined {
  return textProblem("task_type", value);
}

/** What is wrong with task_data (an object), or undefined. */
export function taskDataProblem(value: unknown): string | undefined {
  if (value === undefined) return "task_data is missing";
  if (!isObject(value)) return `task_data must be an object, got ${jsonTypeName(value)}`;
  return undefined;
}

/**
 * What is wrong with an attempt (an integer >= 0, never a boolean), or undefined.
 *
 * JSON.parse turns `1.0` into 1, so `1.0` is accepted: the spec allows it (section 3).
 */
export function attemptProblem(value: unknown): string | undefined {
  if (value === undefined) return "attempt is missing";
  if (typeof value !== "number" || !Number.isInteger(value)) {
    const shown = typeof value === "number" ? ` ${value}` : "";
    return `attempt must be an integer, got ${jsonTypeName(value)}${shown}`;
  }
  if (value < 0) return `attempt must be >= 0, got ${value}`;
  return undefined;
}

/** What is wrong with tags (absent, or an object whose values are strings), or undefined. */
export function tagsProblem(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value)) return `tags must be an object, got ${jsonTypeName(value)}`;
  for (const [key, tag] of Object.entries(value)) {
    if (typeof tag !== "string") return `tags[${JSON.stringify(key)}] must be a string, got ${jsonTypeName(tag)}`;
  }
  return undefined;
}

const DEPENDENCY_MEMBERS = ["task_id", "task_type", "result"] as const;

/**
 * What is wrong with dependencies (absent, or an object of name to an object with task_id, task_type and
 * result), or undefined.
 */
export function dependenciesProblem(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value)) return `dependencies must be an object, got ${jsonTypeName(value)}`;
  for (const [name, entry] of Object.entries(value)) {
    const where = `dependencies[${JSON.stringify(name)}]`;
    if (!isObject(entry)) return `${where} must be an object, got ${jsonTypeName(entry)}`;
    const missing = DEPENDENCY_MEMBERS.find((member) => !Object.prototype.hasOwnProperty.call(entry, member));
    if (missing !== undefined) return `${where}.${missing} is missing`;
    const problem = textProblem(`${where}.task_id`, entry["task_id"]) ?? textProblem(`${where}.task_type`, entry["task_type"]);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

/** The dependencies of a task that has none. */
const NO_DEPENDENCIES: Dependencies = Object.freeze({});

/** Frozen copies of checked dependencies, each holding only the three protocol members. */
function frozenDependencies(value: Record<string, Dependency> | undefined): Dependencies {
  if (value === undefined) return NO_DEPENDENCIES;
  // Object.fromEntries defines each name as an own property, "__proto__" included.
  return Object.freeze(
    Object.fromEntries(
      Object.entries(value).map(([name, { task_id, task_type, result }]) => [name, Object.freeze({ task_id, task_type, result })]),
    ),
  );
}

/** The first thing wrong with a task's fields, or undefined when they make a valid task. */
export function taskProblem(fields: Record<string, unknown>): string | undefined {
  return (
    taskIdProblem(fields["task_id"]) ??
    taskTypeProblem(fields["task_type"]) ??
    taskDataProblem(fields["task_data"]) ??
    attemptProblem(fields["attempt"]) ??
    tagsProblem(fields["tags"]) ??
    dependenciesProblem(fields["dependencies"])
  );
}

/** The sink of each task being handled; absent once its result is written. */
const sinks = new WeakMap<Task<object>, EventSink>();

/** Tasks that had a sink once, so a late event can be told apart from one on a hand-built Task. */
const boundOnce = new WeakSet<Task<object>>();

/** Send `task`'s events to `sink` until `unbindEvents(task)`. */
export function bindEvents(task: Task<object>, sink: EventSink): void {
  sinks.set(task, sink);
  boundOnce.add(task);
}

/** Stop sending `task`'s events: its result is written, the daemon has moved on. */
export function unbindEvents(task: Task<object>): void {
  sinks.delete(task);
}

/**
 * One unit of work, as the daemon sent it. The fields keep the protocol's names, so handlers written for
 * TaskDaemon's Node SDK run unchanged.
 *
 * `attempt` is zero-based: the first run is 0, the first retry 1. `tags` are the submitter's labels for the
 * task (string to string; `{}` when it has none). `dependencies` are the tasks this one waited for, by name (a
 * workflow step's name, else the dependency's task id), each with the `result` it completed with; frozen, `{}`
 * when the task has none.
 *
 * `log()` and `progress()` send events to the daemon at once, before the result. A Task built by hand has
 * nowhere to send them: they are checked, then dropped. Use `call()` from `taskdaemon/testing` to run a
 * handler and see its events.
 */
export class Task<Data extends object = TaskData> {
  /** Opaque identifier, unique within the daemon's queue. */
  readonly task_id: string;
  /** The kind of work. */
  readonly task_type: string;
  /** The submitter's input. */
  readonly task_data: Data;
  /** Zero-based attempt number. */
  readonly attempt: number;
  /** The submitter's labels, `{}` when none. */
  readonly tags: Readonly<Record<string, string>>;
  /** The tasks this one waited for, by name, `{}` when none. */
  readonly dependencies: Dependencies;

  constructor(fields: TaskFields<Data>) {
    if (!isObject(fields)) {
      throw new TaskDaemonError(`Task fields must be an object, got ${jsonTypeName(fields)}`);
    }
    const problem = taskProblem(fields as unknown as Record<string, unknown>);
    if (problem !== undefined) throw new TaskDaemonError(problem);
    this.task_id = fields.task_id;
    this.task_type = fields.task_type;
    this.task_data = fields.task_data;
    this.attempt = fields.attempt;
    this.tags = Object.freeze({ ...(fields.tags ?? {}) });
    this.dependencies = frozenDependencies(fields.dependencies);
  }

  /**
   * Send a log line about this task to the daemon, at once.
   *
   * @param level "debug", "info" (the default), "warning" or "error".
   */
  log(message: string, level: LogLevel = "info"): void {
    if (typeof message !== "string") {
      throw new TaskDaemonError(`log message must be a string, got ${jsonTypeName(message)}`);
    }
    if (!(LOG_LEVELS as readonly unknown[]).includes(level)) {
      throw new TaskDaemonError(`log level must be one of ${LOG_LEVELS.join(", ")}; got ${JSON.stringify(level) ?? String(level)}`);
    }
    this.send({ event: "log", task_id: this.task_id, level, message });
  }

  /**
   * Tell the daemon how far this task has got, at once.
   *
   * @param fraction from 0 (nothing done) to 1 (all done).
   */
  progress(fraction: number, message?: string): void {
    if (typeof fraction !== "number" || !Number.isFinite(fraction) || fraction < 0 || fraction > 1) {
      const shown = typeof fraction === "number" ? String(fraction) : jsonTypeName(fraction);
      throw new TaskDaemonError(`progress fraction must be a number from 0 to 1, got ${shown}`);
    }
    if (message !== undefined && typeof message !== "string") {
      throw new TaskDaemonError(`progress message must be a string, got ${jsonTypeName(message)}`);
    }
    const event: ProgressEvent = { event: "progress", task_id: this.task_id, progress: fraction };
    if (message !== undefined) event.message = message;
    this.send(event);
  }

  private send(event: EventMessage): void {
    const sink = sinks.get(this);
    if (sink !== undefined) {
      sink(event);
    } else if (boundOnce.has(this)) {
      // Its result is written: an event now would be about a task the daemon no longer has in hand.
      process.stderr.write(`[taskdaemon] dropped a ${event.event} event for task ${this.task_id}: its result was already sent\n`);
    }
  }
}
