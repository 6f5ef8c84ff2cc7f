// The package as users get it: `npm pack`, the tarball unpacked into a scratch project's node_modules (no
// network: the package has no dependencies), then its ES module, CommonJS and type entry points used there.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";

const SDK = fileURLToPath(new URL("..", import.meta.url));
const TSC = createRequire(import.meta.url).resolve("typescript/bin/tsc");
const TIMEOUT_MS = 60_000;

/** Run a command to completion, with a deadline; returns stdout. */
function runCommand(file, args, options = {}) {
  return execFileSync(file, args, { encoding: "utf8", timeout: TIMEOUT_MS, ...options });
}

describe("the npm package", () => {
  let scratch;
  let project;
  let packed;

  before(() => {
    scratch = mkdtempSync(join(tmpdir(), "taskdaemon-pack-"));
    // --ignore-scripts: `npm test` has just built dist/ and lib/; prepack would only build them again.
    const npm = process.platform === "win32" ? "npm.cmd" : "npm";
    [packed] = JSON.parse(runCommand(npm, ["pack", "--ignore-scripts", "--json", "--pack-destination", scratch], { cwd: SDK }));
    project = join(scratch, "project");
    const installed = join(project, "node_modules", "taskdaemon");
    mkdirSync(installed, { recursive: true });
    runCommand("tar", ["-xzf", join(scratch, packed.filename), "-C", installed, "--strip-components=1"]);
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "scratch", private: true, type: "module" }));
  });

  after(() => {
    if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
  });

  test("holds the two builds, their types, the README and the LICENSE, and nothing else", () => {
    const files = packed.files.map((file) => file.path).sort();
    for (const needed of ["package.json", "README.md", "LICENSE", "dist/index.mjs", "dist/index.d.mts", "dist/testing.mjs", "dist/testing.d.mts",
      "lib/index.cjs", "lib/index.d.cts", "lib/testing.cjs", "lib/testing.d.cts"]) {
      assert.ok(files.includes(needed), `${needed} is missing from ${files.join(", ")}`);
    }
    const strays = files.filter((path) => !/^(dist\/.*\.(mjs|d\.mts)|lib\/.*\.(cjs|d\.cts)|package\.json|README\.md|LICENSE)$/.test(path));
    assert.deepEqual(strays, []);
  });

  test("import works: every name, the testing entry point, and a real run() over stdin", () => {
    writeFileSync(join(project, "check.mjs"), `
      import { run, Success, TaskError, Error, success, error, Task, TaskDaemonError, isTaskDaemonError } from "taskdaemon";
      import { call } from "taskdaemon/testing";
      if (Error !== TaskError) throw new globalThis.Error("Error is not TaskError");
      for (const f of [run, Success, success, error, Task, TaskDaemonError, isTaskDaemonError]) if (typeof f !== "function") throw new globalThis.Error("missing export");
      const outcome = await call((task) => new Success({ hello: task.task_data.name }), { name: "esm" });
      console.log(JSON.stringify(outcome.message));
    `);
    assert.deepEqual(JSON.parse(runCommand(process.execPath, ["check.mjs"], { cwd: project })), {
      status: "success", result: { hello: "esm" }, task_id: "test-task",
    });

    writeFileSync(join(project, "handler.mjs"), `
      import { run, Success } from "taskdaemon";
      run((task) => new Success({ message: "Hello, " + task.task_data.name + "!" }));
    `);
    const output = runCommand(process.execPath, ["handler.mjs"], {
      cwd: project, input: '{"task_id":"t1","task_type":"hello","task_data":{"name":"Ada"},"attempt":0}\n',
    });
    assert.equal(output, '{"status":"success","result":{"message":"Hello, Ada!"},"task_id":"t1"}\n');
  });

  test("require works: the same names, and the testing entry point", () => {
    writeFileSync(join(project, "check.cjs"), `
      const taskdaemon = require("taskdaemon");
      const { call } = require("taskdaemon/testing");
      const names = Object.keys(taskdaemon).sort();
      call(() => taskdaemon.error("nope", true)).then((outcome) => console.log(JSON.stringify({ names, message: outcome.message })));
    `);
    const { names, message } = JSON.parse(runCommand(process.execPath, ["check.cjs"], { cwd: project }));
    for (const name of ["Error", "Success", "Task", "TaskDaemonError", "TaskError", "error", "isTaskDaemonError", "run", "success"]) {
      assert.ok(names.includes(name), `${name} is not exported to require()`);
    }
    assert.deepEqual(message, { status: "error", error: "nope", retryable: true, task_id: "test-task" });
  });

  test("the types mark success() and error() deprecated, for import and require, and nothing else", () => {
    // What an editor shows (struck through) comes from these tags, read here with the compiler's own API.
    const ts = createRequire(import.meta.url)("typescript");
    const exported = 'export { run, Success, TaskError, Error, success, error, Task } from "taskdaemon";\n';
    const files = ["tags.mts", "tags.cts"].map((name) => join(project, name));
    for (const file of files) writeFileSync(file, exported);
    const program = ts.createProgram(files, {
      strict: true, noEmit: true, types: [], module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext,
    });
    const checker = program.getTypeChecker();
    for (const file of files) {
      const deprecated = {};
      for (const symbol of checker.getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(file)))) {
        const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
        deprecated[symbol.name] = target.getJsDocTags(checker).some((tag) => tag.name === "deprecated");
      }
      assert.deepEqual(deprecated, { run: false, Success: false, TaskError: false, Error: false, success: true, error: true, Task: false }, file);
    }
  });

  test("the types check under strict tsc, for import (.mts), require (.cts) and legacy node10 resolution", () => {
    const api = (importLines) => `${importLines}
      const hello: Handler<{ name?: string }> = (task: Task<{ name?: string }>) => {
        task.log("greeting", "info");
        task.progress(0.5, "halfway");
        const id: string = task.task_id;
        const attempt: number = task.attempt;
        return new Success({ message: \`Hello, \${task.task_data.name ?? "World"}!\`, id, attempt }, { metadata: { ms: 1 } });
      };
      const either = async (task: Task): Promise<Success | TaskError | undefined> => {
        if (task.attempt > 2) return undefined;
        return task.task_type === "a" ? success(1) : error("later", true);
      };
      const legacy: TaskError = new Error("bad", { retryable: false, errorType: "Bad", retryAfter: 1 });
      const both: TaskError = error("x", { retryable: true });
      // @ts-expect-error -- a log level outside the four is refused by the types too
      ((task: Task) => task.log("x", "critical"));
      // @ts-expect-error -- retryable is a boolean
      new TaskError("x", { retryable: "yes" });
      const guard = (err: unknown): string => (isTaskDaemonError(err) ? err.message : "other");
      const outcome: Promise<Outcome> = call(hello, { name: "Ada" }, { taskType: "hello", attempt: 1 });
      outcome.then((o) => { const m: ResultMessage = o.message; const e: EventMessage[] = o.events; const s: string = o.output; return [m, e, s]; });
      const serve: Promise<void> = run({ hello, either });
      const step = (task: Task): Success => {
        const parents: Dependencies = task.dependencies;
        const load: Dependency | undefined = parents["load"];
        const typed: Dependency<{ rows: number }> | undefined = task.dependencies["load"];
        return new Success({ rows: load?.result.rows, also: typed?.result.rows, names: Object.keys(parents), id: load?.task_id });
      };
      const stepped: Promise<Outcome> = call(step, {}, { dependencies: { load: { task_id: "t1", task_type: "fetch", result: { rows: 42 } } } });
      // @ts-expect-error -- a task's dependencies are read-only
      ((task: Task) => { task.dependencies["x"] = { task_id: "a", task_type: "b", result: 1 }; });
      export { legacy, both, guard, serve, stepped };
    `;
    writeFileSync(join(project, "esm.mts"), api(`
      import { run, Success, TaskError, Error, success, error, isTaskDaemonError, type Task, type Handler, type ResultMessage, type EventMessage, type Dependency, type Dependencies } from "taskdaemon";
      import { call, type Outcome } from "taskdaemon/testing";`));
    writeFileSync(join(project, "cjs.cts"), api(`
      import { run, Success, TaskError, Error, success, error, isTaskDaemonError, type Task, type Handler, type ResultMessage, type EventMessage, type Dependency, type Dependencies } from "taskdaemon";
      import { call, type Outcome } from "taskdaemon/testing";`));
    writeFileSync(join(project, "legacy.ts"), api(`
      import { run, Success, TaskError, Error, success, error, isTaskDaemonError, type Task, type Handler, type ResultMessage, type EventMessage, type Dependency, type Dependencies } from "taskdaemon";
      import { call, type Outcome } from "taskdaemon/testing";`));
    const strict = { strict: true, noEmit: true, types: [], skipLibCheck: false, target: "ES2022", lib: ["ES2022"] };
    writeFileSync(join(project, "tsconfig.json"), JSON.stringify({
      compilerOptions: { ...strict, module: "NodeNext", moduleResolution: "NodeNext" }, files: ["esm.mts", "cjs.cts"],
    }));
    writeFileSync(join(project, "tsconfig.legacy.json"), JSON.stringify({
      compilerOptions: { ...strict, module: "CommonJS", moduleResolution: "Node10" }, files: ["legacy.ts"],
    }));
    for (const config of ["tsconfig.json", "tsconfig.legacy.json"]) {
      try {
        runCommand(process.execPath, [TSC, "-p", config], { cwd: project });
      } catch (err) {
        assert.fail(`tsc -p ${config} failed:\n${err.stdout}${err.stderr}`);
      }
    }
    // And tsc does fail on a type error, so the passes above mean something.
    writeFileSync(join(project, "esm.mts"), 'import { Success } from "taskdaemon";\nconst s: Success = "not a result";\nexport { s };\n');
    assert.throws(() => runCommand(process.execPath, [TSC, "-p", "tsconfig.json"], { cwd: project, stdio: "pipe" }), (err) => /TS2322/.test(err.stdout));
  });
});
