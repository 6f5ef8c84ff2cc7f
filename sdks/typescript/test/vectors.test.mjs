// Every line of protocol/vectors/lines.json, sent to a real echo handler over a pipe: one generated test
// per vector, named by its id.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { HandlerProcess, stopAll, task } from "./helpers.mjs";
import { loadSchema, loadVectors } from "./schema.mjs";

const resultErrors = loadSchema("result");
const { cases } = loadVectors("lines");

function lineBytes(vector) {
  return vector.line_base64 !== undefined ? Buffer.from(vector.line_base64, "base64") : Buffer.from(vector.line, "utf8");
}

async function readResult(handler) {
  const message = await handler.readJson();
  assert.deepEqual(resultErrors(message), [], `answer breaks result.schema.json: ${JSON.stringify(message)}`);
  return message;
}

for (const [script, label] of [["echo.mjs", "ES module"], ["echo.cjs", "CommonJS"]]) {
  describe(`lines.json against the ${label} echo handler`, () => {
    let handler;
    before(() => {
      handler = new HandlerProcess(script);
    });
    after(stopAll);

    for (const { description: caseDescription, tests } of cases) {
      for (const vector of tests) {
        test(vector.id, async () => {
          handler.send(Buffer.concat([lineBytes(vector), Buffer.from("\n")]));
          const { expect } = vector;
          const why = `${caseDescription}: ${vector.description} (${vector.why})`;
          if (expect.answer === "none") {
            // Nothing comes back for the line: the next answer is the one for the task sent after it.
            handler.sendTask(task({ task_id: `after-${vector.id}` }));
            const next = await readResult(handler);
            assert.equal(next.task_id, `after-${vector.id}`, why);
          } else if (expect.answer === "task") {
            const message = await readResult(handler);
            assert.deepEqual(message, { status: "success", result: expect.task, task_id: expect.task.task_id }, why);
          } else {
            const message = await readResult(handler);
            assert.equal(message.status, "error", why);
            assert.equal(message.retryable, false, why);
            assert.equal(message.error_type, expect.error_type, why);
            if (expect.task_id === null) assert.equal("task_id" in message, false, why);
            else assert.equal(message.task_id, expect.task_id, why);
            assert.ok(message.error.length > 0, why);
          }
        });
      }
    }
  });
}
