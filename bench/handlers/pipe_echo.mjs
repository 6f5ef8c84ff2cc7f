// Pipe ping-pong: each line goes straight back, unparsed (the floor of a round trip).
import { writeSync } from "node:fs";

let pending = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => {
  pending += chunk;
  let newline;
  while ((newline = pending.indexOf("\n")) !== -1) {
    writeSync(1, pending.slice(0, newline + 1));
    pending = pending.slice(newline + 1);
  }
});
