"""Encode results and events as protocol lines: compact JSON, UTF-8, LF-terminated.

A result that JSON cannot carry becomes an UnserialisableResult error, so every task gets an
answer whatever its handler returned (protocol section 7).
"""

from __future__ import annotations

import json
import json.encoder
from json.encoder import encode_basestring
from typing import TYPE_CHECKING, Any

from taskdaemon._results import Error, Success

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

#: The error_type of a result that could not be encoded.
UNSERIALISABLE = "UnserialisableResult"


# One encoder for every line: json.dumps() with options builds a new one per call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))

#: CPython's C encoder, None where Python has none; the one JSONEncoder uses (not in the stubs).
_C_MAKE_ENCODER: Callable[..., Callable[[Any, int], Iterable[str]]] | None = getattr(
    json.encoder, "c_make_encoder", None
)

#: Strings from this length on are checked for characters JSON escapes in bulk, not one by one.
_LONG_STRING = 4096
#: The ASCII characters a JSON string cannot hold as they are: controls, quote, backslash.
_ESCAPED = bytes(range(0x20)) + b'"\\'


def _encode_string(text: str) -> str:
    """One string as JSON text, as the standard encoder writes it with ensure_ascii=False.

    The C encoder looks at every character in turn: a 16 MiB string takes it about 120 ms. A
    long ASCII string without a character to escape (a payload, base64) needs only its quotes;
    telling that takes a bulk byte scan, about a quarter of that time.
    """
    if len(text) >= _LONG_STRING and text.isascii():
        raw = text.encode("ascii")
        if len(raw.translate(None, _ESCAPED)) == len(raw):
            return f'"{text}"'
    return encode_basestring(text)


def _json_line(message: dict[str, Any]) -> str:
    """Compact JSON of `message` and its LF, as `_ENCODER` writes it.

    Through the C encoder `_ENCODER` itself would use, given the string encoder above; through
    `_ENCODER` where Python has no C encoder (it is CPython's accelerator).
    """
    if _C_MAKE_ENCODER is None:
        return _ENCODER.encode(message) + "\n"
    # A fresh marker dict per call, as JSONEncoder.iterencode makes: it finds circular
    # references, and an encoding that failed half-way may leave entries in it.
    e = _ENCODER
    encode = _C_MAKE_ENCODER(
        {},
        e.default,
        _encode_string,
        None,
        e.key_separator,
        e.item_separator,
        e.sort_keys,
        e.skipkeys,
        e.allow_nan,
    )
    chunks = encode(message, 0)
    return "".join((*chunks, "\n"))


def dumps_line(message: dict[str, Any]) -> bytes:
    """Encode one message as a protocol line; raise if JSON or UTF-8 cannot carry it.

    allow_nan=False refuses NaN and infinities; the strict UTF-8 encode refuses lone surrogates.
    """
    return _json_line(message).encode("utf-8")


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
