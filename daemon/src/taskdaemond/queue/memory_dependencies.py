"""The memory queue's dependencies and workflows: the same state machine as SQLite's
(``sqlite_dependencies.py``), on dictionaries."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace

from taskdaemond.dependencies import UnknownDependencies, failure_error, failure_message, message_json
from taskdaemond.queue.models import (
    DependentChanges,
    NewTask,
    NewWorkflow,
    TaskRecord,
    WorkflowPage,
    WorkflowRecord,
    WorkflowStep,
)
from taskdaemond.statuses import UNSUCCESSFUL_STATUSES, TaskStatus


class Dependencies:
    """Edges between tasks and the workflows' records, beside the memory queue's tasks."""

    def __init__(self, tasks: dict[str, TaskRecord], enqueue: Callable[[TaskRecord, float], None]) -> None:
        self._tasks = tasks
        self._enqueue = enqueue
        #: task id -> its dependencies as (key, dependency id, dependency type).
        self.edges: dict[str, list[tuple[str, str, str]]] = {}
        self.dependents: dict[str, set[str]] = {}
        self.failed_by: dict[str, str] = {}
        self.workflows: dict[str, WorkflowRecord] = {}
        self._workflow_seq = 0

    def check_all(self, tasks: Sequence[NewTask]) -> None:
        """Raise UnknownDependencies unless every dependency is a task, or an earlier one of ``tasks``."""
        earlier = set()
        for task in tasks:
            missing = [d for _, d in task.dependencies if d not in self._tasks and d not in earlier]
            if missing:
                raise UnknownDependencies(missing)
            if task.task_id is not None:
                earlier.add(task.task_id)

    def add(self, record: TaskRecord, task: NewTask) -> None:
        self.edges[record.id] = [
            (key, dep_id, self._tasks[dep_id].task_type) for key, dep_id in task.dependencies
        ]
        for _, dep_id in task.dependencies:
            self.dependents.setdefault(dep_id, set()).add(record.id)
        record.depends_on = [dep_id for _, dep_id in task.dependencies]

    def add_workflow(self, workflow: NewWorkflow, now: float) -> str | None:
        if workflow.idempotency_key is not None:
            for existing in self.workflows.values():
                if existing.idempotency_key == workflow.idempotency_key:
                    return existing.id
        self._workflow_seq += 1
        self.workflows[workflow.id] = WorkflowRecord(
            id=workflow.id,
            name=workflow.name,
            on_failure=workflow.on_failure,
            created_at=now,
            seq=self._workflow_seq,
            idempotency_key=workflow.idempotency_key,
        )
        return None

    def forget(self, task_id: str) -> None:
        """A task left the queue (deleted or pruned): its own edges go."""
        for _, dep_id, _ in self.edges.pop(task_id, []):
            self.dependents.get(dep_id, set()).discard(task_id)
        self.failed_by.pop(task_id, None)

    # -- the state machine ---------------------------------------------------------------------

    def settle(self, task_ids: Iterable[str], now: float, changes: DependentChanges) -> None:
        for task_id in task_ids:
            record = self._tasks.get(task_id)
            if record is None or record.status is not TaskStatus.WAITING:
                continue
            deps = [(key, dep_id, self._tasks.get(dep_id)) for key, dep_id, _ in self.edges.get(task_id, [])]
            failed = next(
                (d for d in deps if d[2] is not None and d[2].status in UNSUCCESSFUL_STATUSES), None
            )
            if failed is not None:
                key, dep_id, dep = failed
                assert dep is not None
                self._end(
                    record,
                    key=key,
                    dep_id=dep_id,
                    dep_status=dep.status.value,
                    dep_error=dep.last_error,
                    now=now,
                )
                changes.ended.append(task_id)
                self.cascade([task_id], now, changes)
            elif all(d[2] is None or d[2].status is TaskStatus.COMPLETED for d in deps):
                record.status = TaskStatus.PENDING
                record.updated_at = now
                self._enqueue(record, now)
                changes.released.append((record.id, record.task_type))

    def release(self, completed: Sequence[str], now: float, changes: DependentChanges) -> None:
        waiting = {d for task_id in completed for d in self.dependents.get(task_id, ())}
        self.settle(
            sorted(waiting, key=lambda i: self._tasks[i].seq if i in self._tasks else 0), now, changes
        )

    def cascade(
        self, ended: Sequence[str], now: float, changes: DependentChanges, verb: str | None = None
    ) -> None:
        frontier = list(ended)
        while frontier:
            following: list[str] = []
            for dep_id in frontier:
                dep = self._tasks.get(dep_id)
                if dep is None or (verb is None and dep.status not in UNSUCCESSFUL_STATUSES):
                    continue
                for task_id in sorted(self.dependents.get(dep_id, ())):
                    record = self._tasks.get(task_id)
                    if record is None or record.status is not TaskStatus.WAITING:
                        continue
                    key = next(k for k, d, _ in self.edges[task_id] if d == dep_id)
                    status = verb or dep.status.value
                    self._end(
                        record,
                        key=key,
                        dep_id=dep_id,
                        dep_status=status,
                        dep_error=None if verb else dep.last_error,
                        now=now,
                    )
                    following.append(task_id)
                    changes.ended.append(task_id)
            frontier, verb = following, None

    def _end(
        self, record: TaskRecord, *, key: str, dep_id: str, dep_status: str, dep_error: str | None, now: float
    ) -> None:
        message = failure_message(key, dep_id, dep_status, dep_error)
        record.status = (
            TaskStatus.CANCELLED if record.on_dependency_failure == "cancel" else TaskStatus.FAILED
        )
        record.last_error = message
        record.errors.append(failure_error(message, record.attempts, now))
        record.finished_at = record.updated_at = now
        self.failed_by[record.id] = dep_id

    def after_redrive(self, record: TaskRecord, now: float) -> DependentChanges:
        changes = DependentChanges()
        self.failed_by.pop(record.id, None)
        if self.edges.get(record.id):
            record.status = TaskStatus.WAITING
            self.settle([record.id], now, changes)
        frontier = [record.id]
        revived: list[str] = []
        while frontier:
            following = []
            for task_id, dep_id in list(self.failed_by.items()):
                dependent = self._tasks.get(task_id)
                if (
                    dep_id in frontier
                    and dependent is not None
                    and dependent.status
                    in (
                        TaskStatus.FAILED,
                        TaskStatus.CANCELLED,
                    )
                ):
                    del self.failed_by[task_id]
                    dependent.status = TaskStatus.WAITING
                    dependent.attempts = 0
                    dependent.finished_at = None
                    dependent.updated_at = now
                    following.append(task_id)
            revived += following
            frontier = following
        self.settle(revived, now, changes)
        return changes

    # -- reads ------------------------------------------------------------------------------------

    def message(self, task_id: str) -> str | None:
        edges = self.edges.get(task_id)
        if not edges:
            return None
        entries = []
        for key, dep_id, dep_type in edges:
            dep = self._tasks.get(dep_id)
            result = json.dumps(dep.result, separators=(",", ":")) if dep is not None else None
            entries.append((key, dep_id, dep_type, result))
        return message_json(entries)

    def workflow(self, workflow_id: str, with_steps: bool = True) -> WorkflowRecord | None:
        found = self.workflows.get(workflow_id)
        if found is None:
            return None
        record = replace(found, counts={}, started_at=None, finished_at=None, steps=None)
        steps = sorted((t for t in self._tasks.values() if t.workflow_id == workflow_id), key=lambda t: t.seq)
        for task in steps:
            record.counts[task.status.value] = record.counts.get(task.status.value, 0) + 1
            if task.started_at is not None:
                record.started_at = min(record.started_at or task.started_at, task.started_at)
            if task.finished_at is not None:
                record.finished_at = max(record.finished_at or task.finished_at, task.finished_at)
        if with_steps:
            record.steps = [
                WorkflowStep(
                    step=task.step or task.id,
                    task_id=task.id,
                    task_type=task.task_type,
                    status=task.status,
                    depends_on=sorted(key for key, _, _ in self.edges.get(task.id, [])),
                    attempts=task.attempts,
                    created_at=task.created_at,
                    started_at=task.started_at,
                    finished_at=task.finished_at,
                    last_error=task.last_error,
                    failed_by=self.failed_by.get(task.id),
                )
                for task in steps
            ]
        return record

    def list_workflows(self, limit: int, cursor: str | None) -> WorkflowPage:
        after = int(cursor) if cursor is not None else None
        matching = [
            w for w in sorted(self.workflows.values(), key=lambda w: -w.seq) if after is None or w.seq < after
        ]
        page = [self.workflow(w.id, with_steps=False) for w in matching[:limit]]
        records = [r for r in page if r is not None]
        next_cursor = str(records[-1].seq) if len(matching) > limit and records else None
        return WorkflowPage(records, next_cursor)
