"""Prints to stdout before and after run(): both must reach the real stdout, unlike the task's."""

from __future__ import annotations

import os
import signal
import sys

from taskdaemon import Task, run


def noisy(task: Task) -> None:
    print(f"during {task.task_id}")


if __name__ == "__main__":
    print("before run")
    run(noisy)
    print("after run")
    sys.stdout.flush()
    os.write(1, b"after run, fd 1\n")
    restored = signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    print(f"SIGTERM handler restored: {restored}")
    print(f"stdin is the real one again: {sys.stdin.readline() == ''}")
