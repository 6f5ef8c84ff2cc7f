"""A raw handler (no SDK): answers each task with the task message it read, as its result
(``{"line": <the message>}``); task_data {"fail": "why"} answers a non-retryable error instead
({"fail_until": path}: while no file is at path), and {"brief": true} only the ids of its dependencies by key (``{"dependencies": {key: id}}``:
a long chain of full echoes would nest every result of the chain in the last one).
It appends "<task id> <time.time()>" to $START_LOG (when set) as it starts each task."""

import json
import os
import sys
import time

LOG = os.environ.get("START_LOG")


def main() -> None:
    log = os.open(LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644) if LOG else None
    for line in sys.stdin:
        if not line.strip():
            continue
        task = json.loads(line)
        if log is not None:
            os.write(log, f"{task['task_id']} {time.time():.6f}\n".encode())
        why = task["task_data"].get("fail")
        until = task["task_data"].get("fail_until")
        if until and not os.path.exists(until):
            why = f"no {until} yet"
        if why:
            answer = {"task_id": task["task_id"], "status": "error", "error": why, "retryable": False}
        elif task["task_data"].get("brief"):
            ids = {key: dep["task_id"] for key, dep in task.get("dependencies", {}).items()}
            answer = {"task_id": task["task_id"], "status": "success", "result": {"dependencies": ids}}
        else:
            answer = {"task_id": task["task_id"], "status": "success", "result": {"line": task}}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
