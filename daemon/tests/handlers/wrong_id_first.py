"""Bad handler, for pipelining: a task whose data is {"wrong": true} is answered, after a second
(so that more tasks are written behind it), with someone else's task_id; the others correctly."""

import json
import sys
import time

for line in sys.stdin:
    task = json.loads(line)
    if task["task_data"].get("wrong"):
        time.sleep(1)
        print(json.dumps({"status": "success", "task_id": "someone-else", "result": 1}), flush=True)
    else:
        print(json.dumps({"status": "success", "task_id": task["task_id"], "result": 2}), flush=True)
