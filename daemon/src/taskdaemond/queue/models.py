"""The records that cross the queue interface."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from taskdaemond.statuses import TaskStatus


def iso(timestamp: float | None) -> str | None:
    """A Unix timestamp as ISO 8601 UTC, as the API shows times."""
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class NewTask:
    """A task to enqueue. ``data_json`` is compact JSON of an object; ``delay`` in seconds."""

    task_type: str
    data_json: str
    priority: int
    max_retries: int
    delay: float = 0.0
    idempotency_key: str | None = None
    #: Compact JSON of the task's tags (an object of strings), None when it has none.
    tags_json: str | None = None


@dataclass(frozen=True, slots=True)
class ClaimedTask:
    """A task taken from the queue to run now; ``attempt`` is zero-based."""

    id: str
    task_type: str
    data_json: str
    attempt: int
    max_retries: int
    priority: int
    seq: int
    tags_json: str | None = None


@dataclass(frozen=True, slots=True)
class AttemptError:
    """How one attempt failed, kept with the task for good."""

    attempt: int
    error: str
    error_type: str | None
    retryable: bool
    traceback: str | None = None
    crashed: bool = False
    at: float = 0.0

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class Transition:
    """What happens to a claimed (``processing``) task once its attempt ended.

    ``status`` is the new status: completed, failed, cancelled, interrupted, or pending
    (a retry at ``run_at``, or a requeue at shutdown). Applied only while the task is
    still ``processing``, so a task deleted meanwhile stays deleted.
    """

    task_id: str
    status: TaskStatus
    result_json: str | None = None
    error: AttemptError | None = None
    run_at: float | None = None
    metadata_json: str | None = None
    crashed: bool = False
    task_type: str | None = None  # lets the scheduler wake the right dispatcher after a commit
    seq: int = 0  # the claimed task's queue position, when known: a faster key than the id
    #: The per-type counters of ``metrics.TypeMetrics`` this transition adds one to once committed.
    counters: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TaskEvent:
    """A log or progress event of a task, as the handler sent it."""

    task_id: str
    at: float
    message: dict[str, Any]


@dataclass
class TaskRecord:
    """Everything the queue knows about a task."""

    id: str
    task_type: str
    status: TaskStatus
    data: Any
    priority: int
    attempts: int
    max_retries: int
    run_at: float
    created_at: float
    updated_at: float
    seq: int = 0
    idempotency_key: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    result: Any = None
    metadata: Any = None
    last_error: str | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    logs: list[dict[str, Any]] = field(default_factory=list)
    progress: float | None = None
    progress_message: str | None = None
    crashes: int = 0
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def duration(self) -> float | None:
        """Seconds from ``started_at`` to ``finished_at`` once the task is final; else None."""
        if not self.status.is_final or self.started_at is None or self.finished_at is None:
            return None
        return max(0.0, self.finished_at - self.started_at)

    def to_api(self) -> dict[str, Any]:
        """The JSON the HTTP API answers with (TaskDaemon's fields first)."""
        return {
            "id": self.id,
            "task_type": self.task_type,
            "status": self.status.value,
            "result": self.result,
            "last_error": self.last_error,
            "data": self.data,
            "priority": self.priority,
            "attempts": self.attempts,
            "max_retries": self.max_retries,
            "crashes": self.crashes,
            "idempotency_key": self.idempotency_key,
            "tags": self.tags,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "duration": self.duration,
            "run_at": iso(self.run_at),
            "metadata": self.metadata,
            "errors": [{**e, "at": iso(e.get("at"))} for e in self.errors],
            "logs": self.logs,
            "progress": (
                None
                if self.progress is None
                else {"progress": self.progress, "message": self.progress_message}
            ),
        }


@dataclass(frozen=True, slots=True)
class TaskFilters:
    """The listing's optional filters beyond status and type (the dashboard's): created in
    ``[since, until)`` (Unix seconds), ``error`` text in the last error (case-insensitive), and
    the order (``oldest_first``: the cursor then pages forward)."""

    since: float | None = None
    until: float | None = None
    error: str | None = None
    oldest_first: bool = False
    #: (key, value): tasks whose tags hold this one.
    tag: tuple[str, str] | None = None


@dataclass(frozen=True)
class TaskPage:
    """One page of a task listing; ``next_cursor`` is None on the last page."""

    tasks: list[TaskRecord]
    next_cursor: str | None
