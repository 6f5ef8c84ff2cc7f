"""The protocol's vectors (protocol/vectors/*.json), one generated test per vector id.

lines.json: raw input lines and what the handler must answer, sent over real pipes to
tests/handlers/echo_task.py as protocol/vectors/README.md ("How to write a runner") describes.
task.json: the SDK's task checks must agree with task.schema.json on every task vector.
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

import pytest

from pysdk_support import ANSWER_TIMEOUT, VECTORS, CheckedHandlerProcess, handler_argv
from taskdaemon._parse import Malformed, task_from_value
from taskdaemon._task import Task
from taskdaemon.testing import task

if TYPE_CHECKING:
    from collections.abc import Iterator


def _load(name: str) -> list[Any]:
    """Every test of a vectors file, as a pytest param named by its id."""
    document = json.loads((VECTORS / name).read_text(encoding="utf-8"))
    return [pytest.param(test, id=test["id"]) for case in document["cases"] for test in case["tests"]]


def _line_bytes(vector: dict[str, Any]) -> bytes:
    if "line_base64" in vector:
        return base64.b64decode(vector["line_base64"])
    return str(vector["line"]).encode("utf-8")


@pytest.fixture(scope="module")
def echo_handler() -> Iterator[CheckedHandlerProcess]:
    """One handler process for all line vectors: each vector ends with its answer read."""
    with CheckedHandlerProcess(handler_argv("echo_task.py")) as handler:
        yield handler


@pytest.mark.parametrize("vector", _load("lines.json"))
def test_line_vector(echo_handler: CheckedHandlerProcess, vector: dict[str, Any]) -> None:
    why = f"{vector['description']}: {vector['why']}"
    expect = vector["expect"]
    echo_handler.send_line(_line_bytes(vector) + b"\n")
    # A probe after every line proves a skipped line got no answer and keeps the stream aligned.
    probe = task("probe", task_id=f"probe-{vector['id']}")
    echo_handler.send(probe)
    if expect["answer"] != "none":
        result, _ = echo_handler.read_result(ANSWER_TIMEOUT)
        if expect["answer"] == "task":
            assert result["status"] == "success", why
            assert result["result"] == expect["task"], why
            assert result["task_id"] == expect["task"]["task_id"], why
        else:
            assert result["status"] == "error", why
            assert result.get("retryable", False) is False, why
            assert result["error_type"] == expect["error_type"], why
            assert result.get("task_id") == expect["task_id"], why
    probe_result, _ = echo_handler.read_result(ANSWER_TIMEOUT)
    assert probe_result["task_id"] == probe["task_id"], why


@pytest.mark.parametrize("vector", _load("task.json"))
def test_task_vector(vector: dict[str, Any]) -> None:
    """The SDK accepts exactly the tasks the schema accepts."""
    parsed = task_from_value(vector["data"])
    why = f"{vector['description']}: {vector['why']}"
    if vector["valid"]:
        assert isinstance(parsed, Task), (why, parsed)
    else:
        assert isinstance(parsed, Malformed), why
        assert parsed.error.error_type == "InvalidTask", why
