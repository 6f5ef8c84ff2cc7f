"""The same echo with no SDK: read a line, parse it, dump the answer, write it, flush."""

import json
import sys

stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
for line in stdin:
    task = json.loads(line)
    answer = {"status": "success", "result": task["task_data"], "task_id": task["task_id"]}
    stdout.write(json.dumps(answer, separators=(",", ":")).encode() + b"\n")
    stdout.flush()
