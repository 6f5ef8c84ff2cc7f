"""Answers each task with its four fields: the handler the protocol vectors' README asks for."""

from __future__ import annotations

from taskdaemon import Success, Task, run


def echo_task(task: Task) -> Success:
    return Success(
        {
            "task_id": task.task_id,
            "task_type": task.task_type,
            "task_data": task.task_data,
            "attempt": task.attempt,
        },
    )


if __name__ == "__main__":
    run(echo_task)
