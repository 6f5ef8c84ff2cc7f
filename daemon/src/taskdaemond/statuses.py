"""Task statuses: the values stored in the queue and shown by the API."""

from enum import StrEnum


class TaskStatus(StrEnum):
    """The life of a task; each value is the wire and database string."""

    #: Submitted with dependencies that have not all completed: never claimed, so claims
    #: never scan it; it becomes pending in the transaction that completes its last dependency.
    WAITING = "waiting"
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"

    @property
    def is_final(self) -> bool:
        """True when nothing will happen to the task unless someone redrives it."""
        return self in FINAL_STATUSES


FINAL_STATUSES = frozenset(
    {TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED, TaskStatus.INTERRUPTED}
)

#: Statuses from which POST /api/tasks/{id}/redrive starts a task again.
REDRIVABLE_STATUSES = frozenset({TaskStatus.FAILED, TaskStatus.INTERRUPTED})

#: Final statuses that are not success: a dependency ending so fails or cancels its dependents.
UNSUCCESSFUL_STATUSES = FINAL_STATUSES - {TaskStatus.COMPLETED}


def sql_literal(status: TaskStatus) -> str:
    """``status`` as an SQL string literal, for statements built from these constants only."""
    return f"'{status.value}'"


class StatusFilter(StrEnum):
    """What ``GET /api/tasks?status=`` accepts: every status, and the names another task manager
    gives two of them (``running`` for processing, ``success`` for completed)."""

    WAITING = "waiting"
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"
    RUNNING = "running"
    SUCCESS = "success"

    @property
    def status(self) -> TaskStatus:
        """The stored status this filter names."""
        return STATUS_ALIASES.get(self.value) or TaskStatus(self.value)


#: Status names other task managers use, and ours they stand for.
STATUS_ALIASES = {"running": TaskStatus.PROCESSING, "success": TaskStatus.COMPLETED}
