"""The conformance handler for the Python SDK: one behaviour per task_type (see conformance/README.md)."""

from __future__ import annotations

import math
import os
import sys
import time

from taskdaemon import Error, Success, Task, run


class ConformanceError(Exception):
    """Raised by the `raise` task type; every SDK's handler raises a class of this name."""


def echo(task: Task) -> Success:
    return Success(task.task_data)


def value(task: Task) -> Success:
    return Success(task.task_data.get("value"))


def attempt(task: Task) -> Success:
    return Success(task.attempt)


def fail(task: Task) -> Error:
    data = task.task_data
    return Error(
        data["message"],
        retryable=data.get("retryable", False),
        error_type=data.get("error_type"),
        retry_after=data.get("retry_after"),
        metadata=data.get("metadata"),
    )


def metadata(task: Task) -> Success:
    return Success(task.task_data.get("result"), metadata=task.task_data["metadata"])


def raise_(task: Task) -> None:
    raise ConformanceError(task.task_data.get("message", ""))


def unserialisable(task: Task) -> Success:
    where = task.task_data.get("where", "result")
    if where == "nested":
        return Success({"ok": [1, {"bad": math.inf}]})
    if where == "metadata":
        return Success("fine", metadata={"bad": math.nan})
    if where == "string":
        return Success({"text": "lone surrogate \ud800"})
    return Success(math.nan)


def invalid_return(_task: Task) -> object:
    return {"status": "success", "result": "not a Success"}


def noise(task: Task) -> Success:
    line = task.task_data["line"]
    print(line)
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
    print(task.task_data.get("stderr", "noise on stderr"), file=sys.stderr)
    return Success("quiet")


def sleep(task: Task) -> Success:
    time.sleep(task.task_data["ms"] / 1000)
    return Success({"slept_ms": task.task_data["ms"]})


def exit_(task: Task) -> None:
    sys.stdout.flush()
    os._exit(task.task_data["code"])


def large(task: Task) -> Success:
    return Success("x" * task.task_data["bytes"])


def events(task: Task) -> Success:
    for event in task.task_data["events"]:
        if "log" in event:
            task.log(event["log"], event.get("level", "info"))
        else:
            task.progress(event["progress"], event.get("message"))
    return Success("done")


def none(_task: Task) -> None:
    return None


def dependencies(task: Task) -> Success:
    return Success(
        {
            name: {"task_id": d.task_id, "task_type": d.task_type, "result": d.result}
            for name, d in task.dependencies.items()
        }
    )


if __name__ == "__main__":
    run(
        {
            "echo": echo,
            "value": value,
            "attempt": attempt,
            "fail": fail,
            "metadata": metadata,
            "raise": raise_,
            "unserialisable": unserialisable,
            "invalid-return": invalid_return,
            "noise": noise,
            "sleep": sleep,
            "exit": exit_,
            "large": large,
            "events": events,
            "none": none,
            "dependencies": dependencies,
        }
    )
