"""Encode results and events as protocol lines: compact JSON, UTF-8, LF-terminated.

A result that JSON cannot carry becomes an UnserialisableResult error, so every task gets an
answer whatever its handler returned (protocol section 7).
"""

from __future__ import annotations

import json
from typing import Any

from taskdaemon._results import Error, Success

#: The error_type of a result that could not be encoded.
UNSERIALISABLE = "UnserialisableResult"


# One encoder for every line: json.dumps() with options builds a new one per call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def dumps_line(message: dict[str, Any]) -> bytes:
    """Encode one message as a protocol line; raise if JSON or UTF-8 cannot carry it.

    allow_nan=False refuses NaN and infinities; the strict UTF-8 encode refuses lone surrogates.
    """
    return _ENCODER.encode(message).encode("utf-8") + b"\n"


def _describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    # The description itself must be encodable, whatever the exception's text holds.
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _first_unencodable(result: Success | Error) -> str:
    """Name the field that breaks the encoding: the wire fields, in wire order."""
    for name, value in result.to_message().items():
        if not _encodes({name: value}):
            return name
    return "result"


def _encodes(message: dict[str, Any]) -> bool:
    try:
        dumps_line(message)
    except Exception:  # noqa: BLE001 - any failure means this part is the culprit
        return False
    return True


def encode_result(
    result: Success | Error,
    task_id: str | None,
) -> tuple[bytes, Success | Error]:
    """Encode a result for the task `task_id`; return the line and the result it carries.

    The carried result is `result` itself, or the UnserialisableResult error that replaced it.
    """
    try:
        return dumps_line(result.to_message(task_id)), result
    except Exception as exc:  # noqa: BLE001 - whatever the encoder raises, the task gets an answer
        field = _first_unencodable(result)
        replacement = Error(
            f"{field} is not JSON-serialisable: {_describe(exc)}",
            retryable=False,
            error_type=UNSERIALISABLE,
        )
        return dumps_line(replacement.to_message(task_id)), replacement


def encode_event(event: dict[str, Any]) -> bytes:
    """Encode an event line; text JSON cannot carry (lone surrogates) is replaced, not fatal.

    An event is a side channel: losing a character of a log message beats failing the task.
    """
    try:
        return dumps_line(event)
    except UnicodeEncodeError:
        text = json.dumps(event, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        return text.encode("utf-8", "replace") + b"\n"
