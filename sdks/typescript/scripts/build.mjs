// Build the package: tsc twice (ES modules and CommonJS, each with declarations), then rename the output
// so each build's files carry their module kind in the extension, whatever package.json says:
//   build/esm/x.js, x.d.ts  ->  dist/x.mjs, dist/x.d.mts
//   build/cjs/x.js, x.d.ts  ->  lib/x.cjs,  lib/x.d.cts
// Relative specifiers ("./task.js") are rewritten to match. No bundler: the sources import each other only
// by relative "./name.js" paths, which is all this rewriting has to handle.

import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");

const builds = [
  { tsconfig: "tsconfig.esm.json", from: "build/esm", to: "dist", js: ".mjs", dts: ".d.mts" },
  { tsconfig: "tsconfig.cjs.json", from: "build/cjs", to: "lib", js: ".cjs", dts: ".d.cts" },
];

/** "./task.js" -> "./task.mjs" in `from "..."`, `import("...")` and `require("...")`. */
function rewriteSpecifiers(code, extension) {
  return code.replace(/(["'])(\.\.?\/[^"'\n]*?)\.js\1/g, (_match, quote, path) => `${quote}${path}${extension}${quote}`);
}

for (const dir of ["build", "dist", "lib"]) rmSync(join(root, dir), { recursive: true, force: true });

for (const build of builds) {
  execFileSync(process.execPath, [tsc, "-p", join(root, build.tsconfig)], { cwd: root, stdio: "inherit" });
  const from = join(root, build.from);
  const to = join(root, build.to);
  mkdirSync(to, { recursive: true });
  for (const name of readdirSync(from)) {
    const code = readFileSync(join(from, name), "utf8");
    let target;
    if (name.endsWith(".d.ts")) target = name.slice(0, -".d.ts".length) + build.dts;
    else if (name.endsWith(".js")) target = name.slice(0, -".js".length) + build.js;
    else throw new Error(`unexpected file in ${build.from}: ${name}`);
    writeFileSync(join(to, target), rewriteSpecifiers(code, build.js));
  }
}

rmSync(join(root, "build"), { recursive: true, force: true });
