"""The two answers a handler can give: `Success` and `Error`, and their wire form."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Union


def _check_metadata(metadata: object) -> None:
    if metadata is not None and not isinstance(metadata, dict):
        msg = f"metadata must be a dict or None, got {type(metadata).__name__}"
        raise TypeError(msg)


def _check_optional_str(name: str, value: object, *, allow_empty: bool = True) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        msg = f"{name} must be a str or None, got {type(value).__name__}"
        raise TypeError(msg)
    if not allow_empty and not value:
        msg = f"{name} must not be empty"
        raise ValueError(msg)


@dataclass(frozen=True)
class Success:
    """The task was done; `result` is its value (any JSON-serialisable value, None included).

    `metadata`, when given, is a dict of figures about the run (durations, counts, versions)
    that the daemon keeps beside the result.
    """

    result: Any = None
    metadata: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        """Reject arguments the protocol cannot carry."""
        _check_metadata(self.metadata)

    def to_message(self, task_id: str | None = None) -> dict[str, Any]:
        """Return the result message as a dict, in wire order, with `task_id` when given."""
        message: dict[str, Any] = {"status": "success", "result": self.result}
        if task_id is not None:
            message["task_id"] = task_id
        if self.metadata is not None:
            message["metadata"] = self.metadata
        return message


@dataclass(frozen=True)
class Error:
    """The task was not done; `error` says why.

    `retryable` says whether a later attempt may succeed (default False). `error_type` is a short
    machine-readable category, `retry_after` the seconds to wait before that attempt, `traceback`
    the stack trace behind the error (set by the SDK for uncaught exceptions), `metadata` as for
    `Success`.
    """

    error: str
    retryable: bool = False
    error_type: str | None = None
    retry_after: float | None = None
    metadata: dict[str, Any] | None = None
    traceback: str | None = None

    def __post_init__(self) -> None:
        """Reject arguments the protocol cannot carry."""
        if not isinstance(self.error, str):
            msg = f"error must be a str, got {type(self.error).__name__}"
            raise TypeError(msg)
        if not isinstance(self.retryable, bool):
            msg = f"retryable must be a bool, got {type(self.retryable).__name__}"
            raise TypeError(msg)
        _check_optional_str("error_type", self.error_type, allow_empty=False)
        _check_retry_after(self.retry_after)
        _check_metadata(self.metadata)
        _check_optional_str("traceback", self.traceback)

    def to_message(self, task_id: str | None = None) -> dict[str, Any]:
        """Return the result message as a dict, in wire order, with `task_id` when given.

        `retryable` is always written, so a reader never has to know its default.
        """
        message: dict[str, Any] = {
            "status": "error",
            "error": self.error,
            "retryable": self.retryable,
        }
        if task_id is not None:
            message["task_id"] = task_id
        if self.error_type is not None:
            message["error_type"] = self.error_type
        if self.retry_after is not None:
            message["retry_after"] = self.retry_after
        if self.traceback is not None:
            message["traceback"] = self.traceback
        if self.metadata is not None:
            message["metadata"] = self.metadata
        return message


def _check_retry_after(retry_after: object) -> None:
    if retry_after is None:
        return
    if isinstance(retry_after, bool) or not isinstance(retry_after, (int, float)):
        msg = f"retry_after must be a number of seconds or None, got {type(retry_after).__name__}"
        raise TypeError(msg)
    if not math.isfinite(retry_after) or retry_after < 0:
        msg = f"retry_after must be a finite number of seconds >= 0, got {retry_after!r}"
        raise ValueError(msg)


#: What a handler function may return: a result, or None for `Success(None)`.
HandlerResult = Union[Success, Error, None]
