"""Bad handler: answers every task with someone else's task_id."""

import json
import sys

for _line in sys.stdin:
    print(json.dumps({"status": "success", "task_id": "someone-else", "result": 1}), flush=True)
