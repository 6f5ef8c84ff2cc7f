"""Echo handler written with the Python SDK: answers each task with its task_data."""

from taskdaemon import Success, Task, run


def echo(task: Task) -> Success:
    return Success(task.task_data)


run(echo)
