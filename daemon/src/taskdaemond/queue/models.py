"""The records that cross the queue interface."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from taskdaemond import jsonfast
from taskdaemond.statuses import FINAL_STATUSES, TaskStatus


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
    #: The tasks this one waits for, as (key, task id): the key names the dependency in the task
    #: message's ``dependencies`` (its step name in a workflow, else its id). Each must exist.
    dependencies: tuple[tuple[str, str], ...] = ()
    #: What a dependency failing for good does to this task: ``fail`` or ``cancel`` it.
    on_dependency_failure: str = "fail"
    #: Set for a workflow's steps: the id is chosen before the submit (steps name each other).
    task_id: str | None = None
    workflow_id: str | None = None
    step: str | None = None
    #: True once the queue encrypted data_json (encryption.py); set by the queue, not by callers.
    encrypted: bool = False


@dataclass(slots=True)
class DependentChanges:
    """What a transaction did to dependents: ``released`` (id, task type) are now pending,
    ``ended`` ids were failed or cancelled because a dependency failed for good."""

    released: list[tuple[str, str]] = field(default_factory=list)
    ended: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.released or self.ended)


@dataclass(frozen=True, slots=True)
class NewWorkflow:
    """A workflow's own record; its steps are NewTasks carrying its id, in dependency order."""

    id: str
    steps: tuple[NewTask, ...]
    name: str | None = None
    on_failure: str = "fail"
    idempotency_key: str | None = None


@dataclass
class WorkflowStep:
    """One step of a workflow as its record shows it."""

    step: str
    task_id: str
    task_type: str
    status: TaskStatus
    depends_on: list[str]
    attempts: int = 0
    created_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    last_error: str | None = None
    #: The dependency whose failure failed or cancelled this step, if that is how it ended.
    failed_by: str | None = None

    def to_api(self) -> dict[str, Any]:
        final = self.status.is_final and self.started_at is not None and self.finished_at is not None
        return {
            "step": self.step,
            "task_id": self.task_id,
            "task_type": self.task_type,
            "status": self.status.value,
            "depends_on": self.depends_on,
            "attempts": self.attempts,
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "duration": max(0.0, (self.finished_at or 0) - (self.started_at or 0)) if final else None,
            "last_error": self.last_error,
            "failed_by": self.failed_by,
        }


@dataclass
class WorkflowRecord:
    """A workflow: its own row, and its steps (None in a listing, which reads only counts)."""

    id: str
    name: str | None
    on_failure: str
    created_at: float
    seq: int = 0
    idempotency_key: str | None = None
    #: How many of its steps are in each status.
    counts: dict[str, int] = field(default_factory=dict)
    started_at: float | None = None
    finished_at: float | None = None
    steps: list[WorkflowStep] | None = None

    @property
    def status(self) -> str:
        """Derived from the steps: pending (none started), running, then once every step is
        final completed (all completed), failed (one failed or was interrupted) or cancelled."""
        total = sum(self.counts.values())
        finished = sum(self.counts.get(s.value, 0) for s in FINAL_STATUSES)
        if total and finished == total:
            if self.counts.get(TaskStatus.COMPLETED.value, 0) == total:
                return "completed"
            failed = self.counts.get(TaskStatus.FAILED.value, 0) + self.counts.get(
                TaskStatus.INTERRUPTED.value, 0
            )
            return "failed" if failed else "cancelled"
        if self.started_at is not None or finished:
            return "running"
        return "pending"

    def to_api(self) -> dict[str, Any]:
        final = self.status in WORKFLOW_FINAL
        answer: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "on_failure": self.on_failure,
            "idempotency_key": self.idempotency_key,
            "steps_total": sum(self.counts.values()),
            "step_counts": {s.value: self.counts.get(s.value, 0) for s in TaskStatus},
            "created_at": iso(self.created_at),
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at) if final else None,
            "duration": (
                max(0.0, self.finished_at - self.started_at)
                if final and self.started_at is not None and self.finished_at is not None
                else None
            ),
        }
        if self.steps is not None:
            answer["steps"] = [step.to_api() for step in self.steps]
        return answer


#: A workflow's statuses (derived from its steps'), final ones last.
WORKFLOW_STATUSES = ("pending", "running", "completed", "failed", "cancelled")
WORKFLOW_FINAL = frozenset({"completed", "failed", "cancelled"})


@dataclass(frozen=True)
class WorkflowPage:
    """One page of the workflow listing, newest first; ``next_cursor`` None on the last page."""

    workflows: list[WorkflowRecord]
    next_cursor: str | None


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
    #: Compact JSON of the task message's ``dependencies`` object, None when it has none.
    dependencies_json: str | None = None


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
    #: A completed task's data as it ran (compact JSON): with ``result_json``, a waiting
    #: client's record is answered from these, not read back (up to twice 64 MiB).
    data_json: str | None = None
    #: The per-type counters of ``metrics.TypeMetrics`` this transition adds one to once committed.
    counters: tuple[str, ...] = ()


def values_in_hand(transitions: Sequence[Transition]) -> dict[str, tuple[str, str]]:
    """The data and the result (compact JSON) of each completion among ``transitions`` that
    carries both, by task id: what a waiting client's record is given instead of reading them
    back (``TaskRecord.take_completed_values``)."""
    return {
        t.task_id: (t.data_json, t.result_json)
        for t in transitions
        if t.status is TaskStatus.COMPLETED
        and t.error is None
        and t.data_json is not None
        and t.result_json is not None
    }


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
    workflow_id: str | None = None
    step: str | None = None
    #: What a dependency failing for good does to this task (``fail`` or ``cancel``).
    on_dependency_failure: str = "fail"
    #: The ids of the tasks this one depends on (read by get(); None in a listing).
    depends_on: list[str] | None = None
    #: Fields stored encrypted that this daemon cannot decrypt (no key, or none that fits): the
    #: API shows them as encryption.ENCRYPTED_MARKER and names them here.
    encrypted: list[str] = field(default_factory=list)

    @property
    def duration(self) -> float | None:
        """Seconds from ``started_at`` to ``finished_at`` once the task is final; else None."""
        if not self.status.is_final or self.started_at is None or self.finished_at is None:
            return None
        return max(0.0, self.finished_at - self.started_at)

    def take_completed_values(self, values: tuple[str, str], now: float) -> bool:
        """Give this record, read without its data and result, the ``values`` (data, result) of
        the completion committed at ``now``, when the record shows that very completion; False,
        the record left as read, when it does not (the task went back, or was cancelled)."""
        if self.status is not TaskStatus.COMPLETED or self.finished_at != now:
            return False
        self.data, self.result = JsonText(values[0]), JsonText(values[1])
        return True

    def to_api(self) -> dict[str, Any]:
        """The JSON the HTTP API answers with (TaskDaemon's fields first)."""
        return self._api(self.data, self.result)

    def to_api_json(self, **first: Any) -> bytes:
        """``to_api()`` encoded, after the fields ``first``; data and result still as the queue
        stored them (JsonText) go in as they are: no parse and re-encode of up to 64 MiB each."""
        body = {**first, **self._api(self._stored("data"), self._stored("result"))}
        try:
            return orjson.dumps(body)
        except TypeError:  # e.g. an integer beyond 64 bits: the stdlib encodes it
            return jsonfast.dumps_bytes({**first, **self.to_api()})

    def _stored(self, name: str) -> Any:
        value = self.__dict__[f"_{name}"]
        return orjson.Fragment(value.text) if type(value) is JsonText else value

    def _api(self, data: Any, result: Any) -> dict[str, Any]:
        return {
            "id": self.id,
            "task_type": self.task_type,
            "status": self.status.value,
            "result": result,
            "last_error": self.last_error,
            "data": data,
            "priority": self.priority,
            "attempts": self.attempts,
            "max_retries": self.max_retries,
            "crashes": self.crashes,
            "idempotency_key": self.idempotency_key,
            "tags": self.tags,
            "encrypted": self.encrypted,
            "workflow_id": self.workflow_id,
            "step": self.step,
            **({} if self.depends_on is None else {"depends_on": self.depends_on}),
            "on_dependency_failure": self.on_dependency_failure,
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


class JsonText:
    """A task's data or result as the queue stored it (compact JSON text), not parsed yet."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


class _ParsedOnRead:
    """A field of TaskRecord that may be given JsonText: parsed at its first read, then kept.

    The SQL queues hand out records with data and result as JsonText: a record read to answer
    GET /api/tasks/{id} goes out with the stored text as it is (``to_api_json``), so a large
    task is not parsed and encoded again on its way out; any other reader sees plain values.
    """

    def __init__(self, name: str) -> None:
        self.slot = f"_{name}"

    def __get__(self, record: Any, owner: Any = None) -> Any:
        if record is None:
            return self
        value = record.__dict__[self.slot]
        if type(value) is JsonText:
            value = record.__dict__[self.slot] = jsonfast.loads(value.text)
        return value

    def __set__(self, record: Any, value: Any) -> None:
        record.__dict__[self.slot] = value


for _name in ("data", "result"):
    setattr(TaskRecord, _name, _ParsedOnRead(_name))


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
