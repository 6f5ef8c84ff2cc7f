"""Soak handler written with the Python SDK: records every execution, then echoes.

Each run appends "<task id> <attempt> <time>" to the file named by $SOAK_RECORD (one write of
one short line with O_APPEND: lines from several handlers never interleave), so the soak can
count how many times each task ran, and when, across daemon kills.
"""

import os
import time

from taskdaemon import Success, Task, run

RECORD = os.open(os.environ["SOAK_RECORD"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)


def record_and_echo(task: Task) -> Success:
    os.write(RECORD, f"{task.task_id} {task.attempt} {time.time():.6f}\n".encode())
    return Success(task.task_data)


run(record_and_echo)
