// Start real handler processes and talk to them over pipes, with a deadline on every wait.

import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/** How long any single wait on a handler may take before the test fails (generous: CI machines are slow). */
export const WAIT_MS = 10_000;

const HANDLERS = new URL("./handlers/", import.meta.url);

/** Every process started and not yet reaped, so `stopAll()` can kill what a failed test left behind. */
const started = new Set();

/**
 * A handler process, with its stdout read as lines: `script` is a file in test/handlers/, or an absolute
 * path (run in `cwd`).
 */
export class HandlerProcess {
  constructor(script, { env, cwd } = {}) {
    this.script = script;
    const path = script.startsWith("/") ? script : fileURLToPath(new URL(script, HANDLERS));
    this.child = spawn(process.execPath, [path], {
      cwd,
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, ...env },
    });
    started.add(this);
    this.lines = [];
    this.waiters = [];
    this.pending = [];
    this.stderr = "";
    this.exit = new Promise((resolve) => {
      this.child.on("exit", (code, signal) => {
        started.delete(this);
        resolve({ code, signal });
      });
    });
    this.child.stdout.on("data", (chunk) => this.onData(chunk));
    this.child.stdout.on("end", () => {
      this.ended = true;
      this.wake();
    });
    this.child.stderr.setEncoding("utf8");
    this.child.stderr.on("data", (text) => {
      this.stderr += text;
    });
    this.child.stdin.on("error", () => {}); // EPIPE after the handler exits is the test's business
  }

  get pid() {
    return this.child.pid;
  }

  onData(chunk) {
    let start = 0;
    let newline = chunk.indexOf(0x0a);
    while (newline !== -1) {
      this.pending.push(chunk.subarray(start, newline));
      this.lines.push(Buffer.concat(this.pending).toString("utf8"));
      this.pending = [];
      start = newline + 1;
      newline = chunk.indexOf(0x0a, start);
    }
    if (start < chunk.length) this.pending.push(chunk.subarray(start));
    this.wake();
  }

  wake() {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  /** Write text or bytes to the handler's stdin, as is. */
  send(data) {
    this.child.stdin.write(data);
  }

  /** Write one task (an object) as a JSON line. */
  sendTask(task) {
    this.send(`${JSON.stringify(task)}\n`);
  }

  /** Close the handler's stdin (EOF). */
  close() {
    this.child.stdin.end();
  }

  /** The next stdout line, as text; fails after `timeoutMs`, quoting stderr. */
  async readLine(timeoutMs = WAIT_MS) {
    const deadline = Date.now() + timeoutMs;
    while (this.lines.length === 0) {
      if (this.ended) throw new Error(`${this.script} closed stdout; stderr:\n${this.stderr}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no line from ${this.script} within ${timeoutMs} ms; stderr:\n${this.stderr}`);
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.lines.shift();
  }

  /** The next stdout line, parsed as JSON. */
  async readJson(timeoutMs = WAIT_MS) {
    const line = await this.readLine(timeoutMs);
    try {
      return JSON.parse(line);
    } catch (err) {
      throw new Error(`${this.script} wrote a line that is not JSON: ${line.slice(0, 200)}`, { cause: err });
    }
  }

  /** Wait until stderr contains `text`; fails after `timeoutMs`. */
  async waitStderr(text, timeoutMs = WAIT_MS) {
    const deadline = Date.now() + timeoutMs;
    while (!this.stderr.includes(text)) {
      if (Date.now() >= deadline) throw new Error(`${this.script} did not write ${JSON.stringify(text)} to stderr; stderr:\n${this.stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Wait for the process to exit; fails (and kills it) after `timeoutMs`. */
  async waitExit(timeoutMs = WAIT_MS) {
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => {
        this.kill();
        reject(new Error(`${this.script} did not exit within ${timeoutMs} ms; stderr:\n${this.stderr}`));
      }, timeoutMs);
    });
    try {
      return await Promise.race([this.exit, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Send a signal to this process (by its pid). */
  signal(name) {
    process.kill(this.child.pid, name);
  }

  /** Kill the process if it still runs. */
  kill() {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
  }
}

/** Kill every handler still running: for an `after` hook. */
export async function stopAll() {
  const running = [...started];
  for (const handler of running) handler.kill();
  await Promise.all(running.map((handler) => handler.exit));
}

/** A valid task line's fields, with overrides. */
export function task(overrides = {}) {
  return { task_id: "t1", task_type: "echo", task_data: {}, attempt: 0, ...overrides };
}
