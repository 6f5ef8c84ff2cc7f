// The same echo with no SDK: cut stdin into lines, parse each, dump the answer, write it synchronously.
import { writeSync } from "node:fs";

let pending = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => {
  pending += chunk;
  let newline;
  while ((newline = pending.indexOf("\n")) !== -1) {
    const task = JSON.parse(pending.slice(0, newline));
    pending = pending.slice(newline + 1);
    const answer = { status: "success", result: task.task_data, task_id: task.task_id };
    writeSync(1, `${JSON.stringify(answer)}\n`);
  }
});
