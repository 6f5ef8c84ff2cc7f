"""The task queue: one interface, a SQLite implementation (default) and an in-memory twin."""

from taskdaemond.queue.base import TaskQueue, open_queue
from taskdaemond.queue.models import (
    AttemptError,
    ClaimedTask,
    NewTask,
    TaskEvent,
    TaskPage,
    TaskRecord,
    Transition,
)

__all__ = [
    "AttemptError",
    "ClaimedTask",
    "NewTask",
    "TaskEvent",
    "TaskPage",
    "TaskQueue",
    "TaskRecord",
    "Transition",
    "open_queue",
]
