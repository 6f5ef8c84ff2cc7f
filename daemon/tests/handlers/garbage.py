"""Bad handler: prints non-result lines before answering; with {"bad": true} its answer
claims to be a result but breaks the schema."""

import json
import sys

for line in sys.stdin:
    task = json.loads(line)
    print("plain text on stdout")
    print("[1, 2, 3]")
    print('{"not": "a result"}')
    print("{broken json")
    print(json.dumps({"event": "telemetry", "task_id": task["task_id"]}))
    print(json.dumps({"event": "log", "task_id": task["task_id"], "level": "shout", "message": "x"}))
    print()
    if task["task_data"].get("bad"):
        print(json.dumps({"status": "success", "task_id": task["task_id"]}))  # no "result"
    else:
        print(json.dumps({"status": "success", "task_id": task["task_id"], "result": "fine"}))
    sys.stdout.flush()
