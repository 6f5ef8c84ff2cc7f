/**
 * The protocol channel (file descriptor 1) and its protection from ordinary output.
 *
 * Results and events are written straight to fd 1 with `fs.writeSync`, synchronously, so each line is out
 * before the next task is read and nothing is pending when the process exits. `process.stdout.write` (and
 * `console.log`, which goes through it) is pointed at stderr instead, so a handler's prints can never be
 * taken for a result. Node cannot move fd 1 itself (it has no dup2), so a handler that writes to fd 1
 * directly, or starts a child process with inherited stdio, bypasses this.
 */

import { AsyncLocalStorage } from "node:async_hooks";
import { writeSync } from "node:fs";

const PROTOCOL_FD = 1;

/** A 4-byte buffer to sleep on with Atomics.wait while a full, non-blocking pipe drains. */
const pause = new Int32Array(new SharedArrayBuffer(4));

function isAgain(err: unknown): boolean {
  return typeof err === "object" && err !== null && (err as { code?: unknown }).code === "EAGAIN";
}

/**
 * Write all of `bytes` to the protocol channel before returning.
 *
 * Once Node has opened `process.stdout` on a pipe, fd 1 is non-blocking: a write to a full pipe fails with
 * EAGAIN or writes only part. Both are retried until the reader has taken everything.
 */
function writeAll(bytes: Uint8Array): void {
  let offset = 0;
  while (offset < bytes.length) {
    try {
      offset += writeSync(PROTOCOL_FD, bytes, offset, bytes.length - offset);
    } catch (err) {
      if (!isAgain(err)) throw err;
      Atomics.wait(pause, 0, 0, 1); // 1 ms, then try again
    }
  }
}

/** Write one protocol line (a JSON text without LF) and its LF, flushed. */
export function writeLine(json: string): void {
  writeAll(Buffer.from(`${json}\n`, "utf8"));
}

type StdoutWrite = typeof process.stdout.write;

/**
 * Point `process.stdout.write` (and so `console.log`) at stderr, for good: the process is a handler now.
 * Idempotent.
 */
export function protectStdout(): void {
  const stdout = process.stdout;
  if ((stdout.write as { taskdaemonRedirect?: boolean }).taskdaemonRedirect === true) return;
  const redirect = function write(this: unknown, ...args: unknown[]): boolean {
    return (process.stderr.write as (...a: unknown[]) => boolean)(...args);
  };
  Object.defineProperty(redirect, "taskdaemonRedirect", { value: true });
  stdout.write = redirect as StdoutWrite;
}

/** The output collector of the `captureStdout()` call whose code is running, if any. */
const capturing = new AsyncLocalStorage<string[]>();

function toText(chunk: unknown): string {
  if (typeof chunk === "string") return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString("utf8");
  return String(chunk);
}

/**
 * Run `fn` and return what it wrote with `process.stdout.write` (and so `console.log`) instead of letting
 * it reach stdout.
 *
 * Only writes made by `fn`'s own code, in its async context, are collected: anything else that writes to
 * stdout meanwhile (a test runner reporting, another task) goes through untouched. Calls must not overlap
 * (`call()` queues them); the previous `write` is restored afterwards, whatever happens.
 */
export async function captureStdout<T>(fn: () => Promise<T>): Promise<{ value: T; output: string }> {
  const stdout = process.stdout;
  const previous = stdout.write;
  const pieces: string[] = [];
  const collect = function write(this: unknown, ...args: unknown[]): boolean {
    const sink = capturing.getStore();
    if (sink === undefined) return (previous as (...a: unknown[]) => boolean).apply(this, args);
    sink.push(toText(args[0]));
    const done = typeof args[1] === "function" ? args[1] : args[2];
    if (typeof done === "function") process.nextTick(done as () => void);
    return true;
  };
  stdout.write = collect as StdoutWrite;
  try {
    const value = await capturing.run(pieces, fn);
    return { value, output: pieces.join("") };
  } finally {
    stdout.write = previous;
  }
}
