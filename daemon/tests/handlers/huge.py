"""Handler that answers with a result string of task_data["size"] bytes (64 MiB and more)."""

import json
import sys

for line in sys.stdin:
    task = json.loads(line)
    size = int(task["task_data"]["size"])
    sys.stdout.write('{"status":"success","task_id":' + json.dumps(task["task_id"]) + ',"result":"')
    sys.stdout.write("x" * size)
    sys.stdout.write('"}\n')
    sys.stdout.flush()
