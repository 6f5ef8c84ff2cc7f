"""Compare a message a handler wrote with the message a case expects.

Values are equal as JSON values: numbers by value (1 and 1.0 are equal; true is not 1), objects
by members. A matcher object ({"match": ...}) in the expected message stands for a value that
honestly differs between languages. Members the protocol does not define may be added by a
handler (receivers ignore them); members it defines must be exactly those expected, except that
a member the protocol gives a default (`retryable`, false) may be left out when it has that value.
"""

from __future__ import annotations

import re
from typing import Any

#: Members of results and events that the protocol defines: an unexpected one is a difference.
PROTOCOL_MEMBERS = frozenset(
    {
        "status",
        "result",
        "error",
        "retryable",
        "error_type",
        "retry_after",
        "traceback",
        "metadata",
        "task_id",
        "event",
        "level",
        "progress",
        "message",
    }
)

#: Members a receiver reads as a default when they are absent, by the message's `status`
#: (protocol section 4.2): writing the default is optional, so absent and default compare equal.
DEFAULTS: dict[str, dict[str, Any]] = {"error": {"retryable": False}}

_SHORT = 80


def short(value: Any) -> str:
    """A one-line rendering of `value`, cut to a readable length."""
    text = repr(value)
    if len(text) > _SHORT:
        return f"{text[: _SHORT - 20]}...({len(text)} chars)"
    return text


def _is_matcher(value: Any) -> bool:
    return isinstance(value, dict) and "match" in value and set(value) <= {"match", "pattern"}


def _match(expected: dict[str, Any], actual: Any, path: str) -> str | None:
    kind = expected["match"]
    if kind == "any":
        return None
    if not isinstance(actual, str):
        return f"{path}: expected a string, got {short(actual)}"
    if kind == "regex" and re.search(expected["pattern"], actual) is None:
        return f"{path}: {short(actual)} does not match /{expected['pattern']}/"
    return None


def _same_number(expected: Any, actual: Any) -> bool:
    numbers = (int, float)
    return (
        isinstance(expected, numbers)
        and isinstance(actual, numbers)
        and not isinstance(expected, bool)
        and not isinstance(actual, bool)
        and expected == actual
    )


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _object_difference(expected: dict[str, Any], actual: Any, path: str) -> str | None:
    if not isinstance(actual, dict):
        return f"{path or '(value)'}: expected an object, got {short(actual)}"
    for key, item in expected.items():
        if key not in actual:
            return f"{_join(path, key)}: missing"
        found = difference(item, actual[key], _join(path, key))
        if found:
            return found
    # Inside values every member counts; on the message itself only members the protocol defines do.
    for key in actual:
        if key not in expected and (path or key in PROTOCOL_MEMBERS):
            return f"{_join(path, key)}: not expected, got {short(actual[key])}"
    return None


def _array_difference(expected: list[Any], actual: Any, path: str) -> str | None:
    if not isinstance(actual, list):
        return f"{path or '(value)'}: expected an array, got {short(actual)}"
    if len(expected) != len(actual):
        return f"{path or '(value)'}: expected {len(expected)} items, got {len(actual)}"
    for index, (want, got) in enumerate(zip(expected, actual, strict=True)):
        found = difference(want, got, f"{path}[{index}]")
        if found:
            return found
    return None


def difference(expected: Any, actual: Any, path: str = "") -> str | None:
    """The first difference between `expected` and `actual`, as "path: what", or None."""
    if _is_matcher(expected):
        return _match(expected, actual, path or "(value)")
    if isinstance(expected, dict):
        return _object_difference(expected, actual, path)
    if isinstance(expected, list):
        return _array_difference(expected, actual, path)
    if _same_number(expected, actual):
        return None
    if type(expected) is not type(actual) or expected != actual:
        return f"{path or '(value)'}: expected {short(expected)}, got {short(actual)}"
    return None


def with_defaults(message: Any) -> Any:
    """`message` with the protocol's defaults filled in for the members it leaves out."""
    status = message.get("status") if isinstance(message, dict) else None
    if isinstance(status, str) and status in DEFAULTS:
        return {**message, **{k: v for k, v in DEFAULTS[status].items() if k not in message}}
    return message


def message_difference(expected: Any, actual: Any) -> str | None:
    """The first difference between an expected message and one a handler wrote, defaults applied."""
    return difference(with_defaults(expected), with_defaults(actual))
