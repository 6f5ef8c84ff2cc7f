"""Turn one input line (bytes) into a Task, a rejection, or nothing (a blank line).

Protocol sections 2 (framing), 3 (the task message) and 8 (malformed task lines).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Union

from taskdaemon._results import Error
from taskdaemon._task import (
    NO_DEPENDENCIES,
    Dependency,
    Problem,
    Task,
    attempt_problem,
    dependencies_from_value,
    dependencies_problem,
    json_type_name,
    tags_problem,
    task_data_problem,
    task_id_problem,
    task_type_problem,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

#: Bytes that make a line blank when it holds nothing else (protocol section 2).
BLANK_BYTES = b" \t\r\n"


@dataclass(frozen=True)
class Malformed:
    """A non-blank line that is not a valid task: the error to answer, and the id to echo."""

    error: Error
    task_id: str | None


ParsedLine = Union[Task, Malformed, None]

_UNSET = object()

#: A \\u escape of a surrogate code unit: only then can a decoded string hold a lone surrogate.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _reject_constant(name: str) -> Any:
    # json accepts NaN, Infinity and -Infinity by default; they are not JSON (RFC 8259).
    msg = f"{name} is not valid JSON"
    raise ValueError(msg)


# One decoder for every line: json.loads() with a parse_constant builds a new one per call.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def _malformed(error_type: str, message: str, task_id: str | None = None) -> Malformed:
    return Malformed(Error(message, retryable=False, error_type=error_type), task_id)


def strip_line_end(raw: bytes) -> bytes:
    """Remove a trailing LF, then one CR before it."""
    if raw.endswith(b"\n"):
        raw = raw[:-1]
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    return raw


def parse_line(raw: bytes) -> ParsedLine:
    """Parse one line as read from stdin, with or without its line end.

    Returns None for a blank line (no answer), a `Task` for a valid task, or a `Malformed`
    carrying the error result to send (InvalidEncoding, InvalidJSON or InvalidTask).
    """
    line = strip_line_end(raw)
    if not line.strip(BLANK_BYTES):
        return None
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _malformed(
            "InvalidEncoding",
            f"line is not valid UTF-8: {exc.reason} at byte {exc.start}",
        )
    try:
        value = _DECODER.decode(text)
    except RecursionError:
        return _malformed("InvalidJSON", "line is not valid JSON: nested too deeply")
    except ValueError as exc:  # json.JSONDecodeError is a ValueError, so are huge integers
        return _malformed("InvalidJSON", f"line is not valid JSON: {exc}")
    if _SURROGATE_ESCAPE.search(text):
        surrogate = _lone_surrogate(value)
        if surrogate is not None:
            return _malformed(
                "InvalidJSON",
                f"line is not valid JSON: a string holds the lone surrogate \\u{surrogate:04x}, "
                "which is not Unicode text",
            )
    return _everyday_task(value) or task_from_value(value)


def _everyday_task(value: object) -> Task | None:
    """Build the Task of a well-formed task line at once, or return None for the full checks.

    Only for values decoded here, after the lone-surrogate check: decoded text holds no lone
    surrogate, so fields of the right types and non-empty strings are all that is left to check.
    """
    if type(value) is not dict:
        return None
    task_id = value.get("task_id")
    task_type = value.get("task_type")
    task_data = value.get("task_data")
    attempt = value.get("attempt")
    if (
        type(task_id) is str
        and task_id
        and type(task_type) is str
        and task_type
        and type(task_data) is dict
        and type(attempt) is int
        and attempt >= 0
        and "tags" not in value  # tags and dependencies are checked by the full path
        and "dependencies" not in value
    ):
        return Task(task_id, task_type, task_data, attempt)
    return None


def _lone_surrogate(value: object) -> int | None:
    """Find the first unpaired surrogate in any string (key or value) of a decoded value.

    json.loads turns a valid escaped pair into one character, so a surrogate left is a lone one.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found = _SURROGATE.search(item)
            if found:
                return ord(found.group())
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def task_from_value(value: object) -> Task | Malformed:
    """Check a decoded JSON value against the task message and build the Task."""
    if not isinstance(value, dict):
        got = json_type_name(value)
        return _malformed("InvalidTask", f"a task must be a JSON object, got {got}")

    problem = _field_problem(value, "task_id", task_id_problem)
    if problem is not None:
        return _malformed("InvalidTask", problem)
    task_id: str = value["task_id"]

    attempt: Any = value.get("attempt")
    if isinstance(attempt, float) and attempt.is_integer():
        # JSON Schema counts 1.0 as an integer; the protocol lets a handler accept it (section 3).
        attempt = int(attempt)
    checks = (
        _field_problem(value, "task_type", task_type_problem),
        _field_problem(value, "task_data", task_data_problem),
        _field_problem(value, "attempt", attempt_problem, attempt),
    )
    for problem in checks:
        if problem is not None:
            return _malformed("InvalidTask", problem, task_id)
    tags = value.get("tags", {})
    if "tags" in value:
        tags_fault = tags_problem(tags)
        if tags_fault is not None:
            return _malformed("InvalidTask", tags_fault.message, task_id)
    dependencies: Mapping[str, Dependency] = NO_DEPENDENCIES
    if "dependencies" in value:
        dependencies_fault = dependencies_problem(value["dependencies"])
        if dependencies_fault is not None:
            return _malformed("InvalidTask", dependencies_fault.message, task_id)
        dependencies = dependencies_from_value(value["dependencies"])
    return Task(task_id, value["task_type"], value["task_data"], attempt, tags, dependencies)


def _field_problem(
    value: dict[str, Any],
    name: str,
    check: Callable[[object], Problem | None],
    normalised: object = _UNSET,
) -> str | None:
    if name not in value:
        return f"{name} is missing"
    problem = check(value[name] if normalised is _UNSET else normalised)
    return None if problem is None else problem.message
