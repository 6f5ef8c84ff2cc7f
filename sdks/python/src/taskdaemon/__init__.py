"""Write TaskDaemon handlers in Python.

A handler is a function that takes a `Task` and returns `Success`, `Error` or None; `run()`
serves it over the TaskDaemon protocol (JSON lines on stdin and stdout)::

    from taskdaemon import Success, Task, run

    def hello(task: Task) -> Success:
        return Success({"message": f"Hello, {task.task_data.get('name', 'World')}!"})

    if __name__ == "__main__":
        run(hello)

`taskdaemon.testing` runs a handler in a unit test, in-process or over real pipes.
"""

from __future__ import annotations

from taskdaemon._dispatch import Handler, HandlerFunction
from taskdaemon._results import Error, HandlerResult, Success
from taskdaemon._run import run
from taskdaemon._task import LOG_LEVELS, Dependency, Task
from taskdaemon._version import __version__

__all__ = [
    "LOG_LEVELS",
    "Dependency",
    "Error",
    "Handler",
    "HandlerFunction",
    "HandlerResult",
    "Success",
    "Task",
    "__version__",
    "run",
]
