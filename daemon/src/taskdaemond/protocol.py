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
from taskdaemond.schemas import fast_check, validator

RESULT_SCHEMA = "result.schema.json"
EVENT_SCHEMA = "event.schema.json"
KNOWN_EVENTS = frozenset({"log", "progress"})


def task_line(
    task_id: str,
    task_type_json: str,
    data_json: str,
    attempt: int,
    tags_json: str | None = None,
    *,
    dependencies_json: str | None = None,
) -> bytes:
    """The task message, one LF-terminated line. ``task_type_json`` is the type as a JSON string
    (encoded once per instance), ``data_json`` compact JSON of an object, ``tags_json`` of the
    task's tags (the optional ``tags`` field, left out when the task has none),
    ``dependencies_json`` of its dependencies and their results (``dependencies``, likewise)."""
    tags = f',"tags":{tags_json}' if tags_json else ""
    if dependencies_json:
        tags += f',"dependencies":{dependencies_json}'
    return (
        f'{{"task_id":{json.dumps(task_id)},"task_type":{task_type_json},'
        f'"task_data":{data_json},"attempt":{attempt}{tags}}}\n'
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


def classify_line(raw: bytes) -> StdoutLine | None:  # noqa: PLR0911 - one return per kind of line
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
        return _result_line(message, raw)
    if "event" in message:
        return _event_line(message, raw)
    return SkippedLine("handler output", _short(raw))


def _result_line(message: dict[str, Any], raw: bytes) -> ResultLine | InvalidResultLine:
    if fast_check(RESULT_SCHEMA)(message):
        return ResultLine(message)
    # Refused: the reference validator says what is wrong, deepest problem first.
    problems = sorted(validator(RESULT_SCHEMA).iter_errors(message), key=lambda e: -len(e.absolute_path))
    if not problems:  # the reference has the last word (tests/test_protocol.py: they agree)
        return ResultLine(message)
    where = ".".join(str(p) for p in problems[0].absolute_path)
    detail = f"{where}: {problems[0].message}" if where else problems[0].message
    return InvalidResultLine(f"result breaks result.schema.json: {detail}", _short(raw))


def _event_line(message: dict[str, Any], raw: bytes) -> EventLine | SkippedLine:
    if message["event"] not in KNOWN_EVENTS:
        return SkippedLine(f"unknown event kind {message['event']!r}", _short(raw))
    if fast_check(EVENT_SCHEMA)(message):
        return EventLine(message)
    first = next(iter(validator(EVENT_SCHEMA).iter_errors(message)), None)
    if first is None:
        return EventLine(message)
    return SkippedLine(f"malformed event: {first.message}", _short(raw))
