"""What one attempt of a task came to, as the runtime saw it.

Each outcome classifies itself: the ``error_type`` it is recorded under, whether the task may
run again, what becomes of the handler instance, and which counter it adds to. The retry
decision (``retries.decide``), the pool and ``taskdaemond call`` read these; none of them
asks which class it holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar

from taskdaemond.statuses import TaskStatus


class InstanceFate(Enum):
    """What the pool does with the instance after an attempt."""

    #: The handler answered in step: it takes the next task.
    KEEP = "keep"
    #: The daemon stopped it, or it is out of step: replace it at once.
    REPLACE = "replace"
    #: It failed (crashed, timed out): replace it after the crash-loop delay.
    REPLACE_AFTER_FAILURE = "replace-after-failure"


class _Failure:
    """What the failures the daemon observes itself (not the handler's own answer) share."""

    __slots__ = ()
    error: str
    #: The error type the attempt is recorded under.
    error_type: ClassVar[str]
    #: True when the task may run again (within its retry budget).
    retryable: ClassVar[bool]
    #: The ``metrics.TypeMetrics`` counter this outcome adds one to, besides its final status.
    counter: ClassVar[str | None] = None
    #: True when the handler answered the task: its instance's crash streak ends.
    answered: ClassVar[bool] = False
    #: False when the daemon stopped the attempt itself: its duration says nothing of the handler.
    measured: ClassVar[bool] = True
    retry_after: ClassVar[float | None] = None

    @property
    def fate(self) -> InstanceFate:
        return InstanceFate.REPLACE_AFTER_FAILURE

    @property
    def message(self) -> str:
        return self.error

    @property
    def traceback(self) -> str | None:
        return None

    def as_result(self) -> dict[str, Any]:
        """The outcome as the result message a handler would have sent for it."""
        return {
            "status": "error",
            "error": self.message,
            "retryable": self.retryable,
            "error_type": self.error_type,
        }


@dataclass(frozen=True, slots=True)
class Succeeded:
    """The handler answered ``{"status": "success"}``."""

    result: Any
    metadata: dict[str, Any] | None = None
    error_type: ClassVar[str | None] = None
    retryable: ClassVar[bool] = False
    counter: ClassVar[str | None] = None
    answered: ClassVar[bool] = True
    measured: ClassVar[bool] = True
    fate: ClassVar[InstanceFate] = InstanceFate.KEEP
    message: ClassVar[str] = ""
    traceback: ClassVar[str | None] = None
    retry_after: ClassVar[float | None] = None

    def as_result(self) -> dict[str, Any]:
        return {"status": "success", "result": self.result, "metadata": self.metadata}


@dataclass(frozen=True, slots=True)
class HandlerFailed:
    """The handler answered ``{"status": "error"}``: its answer says whether to retry, and why."""

    error: str
    retryable: bool = False
    error_type: str | None = None
    retry_after: float | None = None
    traceback: str | None = None
    metadata: dict[str, Any] | None = None
    counter: ClassVar[str | None] = None
    answered: ClassVar[bool] = True
    measured: ClassVar[bool] = True
    fate: ClassVar[InstanceFate] = InstanceFate.KEEP

    @property
    def message(self) -> str:
        return self.error

    def as_result(self) -> dict[str, Any]:
        return {
            "status": "error",
            "error": self.error,
            "retryable": self.retryable,
            "error_type": self.error_type,
            "retry_after": self.retry_after,
            "traceback": self.traceback,
        }


@dataclass(frozen=True, slots=True)
class Crashed(_Failure):
    """The handler exited, or closed its stdout, with the task in hand."""

    error: str
    exit_code: int | None = None
    stderr_tail: list[str] = field(default_factory=list)
    error_type: ClassVar[str] = "HandlerCrashed"
    retryable: ClassVar[bool] = True
    counter: ClassVar[str | None] = "crashes"

    @property
    def traceback(self) -> str | None:
        return "\n".join(self.stderr_tail) or None


@dataclass(frozen=True, slots=True)
class TimedOut(_Failure):
    """The attempt ran past the handler's timeout; the instance was killed."""

    error: str
    error_type: ClassVar[str] = "Timeout"
    retryable: ClassVar[bool] = True
    counter: ClassVar[str | None] = "timeouts"


@dataclass(frozen=True, slots=True)
class ProtocolViolation(_Failure):
    """The handler broke the protocol; ``restart`` when the instance is out of step."""

    error: str
    restart: bool = False
    error_type: ClassVar[str] = "ProtocolError"
    retryable: ClassVar[bool] = False
    answered: ClassVar[bool] = True

    @property
    def fate(self) -> InstanceFate:
        return InstanceFate.REPLACE if self.restart else InstanceFate.KEEP


@dataclass(frozen=True, slots=True)
class Aborted(_Failure):
    """The daemon stopped the instance on purpose: ``reason`` is CANCELLED or INTERRUPTED."""

    reason: str
    error_type: ClassVar[str] = "Interrupted"
    retryable: ClassVar[bool] = True
    measured: ClassVar[bool] = False

    @property
    def cancelled(self) -> bool:
        return self.reason == CANCELLED

    @property
    def fate(self) -> InstanceFate:
        return InstanceFate.REPLACE

    @property
    def message(self) -> str:
        return self.reason


#: Why the daemon aborts an attempt: the status the task gets for it.
CANCELLED = TaskStatus.CANCELLED
INTERRUPTED = TaskStatus.INTERRUPTED

Outcome = Succeeded | HandlerFailed | Crashed | TimedOut | ProtocolViolation | Aborted
