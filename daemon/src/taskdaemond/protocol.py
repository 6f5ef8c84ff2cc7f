"""The protocol as the daemon reads it: task lines out, stdout lines classified in.

Every stdout line of a handler is one of: a result (a JSON object with ``status``), an event
(an object with ``event`` and no ``status``), or handler output (anything else), which is
logged and skipped. A line that claims to be a result but breaks result.schema.json is a
protocol error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from taskdaemond import jsonfast
from taskdaemond.schemas import validator

RESULT_SCHEMA = "result.schema.json"
EVENT_SCHEMA = "event.schema.json"
KNOWN_EVENTS = frozenset({"log", "progress"})


def task_line(task_id: str, task_type_json: str, data_json: str, attempt: int) -> bytes:
    """The task message, one LF-terminated line. ``task_type_json`` is the type as a JSON string
    (encoded once per instance), ``data_json`` compact JSON of an object."""
    return (
        f'{{"task_id":{json.dumps(task_id)},"task_type":{task_type_json},'
        f'"task_data":{data_json},"attempt":{attempt}}}\n'
    ).encode()


@dataclass(frozen=True, slots=True)
class ResultLine:
    """A valid result message."""

    message: dict[str, Any]


@dataclass(frozen=True, slots=True)
class InvalidResultLine:
    """A line with ``status`` that breaks result.schema.json."""

    problem: str
    text: str


@dataclass(frozen=True, slots=True)
class EventLine:
    """A valid log or progress event."""

    message: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SkippedLine:
    """Handler output, an unknown event kind or a malformed event: logged, then skipped."""

    reason: str
    text: str


StdoutLine = ResultLine | InvalidResultLine | EventLine | SkippedLine


def _short(raw: bytes, limit: int = 200) -> str:
    text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


def plainly_valid_result(message: dict[str, Any]) -> bool:
    """True when ``message`` is a result of an everyday shape that result.schema.json accepts.

    The schema constrains only these few members, so checking them decides validity; but this
    answers only "surely valid" or "not sure": every rejection, and every message of another
    shape, goes to the schema validator, which stays the authority (and names the problem).
    Why: a profile showed jsonschema at ~60 us per result, a quarter of the daemon's time per
    no-op task. tests/test_protocol.py checks this agrees with the schema on generated messages.
    """
    task_id = message.get("task_id", "-")
    metadata = message.get("metadata", _EMPTY)
    if type(task_id) is not str or not task_id or type(metadata) is not dict:
        return False
    status = message.get("status")
    if status == "success":
        return "result" in message
    if status != "error" or type(message.get("error")) is not str:
        return False
    error_type = message.get("error_type", "-")
    retry_after = message.get("retry_after", 0)
    return (
        type(message.get("retryable", False)) is bool
        and type(error_type) is str
        and bool(error_type)
        and type(retry_after) in (int, float)
        and retry_after >= 0
        and type(message.get("traceback", "")) is str
    )


_EMPTY: dict[str, Any] = {}


def classify_line(raw: bytes) -> StdoutLine | None:
    """What one stdout line is; None for a blank line (skipped silently)."""
    stripped = raw.strip()
    if not stripped:
        return None
    if not stripped.startswith(b"{"):
        return SkippedLine("handler output", _short(raw))
    try:
        message = jsonfast.loads(stripped)
    except ValueError:
        return SkippedLine("handler output", _short(raw))
    if not isinstance(message, dict):
        return SkippedLine("handler output", _short(raw))
    if "status" in message:
        result_validator = validator(RESULT_SCHEMA)
        if plainly_valid_result(message) or result_validator.is_valid(message):
            return ResultLine(message)
        problems = sorted(result_validator.iter_errors(message), key=lambda e: -len(e.absolute_path))
        where = ".".join(str(p) for p in problems[0].absolute_path)
        detail = f"{where}: {problems[0].message}" if where else problems[0].message
        return InvalidResultLine(f"result breaks result.schema.json: {detail}", _short(raw))
    if "event" in message:
        if message["event"] not in KNOWN_EVENTS:
            return SkippedLine(f"unknown event kind {message['event']!r}", _short(raw))
        event_validator = validator(EVENT_SCHEMA)
        if event_validator.is_valid(message):
            return EventLine(message)
        first = next(iter(event_validator.iter_errors(message)))
        return SkippedLine(f"malformed event: {first.message}", _short(raw))
    return SkippedLine("handler output", _short(raw))
