/**
 * The protocol's framing: input bytes cut into lines, a line read as a task (or the reason it is not one),
 * and messages written as strict JSON.
 */

import { firstLoneSurrogate, hasLoneSurrogate, isObject, jsonTypeName, typeNameOf } from "./describe.js";
import { taskIdProblem, taskProblem, type Dependency, type TaskFields } from "./task.js";

const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const TAB = 0x09;

/**
 * Cuts a byte stream into lines at each LF, with no length limit.
 *
 * A line's pieces are kept as a list of chunks and joined once, when its LF arrives, so a 64 MiB line
 * costs one copy rather than a copy per chunk.
 */
export class LineSplitter {
  private pending: Buffer[] = [];

  /** Feed a chunk; returns the lines it completes, without their LF. */
  push(chunk: Buffer): Buffer[] {
    const lines: Buffer[] = [];
    let start = 0;
    let newline = chunk.indexOf(LF, start);
    while (newline !== -1) {
      const piece = chunk.subarray(start, newline);
      if (this.pending.length === 0) {
        lines.push(piece);
      } else {
        this.pending.push(piece);
        lines.push(Buffer.concat(this.pending));
        this.pending = [];
      }
      start = newline + 1;
      newline = chunk.indexOf(LF, start);
    }
    if (start < chunk.length) this.pending.push(chunk.subarray(start));
    return lines;
  }

  /** At end of input: the last line when it had no LF, else undefined. */
  finish(): Buffer | undefined {
    if (this.pending.length === 0) return undefined;
    const rest = Buffer.concat(this.pending);
    this.pending = [];
    return rest;
  }
}

/** What a line of input turned out to be. */
export type ParsedLine =
  | { kind: "blank" }
  | { kind: "task"; fields: TaskFields }
  | { kind: "invalid"; errorType: "InvalidEncoding" | "InvalidJSON" | "InvalidTask"; message: string; taskId?: string };

// fatal: invalid UTF-8 is an error, not U+FFFD. ignoreBOM: keep a BOM, so that JSON.parse refuses it.
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function isBlank(line: Uint8Array): boolean {
  for (const byte of line) {
    if (byte !== SPACE && byte !== TAB && byte !== CR) return false;
  }
  return true;
}

// A \u escape of a surrogate code unit: only then can a decoded string hold a lone surrogate.
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;

/** The first unpaired surrogate in any string (key or value) of a parsed value, or undefined. */
function loneSurrogate(value: unknown): number | undefined {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const item = stack.pop();
    if (typeof item === "string") {
      const found = firstLoneSurrogate(item);
      if (found !== undefined) return found;
    } else if (Array.isArray(item)) {
      stack.push(...item);
    } else if (item !== null && typeof item === "object") {
      for (const [key, inner] of Object.entries(item)) stack.push(key, inner);
    }
  }
  return undefined;
}

/** Read one input line (without its LF) as a task, as a blank line, or as the reason it is not a task. */
export function parseLine(bytes: Uint8Array): ParsedLine {
  const line = bytes.length > 0 && bytes[bytes.length - 1] === CR ? bytes.subarray(0, -1) : bytes;
  if (isBlank(line)) return { kind: "blank" };

  let text: string;
  try {
    text = utf8.decode(line);
  } catch {
    return { kind: "invalid", errorType: "InvalidEncoding", message: `line is not valid UTF-8 at byte ${firstInvalidUtf8(line)}` };
  }

  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const reason = err instanceof globalThis.Error ? err.message : String(err);
    return { kind: "invalid", errorType: "InvalidJSON", message: `line is not valid JSON: ${shorten(reason)}` };
  }

  if (SURROGATE_ESCAPE.test(text)) {
    const surrogate = loneSurrogate(value);
    if (surrogate !== undefined) {
      const escape = `\\u${surrogate.toString(16).padStart(4, "0")}`;
      return { kind: "invalid", errorType: "InvalidJSON", message: `line is not valid JSON: a string holds the lone surrogate ${escape}, which is not Unicode text` };
    }
  }

  if (!isObject(value)) {
    return { kind: "invalid", errorType: "InvalidTask", message: `a task must be a JSON object, got ${jsonTypeName(value)}` };
  }
  const problem = taskProblem(value);
  if (problem !== undefined) {
    const invalid: ParsedLine = { kind: "invalid", errorType: "InvalidTask", message: problem };
    if (taskIdProblem(value["task_id"]) === undefined) invalid.taskId = value["task_id"] as string;
    return invalid;
  }
  // Only the known fields are kept: unknown ones are ignored (protocol section 3).
  const fields: TaskFields = {
    task_id: value["task_id"] as string,
    task_type: value["task_type"] as string,
    task_data: value["task_data"] as Record<string, unknown>,
    attempt: value["attempt"] as number,
  };
  if (value["tags"] !== undefined) fields.tags = value["tags"] as Record<string, string>;
  if (value["dependencies"] !== undefined) fields.dependencies = value["dependencies"] as Record<string, Dependency>;
  return { kind: "task", fields };
}

/**
 * The offset of the first byte that breaks UTF-8 (RFC 3629: no overlongs, no surrogates, nothing past
 * U+10FFFF), for the error message; TextDecoder only says that the bytes are invalid, not where.
 */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const lead = bytes[i] as number;
    let length: number;
    let min = 0x80;
    let max = 0xbf; // allowed range of the second byte
    if (lead < 0x80) length = 1;
    else if (lead >= 0xc2 && lead <= 0xdf) length = 2;
    else if (lead >= 0xe0 && lead <= 0xef) {
      length = 3;
      if (lead === 0xe0) min = 0xa0; // no overlongs
      if (lead === 0xed) max = 0x9f; // no surrogates
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      length = 4;
      if (lead === 0xf0) min = 0x90; // no overlongs
      if (lead === 0xf4) max = 0x8f; // nothing past U+10FFFF
    } else return i;
    for (let k = 1; k < length; k += 1) {
      const byte = bytes[i + k];
      if (byte === undefined) return i;
      const [low, high] = k === 1 ? [min, max] : [0x80, 0xbf];
      if (byte < low || byte > high) return i;
    }
    i += length;
  }
  return -1;
}

function shorten(text: string, limit = 200): string {
  return text.length <= limit ? text : `${text.slice(0, limit)}...`;
}

/** Raised by `encode()`: `detail` says what could not be written and where. */
export class UnserialisableError extends globalThis.Error {
  override readonly name = "UnserialisableError";
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

function childPath(parent: string, holder: unknown, key: string): string {
  if (Array.isArray(holder)) return `${parent}[${key}]`;
  if (parent === "") return IDENTIFIER.test(key) ? key : JSON.stringify(key);
  return IDENTIFIER.test(key) ? `${parent}.${key}` : `${parent}[${JSON.stringify(key)}]`;
}

/** Any surrogate code unit, paired or not: a string without one cannot hold a lone surrogate. */
const ANY_SURROGATE = /[\uD800-\uDFFF]/;

/** Deepest nesting the fast path walks; deeper values (and circular ones) take the checked path. */
const PLAIN_DEPTH = 1000;

/**
 * Whether JSON.stringify writes `value` exactly as it is: null, booleans, finite numbers, strings with no
 * surrogate, arrays and plain objects (no class, no toJSON) of such values. Anything else, or anything
 * nested deeper than PLAIN_DEPTH, answers false, and `encode()` then checks it value by value.
 */
function isPlain(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case "string":
      return !ANY_SURROGATE.test(value);
    case "number":
      return Number.isFinite(value);
    case "boolean":
      return true;
    case "object": {
      if (value === null) return true;
      if (depth >= PLAIN_DEPTH) return false;
      if (Array.isArray(value)) {
        if (Object.getPrototypeOf(value) !== Array.prototype) return false;
        for (let i = 0; i < value.length; i += 1) {
          if (!isPlain(value[i], depth + 1)) return false;
        }
        return true;
      }
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return false;
      for (const key of Object.keys(value)) {
        if (ANY_SURROGATE.test(key) || !isPlain((value as Record<string, unknown>)[key], depth + 1)) return false;
      }
      return true;
    }
    default:
      return false; // undefined, bigint, function, symbol: the checked path decides
  }
}

/**
 * Encode a message as one line of compact JSON, refusing what JSON cannot carry instead of letting
 * JSON.stringify change it silently: NaN and Infinity (it writes null), BigInt, functions and symbols
 * (dropped), Map and Set (written as {}), lone surrogates (not Unicode), and circular structures.
 *
 * @throws UnserialisableError naming the first offending value by its path, e.g. `result.values[2] is NaN`.
 */
export function encode(message: object): string {
  // The fast path, taken for every everyday result: a value made only of JSON's own types needs no
  // replacer (which costs a call per value, and made encoding the SDK's largest per-task cost).
  if (isPlain(message, 0)) return JSON.stringify(message);
  const paths = new WeakMap<object, string>();
  paths.set(message, "");
  function check(this: unknown, key: string, value: unknown): unknown {
    const parentPath = typeof this === "object" && this !== null ? paths.get(this) : undefined;
    if (parentPath === undefined) return value; // the root wrapper JSON.stringify makes: {"": message}
    const path = childPath(parentPath, this, key);
    if (hasLoneSurrogate(key)) throw new UnserialisableError(`a key in ${parentPath || "the message"} holds a lone surrogate`);
    switch (typeof value) {
      case "number":
        if (!Number.isFinite(value)) throw new UnserialisableError(`${path} is ${value}`);
        return value;
      case "string":
        if (hasLoneSurrogate(value)) throw new UnserialisableError(`${path} holds a lone surrogate`);
        return value;
      case "bigint":
        throw new UnserialisableError(`${path} is a BigInt (${value}n)`);
      case "function":
      case "symbol":
        throw new UnserialisableError(`${path} is a ${typeof value}`);
      case "object":
        if (value === null) return value;
        if (value instanceof Map || value instanceof Set || value instanceof WeakMap || value instanceof WeakSet) {
          throw new UnserialisableError(`${path} is a ${typeNameOf(value)}; convert it to an object or array first`);
        }
        paths.set(value, path);
        return value;
      default:
        return value; // undefined: dropped from objects, null in arrays, as JSON.stringify does
    }
  }
  try {
    return JSON.stringify(message, check);
  } catch (err) {
    if (err instanceof UnserialisableError) throw err;
    // Circular structures and too-deep nesting surface as JSON.stringify's own TypeError or RangeError.
    const reason = err instanceof globalThis.Error ? err.message.replace(/\s+/g, " ") : String(err);
    throw new UnserialisableError(shorten(reason), { cause: err });
  }
}
