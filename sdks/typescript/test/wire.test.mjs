// The framing (private module wire): lines cut from any chunking, lines read as tasks, messages encoded
// strictly. The generated tests in vectors.test.mjs cover the protocol's vectors over real pipes.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { Task } from "../dist/task.mjs";
import { encode, firstInvalidUtf8, LineSplitter, parseLine, UnserialisableError } from "../dist/wire.mjs";

describe("LineSplitter", () => {
  test("gives the same lines whatever the chunk boundaries", () => {
    const input = Buffer.from("one\ntwo\r\n\nthree é\nrest");
    for (let size = 1; size <= input.length; size += 1) {
      const splitter = new LineSplitter();
      const lines = [];
      for (let at = 0; at < input.length; at += size) lines.push(...splitter.push(input.subarray(at, at + size)));
      lines.push(splitter.finish());
      assert.deepEqual(lines.map((line) => line.toString("utf8")), ["one", "two\r", "", "three é", "rest"], `chunks of ${size}`);
    }
  });

  test("has nothing left at the end when the input ended with LF", () => {
    const splitter = new LineSplitter();
    assert.equal(splitter.push(Buffer.from("a\n")).length, 1);
    assert.equal(splitter.finish(), undefined);
  });
});

describe("parseLine", () => {
  const valid = '{"task_id":"t1","task_type":"echo","task_data":{},"attempt":0}';

  test("tags are kept, and tags that are not strings are an InvalidTask naming the tag", () => {
    const tagged = parseLine(Buffer.from('{"task_id":"t1","task_type":"x","task_data":{},"attempt":0,"tags":{"a":"b"}}'));
    assert.equal(tagged.kind, "task");
    assert.deepEqual(tagged.fields.tags, { a: "b" });
    const bad = parseLine(Buffer.from('{"task_id":"t1","task_type":"x","task_data":{},"attempt":0,"tags":{"n":1}}'));
    assert.equal(bad.kind, "invalid");
    assert.equal(bad.errorType, "InvalidTask");
    assert.equal(bad.message, 'tags["n"] must be a string, got integer');
    assert.equal(bad.taskId, "t1");
  });

  test("dependencies are kept, and a malformed one is an InvalidTask naming the member", () => {
    const line = (dependencies) => Buffer.from(`{"task_id":"t3","task_type":"x","task_data":{},"attempt":0,"dependencies":${dependencies}}`);
    const parsed = parseLine(line('{"load":{"task_id":"t1","task_type":"fetch","result":{"rows":42}},"none":{"task_id":"t2","task_type":"q","result":null}}'));
    assert.equal(parsed.kind, "task");
    const task = new Task(parsed.fields);
    assert.deepEqual(task.dependencies, { load: { task_id: "t1", task_type: "fetch", result: { rows: 42 } }, none: { task_id: "t2", task_type: "q", result: null } });
    const cases = {
      "[]": "dependencies must be an object, got array",
      "null": "dependencies must be an object, got null",
      '{"load":"t1"}': 'dependencies["load"] must be an object, got string',
      '{"load":{"task_id":"t1","task_type":"f"}}': 'dependencies["load"].result is missing',
      '{"load":{"task_type":"f","result":1}}': 'dependencies["load"].task_id is missing',
      '{"load":{"task_id":5,"task_type":"f","result":1}}': 'dependencies["load"].task_id must be a string, got integer',
      '{"load":{"task_id":"t1","task_type":"","result":1}}': 'dependencies["load"].task_type must not be empty',
    };
    for (const [dependencies, message] of Object.entries(cases)) {
      const bad = parseLine(line(dependencies));
      assert.deepEqual([bad.kind, bad.errorType, bad.message, bad.taskId], ["invalid", "InvalidTask", message, "t3"], dependencies);
    }
  });

  test("a dependency named __proto__ is an ordinary name", () => {
    const parsed = parseLine(Buffer.from('{"task_id":"t3","task_type":"x","task_data":{},"attempt":0,"dependencies":{"__proto__":{"task_id":"t1","task_type":"f","result":1}}}'));
    const task = new Task(parsed.fields);
    assert.deepEqual(Object.keys(task.dependencies), ["__proto__"]);
    assert.equal(Object.getPrototypeOf(task.dependencies), Object.prototype);
    assert.equal(task.dependencies["__proto__"].result, 1);
  });

  test("a UTF-8 byte order mark makes the line InvalidJSON, not a silently accepted task", () => {
    const parsed = parseLine(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(valid)]));
    assert.equal(parsed.kind, "invalid");
    assert.equal(parsed.errorType, "InvalidJSON");
  });

  test("invalid UTF-8 is InvalidEncoding, naming the first bad byte", () => {
    const cases = [
      [[0x7b, 0xff], 1], // never valid
      [[0x41, 0xc3], 1], // cut short
      [[0xc0, 0x80], 0], // overlong
      [[0x41, 0x42, 0xed, 0xa0, 0x80], 2], // a surrogate, encoded
      [[0xf4, 0x90, 0x80, 0x80], 0], // past U+10FFFF
      [[0xc3, 0xa9, 0xe2, 0x82], 2], // a valid é, then a cut-short euro sign
    ];
    for (const [bytes, offset] of cases) {
      const parsed = parseLine(Buffer.from(bytes));
      assert.deepEqual(parsed, { kind: "invalid", errorType: "InvalidEncoding", message: `line is not valid UTF-8 at byte ${offset}` }, String(bytes));
    }
    assert.equal(firstInvalidUtf8(Buffer.from("é😀€")), -1);
  });

  test("a lone surrogate escape anywhere is InvalidJSON; a pair, or an escaped backslash before u, is text", () => {
    for (const [line, surrogate] of [
      ['{"task_id":"\\ud800","task_type":"echo","task_data":{},"attempt":0}', "\\ud800"],
      ['{"task_id":"t1","task_type":"echo","task_data":{"a":["x\\udc00"]},"attempt":0}', "\\udc00"],
      ['{"task_id":"t1","task_type":"echo","task_data":{"\\uDFFF":1},"attempt":0}', "\\udfff"],
    ]) {
      const parsed = parseLine(Buffer.from(line));
      assert.equal(parsed.errorType, "InvalidJSON", line);
      assert.equal(parsed.message, `line is not valid JSON: a string holds the lone surrogate ${surrogate}, which is not Unicode text`);
    }
    const parsed = parseLine(Buffer.from('{"task_id":"t1","task_type":"echo","task_data":{"p":"\\ud83d\\ude00","q":"\\\\ud800"},"attempt":0}'));
    assert.equal(parsed.kind, "task");
    assert.deepEqual(parsed.fields.task_data, { p: "\u{1F600}", q: "\\ud800" });
  });

  test("messages name the field and what was wrong", () => {
    const cases = [
      ['{"task_id":"t1","task_type":"echo","task_data":[1],"attempt":0}', "task_data must be an object, got array"],
      ['{"task_id":"t1","task_type":"echo","task_data":null,"attempt":0}', "task_data must be an object, got null"],
      ['{"task_id":"t1","task_type":"echo","task_data":{},"attempt":0.5}', "attempt must be an integer, got number 0.5"],
      ['{"task_id":"t1","task_type":"echo","task_data":{},"attempt":true}', "attempt must be an integer, got boolean"],
      ['{"task_id":"t1","task_type":"echo","task_data":{},"attempt":-1}', "attempt must be >= 0, got -1"],
      ['{"task_id":"t1","task_type":"","task_data":{},"attempt":0}', "task_type must not be empty"],
      ['{"task_id":7,"task_type":"echo","task_data":{},"attempt":0}', "task_id must be a string, got integer"],
      ['{"task_type":"echo","task_data":{},"attempt":0}', "task_id is missing"],
      ["[1]", "a task must be a JSON object, got array"],
    ];
    for (const [line, message] of cases) {
      const parsed = parseLine(Buffer.from(line));
      assert.equal(parsed.kind, "invalid", line);
      assert.equal(parsed.errorType, "InvalidTask", line);
      assert.equal(parsed.message, message, line);
    }
  });

  test("unknown fields are dropped from the task", () => {
    const parsed = parseLine(Buffer.from('{"task_id":"t1","task_type":"echo","task_data":{},"attempt":1,"priority":9}'));
    assert.deepEqual(parsed, { kind: "task", fields: { task_id: "t1", task_type: "echo", task_data: {}, attempt: 1 } });
  });
});

describe("encode", () => {
  test("writes compact JSON, undefined members dropped as JSON.stringify does", () => {
    assert.equal(encode({ status: "success", result: { a: [1, "é"], b: undefined } }), '{"status":"success","result":{"a":[1,"é"]}}');
  });

  test("calls toJSON, so a Date is written as its ISO string", () => {
    assert.equal(encode({ result: new Date(0) }), '{"result":"1970-01-01T00:00:00.000Z"}');
  });

  const refused = [
    [{ result: { deep: { list: [0, -Infinity] } } }, "result.deep.list[1] is -Infinity"],
    [{ result: { "odd key": NaN } }, 'result["odd key"] is NaN'],
    [{ result: [1n] }, "result[0] is a BigInt (1n)"],
    [{ result: { f() {} } }, "result.f is a function"],
    [{ result: { s: Symbol("s") } }, "result.s is a symbol"],
    [{ result: new Set([1]) }, "result is a Set; convert it to an object or array first"],
    [{ result: { "\udc00": 1 } }, "a key in result holds a lone surrogate"],
    [{ result: "a\ud83d" }, "result holds a lone surrogate"],
  ];
  for (const [message, detail] of refused) {
    test(`refuses what JSON.stringify would change silently: ${detail}`, () => {
      assert.throws(() => encode(message), (err) => err instanceof UnserialisableError && err.message === detail);
    });
  }

  test("refuses circular structures", () => {
    const loop = [];
    loop.push(loop);
    assert.throws(() => encode({ result: loop }), (err) => err instanceof UnserialisableError && /circular/.test(err.message));
  });

  test("accepts a surrogate pair (an emoji) and a shared, non-circular object", () => {
    const shared = { n: 1 };
    assert.equal(encode({ result: ["😀", shared, shared] }), '{"result":["😀",{"n":1},{"n":1}]}');
  });
});
