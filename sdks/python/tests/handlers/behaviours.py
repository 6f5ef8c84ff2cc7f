"""One program serving many task types, each a behaviour the tests check over real pipes.

A mapping handler: a task_type not listed here gets UnknownTaskType.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from typing import Any

from taskdaemon import Error, HandlerFunction, Success, Task, run


def echo(task: Task) -> Success:
    return Success(task.task_data)


def raise_exception(task: Task) -> None:
    raise ValueError(task.task_data.get("message", "boom"))


def raise_empty(task: Task) -> None:  # noqa: ARG001
    raise RuntimeError


class _Opaque:
    """Something json cannot encode."""


UNSERIALISABLE: dict[str, Any] = {
    "object": _Opaque(),
    "nan": float("nan"),
    "infinity": [float("inf")],
    "surrogate": "lone \ud800 surrogate",
    "tuple_key": {(1, 2): "x"},
    "set": {1, 2},
}


def unserialisable(task: Task) -> Success:
    return Success(UNSERIALISABLE[task.task_data["kind"]])


def unserialisable_metadata(task: Task) -> Success:  # noqa: ARG001
    return Success("fine", metadata={"when": _Opaque()})


def fake_result_line(task: Task) -> str:
    return json.dumps({"status": "success", "result": "FAKE", "task_id": task.task_id})


def print_result(task: Task) -> Success:
    print(fake_result_line(task))
    sys.stdout.flush()
    return Success("real")


def child_output(task: Task) -> Success:
    subprocess.run(["echo", fake_result_line(task)], check=True)
    os.write(1, (fake_result_line(task) + "\n").encode())
    return Success("real")


def child_reads_stdin(task: Task) -> Success:  # noqa: ARG001
    completed = subprocess.run(["cat"], capture_output=True, check=True, timeout=10)
    return Success({"child_read": completed.stdout.decode()})


def slow(task: Task) -> Success:
    task.progress(0.0, "starting")
    sys.stderr.write(f"started {task.task_id}\n")
    sys.stderr.flush()
    time.sleep(float(task.task_data.get("seconds", 1)))
    task.progress(1.0)
    return Success("done")


def events(task: Task) -> Success:
    for level in ("debug", "info", "warning", "error"):
        task.log(f"at {level}", level=level)
    task.progress(0.5, "half")
    task.progress(1)
    return Success("logged")


def return_value(task: Task) -> Any:
    return task.task_data.get("value")


def return_error(task: Task) -> Error:  # noqa: ARG001
    return Error(
        "upstream unavailable",
        retryable=True,
        error_type="UpstreamUnavailable",
        retry_after=2.5,
        metadata={"tries": 3},
    )


def exit_now(task: Task) -> None:
    sys.exit(task.task_data.get("code", 3))


async def async_echo(task: Task) -> Success:
    await asyncio.sleep(0)
    return Success(task.task_data)


BEHAVIOURS: dict[str, HandlerFunction] = {
    "echo": echo,
    "raise": raise_exception,
    "raise_empty": raise_empty,
    "unserialisable": unserialisable,
    "unserialisable_metadata": unserialisable_metadata,
    "print_result": print_result,
    "child_output": child_output,
    "child_reads_stdin": child_reads_stdin,
    "slow": slow,
    "events": events,
    "return_value": return_value,
    "return_error": return_error,
    "exit": exit_now,
    "async_echo": async_echo,
}

if __name__ == "__main__":
    run(BEHAVIOURS)
