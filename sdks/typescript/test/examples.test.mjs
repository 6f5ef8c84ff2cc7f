// The TypeScript examples (examples/hello/typescript, examples/primes/typescript), set up as their READMEs
// say (`npm ci --offline` links the SDK in), run as real handler processes and through `call()`.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { after, before, describe, test } from "node:test";

import { Success, TaskError } from "taskdaemon";
import { call } from "taskdaemon/testing";

import { HandlerProcess, stopAll, task } from "./helpers.mjs";
import { loadSchema } from "./schema.mjs";

const EXAMPLES = fileURLToPath(new URL("../../../examples/", import.meta.url));
const resultErrors = loadSchema("result");

function setUp(example) {
  const dir = join(EXAMPLES, example, "typescript");
  execFileSync("npm", ["ci", "--offline", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: dir, timeout: 60_000, stdio: "pipe" });
  return dir;
}

after(stopAll);

describe("examples/hello/typescript", () => {
  let dir;
  before(() => {
    dir = setUp("hello");
  });

  test("handler.mjs greets by name over pipes, and the World by default", async () => {
    const handler = new HandlerProcess(join(dir, "handler.mjs"), { cwd: dir });
    handler.sendTask(task({ task_id: "h1", task_type: "hello", task_data: { name: "Ada" } }));
    handler.sendTask(task({ task_id: "h2", task_type: "hello" }));
    for (const [id, message] of [["h1", "Hello, Ada!"], ["h2", "Hello, World!"]]) {
      const answer = await handler.readJson();
      assert.deepEqual(resultErrors(answer), []);
      assert.deepEqual(answer, { status: "success", result: { message }, task_id: id });
    }
    handler.close();
    assert.deepEqual(await handler.waitExit(), { code: 0, signal: null });
  });

  test("hello.mjs refuses a name that is not a string", async () => {
    const { hello } = await import(pathToFileURL(join(dir, "hello.mjs")).href);
    const outcome = await call(hello, { name: 42 }, { taskType: "hello" });
    assert.ok(outcome.result instanceof TaskError);
    assert.deepEqual(outcome.message, {
      status: "error", error: "name must be a string, got number", retryable: false, task_id: "test-task", error_type: "InvalidInput",
    });
  });
});

describe("examples/primes/typescript", () => {
  let dir;
  let primes;
  before(async () => {
    dir = setUp("primes");
    ({ primes } = await import(pathToFileURL(join(dir, "primes.mjs")).href));
  });

  test("handler.mjs counts primes over pipes, with a log event and its timing", async () => {
    const handler = new HandlerProcess(join(dir, "handler.mjs"), { cwd: dir });
    handler.sendTask(task({ task_id: "p1", task_type: "primes", task_data: { limit: 100 } }));
    assert.deepEqual(await handler.readJson(), { event: "log", task_id: "p1", level: "info", message: "sieved 100 numbers: 25 primes" });
    const answer = await handler.readJson();
    assert.deepEqual(resultErrors(answer), []);
    assert.deepEqual(answer.result, { count: 25, largest: 97, primes: [2, 3, 5, 7, 11, 13, 17, 19, 23, 29] });
    assert.equal(typeof answer.metadata.elapsed_ms, "number");
    handler.close();
    assert.deepEqual(await handler.waitExit(), { code: 0, signal: null });
  });

  test("the sieve is right at the edges and at the cap", async () => {
    const cases = [[0, 0, null], [1, 0, null], [2, 1, 2], [10, 4, 7], [7919, 1000, 7919], [10_000_000, 664_579, 9_999_991]];
    for (const [limit, count, largest] of cases) {
      const outcome = await call(primes, { limit });
      assert.ok(outcome.result instanceof Success, `limit ${limit}: ${JSON.stringify(outcome.message)}`);
      assert.equal(outcome.result.result.count, count, `limit ${limit}`);
      assert.equal(outcome.result.result.largest, largest, `limit ${limit}`);
    }
  });

  test("a bad limit gets a clear InvalidInput error", async () => {
    const cases = [
      [{}, "task_data.limit is required: an integer from 0 to 10000000"],
      [{ limit: "100" }, 'limit must be an integer from 0 to 10000000, got "100"'],
      [{ limit: 2.5 }, "limit must be an integer from 0 to 10000000, got 2.5"],
      [{ limit: -1 }, "limit must be from 0 to 10000000, got -1"],
      [{ limit: 10_000_001 }, "limit must be from 0 to 10000000, got 10000001"],
    ];
    for (const [taskData, error] of cases) {
      const { message } = await call(primes, taskData);
      assert.deepEqual(message, { status: "error", error, retryable: false, task_id: "test-task", error_type: "InvalidInput" });
    }
  });
});
