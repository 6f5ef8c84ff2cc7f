"""A quick handler that appends one line per run to $RUN_LOG: "<task id> <attempt> <$RUN_LOG_TAG>"
(one write() of a short line on an O_APPEND file: lines of concurrent handlers never mix).
{"sleep": s} sleeps s seconds after the line is written."""

import os
import time

from taskdaemon import Success, Task, run

LOG = os.open(os.environ["RUN_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
TAG = os.environ.get("RUN_LOG_TAG", "-")


def handle(task: Task) -> Success:
    os.write(LOG, f"{task.task_id} {task.attempt} {TAG}\n".encode())
    if "sleep" in task.task_data:
        time.sleep(float(task.task_data["sleep"]))
    return Success({"attempt": task.attempt})


if __name__ == "__main__":
    run(handle)
