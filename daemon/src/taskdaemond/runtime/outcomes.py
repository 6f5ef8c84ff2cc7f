"""What one attempt of a task came to, as the runtime saw it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Succeeded:
    """The handler answered ``{"status": "success"}``."""

    result: Any
    metadata: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class HandlerFailed:
    """The handler answered ``{"status": "error"}``."""

    error: str
    retryable: bool = False
    error_type: str | None = None
    retry_after: float | None = None
    traceback: str | None = None
    metadata: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Crashed:
    """The handler exited, or closed its stdout, with the task in hand. Retryable."""

    error: str
    exit_code: int | None = None
    stderr_tail: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class TimedOut:
    """The attempt ran past the handler's timeout; the instance was killed. Retryable."""

    error: str


@dataclass(frozen=True, slots=True)
class ProtocolViolation:
    """The handler broke the protocol; ``restart`` when the instance is out of step."""

    error: str
    restart: bool = False


@dataclass(frozen=True, slots=True)
class Aborted:
    """The daemon stopped the instance on purpose: ``reason`` is "cancelled" or "interrupted"."""

    reason: str


Outcome = Succeeded | HandlerFailed | Crashed | TimedOut | ProtocolViolation | Aborted
