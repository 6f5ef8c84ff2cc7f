"""The public API as a user writes it; checked by mypy --strict (never run).

A line that stops type-checking here is a breaking change of the API's types.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from taskdaemon import (
    Dependency,
    Error,
    Handler,
    HandlerFunction,
    HandlerResult,
    Success,
    Task,
    run,
)
from taskdaemon.exceptions import TaskDaemonError
from taskdaemon.testing import HandlerExited, HandlerProcess, HandlerTimeout, Outcome, call, task

if TYPE_CHECKING:
    from collections.abc import Mapping


def sync_handler(task: Task) -> Success | Error:
    name: str = task.task_data.get("name", "World")
    attempt: int = task.attempt
    task.log(f"attempt {attempt}", level="debug")
    task.progress(0.5, "half")
    if not name:
        return Error("no name", retryable=True, error_type="NoName", retry_after=1.5, metadata={})
    return Success({"message": f"Hello, {name}!"}, metadata={"n": 1})


def reads_its_parent(task: Task) -> Success:
    parents: Mapping[str, Dependency] = task.dependencies
    load: Dependency = parents["load"]
    parent_id: str = load.task_id
    parent_type: str = load.task_type
    return Success({"parent": parent_id, "type": parent_type, "rows": load.result})


def returns_none(task: Task) -> None:
    task.log(task.task_id)


async def async_handler(task: Task) -> Success:
    return Success(task.task_data)


def run_them() -> None:
    run(sync_handler)
    run(returns_none)
    run(async_handler)
    run({"hello": sync_handler, "quiet": returns_none, "async": async_handler})
    handlers: Mapping[str, HandlerFunction] = {"hello": sync_handler}
    run(handlers)
    as_handler: Handler = async_handler
    run(as_handler)


def test_them() -> None:
    outcome: Outcome = call(sync_handler, {"name": "Ada"}, task_type="hello", task_id="t", attempt=0)
    ok: bool = outcome.ok
    message: dict[str, Any] = outcome.message
    events: list[dict[str, Any]] = outcome.events
    output: str = outcome.output
    answer: Success | Error = outcome.result
    maybe: HandlerResult = answer
    del ok, message, events, output, maybe

    parent = Dependency("t1", "fetch", {"rows": 42})
    step: Outcome = call(reads_its_parent, {}, dependencies={"load": parent})
    step_message: dict[str, Any] = task("report", dependencies={"load": parent})
    del step, step_message

    with HandlerProcess(["python3", "handler.py"], cwd=".", env={"A": "1"}) as handler:
        handler.send(task("hello", {"name": "Ada"}, task_id="t", attempt=1))
        handler.send_line(b"{}")
        handler.send_line("{}")
        result, found = handler.read_result(timeout=5.0)
        other: dict[str, Any] = handler.read_message(timeout=1)
        handler.terminate()
        code: int = handler.wait(timeout=5)
        pid: int = handler.pid
        returncode: int | None = handler.returncode
        stderr: str = handler.stderr_text
        stray: list[str] = handler.stray_lines
        handler.close_stdin()
        handler.kill()
        del result, found, other, code, pid, returncode, stderr, stray


def errors(exc: Exception) -> str:
    if isinstance(exc, (HandlerTimeout, HandlerExited)):
        return exc.stderr_tail
    if isinstance(exc, TaskDaemonError):
        return str(exc)
    return ""
