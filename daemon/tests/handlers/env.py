"""Handler that answers every task with its own environment (to see what the daemon gave it)."""

import json
import os
import sys

for line in sys.stdin:
    task = json.loads(line)
    answer = {"status": "success", "task_id": task["task_id"], "result": dict(os.environ)}
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()
