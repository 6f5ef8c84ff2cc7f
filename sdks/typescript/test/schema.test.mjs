// The small validator in schema.mjs, which checks every line the handlers write, gets the verdict of every
// vector in protocol/vectors/{task,result,event}.json: it can be trusted with the schemas it is given.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { loadSchema, loadVectors } from "./schema.mjs";

for (const name of ["task", "result", "event"]) {
  describe(`${name}.json vectors`, () => {
    const errors = loadSchema(name);
    for (const { tests } of loadVectors(name).cases) {
      for (const vector of tests) {
        test(vector.id, () => {
          const found = errors(vector.data);
          assert.equal(found.length === 0, vector.valid, `${vector.description} (${vector.why}); errors: ${found.join("; ")}`);
        });
      }
    }
  });
}
