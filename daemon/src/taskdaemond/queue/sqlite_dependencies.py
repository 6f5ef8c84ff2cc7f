"""The SQLite queue's dependencies and workflows: plain functions on a connection, run inside
the queue's transactions (so a dependency's result and the release of its dependents commit
together: a kill between them is impossible)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from taskdaemond import encryption
from taskdaemond.dependencies import UnknownDependencies, failure_error, failure_message, message_json
from taskdaemond.queue import sqlite_dependencies_sql as sql
from taskdaemond.queue.models import (
    DependentChanges,
    NewTask,
    NewWorkflow,
    WorkflowPage,
    WorkflowRecord,
    WorkflowStep,
)
from taskdaemond.statuses import UNSUCCESSFUL_STATUSES, TaskStatus

# -- submit ----------------------------------------------------------------------------------


def task_row(task_id: str, task: NewTask, now: float) -> tuple[Any, ...]:
    """The parameters of both engines' INSERT_TASK for a task with dependencies or a workflow:
    it waits while any dependency is unfinished."""
    status = TaskStatus.WAITING if task.dependencies else TaskStatus.PENDING
    return (
        task_id,
        task.task_type,
        status.value,
        task.priority,
        task.max_retries,
        now + task.delay,
        task.idempotency_key,
        now,
        now,
        task.tags_json,
        task.workflow_id,
        task.step,
        task.on_dependency_failure,
        len(task.dependencies),
        int(task.encrypted),
    )


def insert_task(db: sqlite3.Connection, task_id: str, task: NewTask, now: float) -> list[str]:
    """Insert a task that has dependencies or belongs to a workflow, with its edges; raises
    UnknownDependencies. Returns the task's id when it must be settled (it has dependencies)."""
    found: dict[str, str] = {}
    if task.dependencies:
        ids = [dep_id for _, dep_id in task.dependencies]
        found = dict(db.execute(sql.FIND_TASKS, (json.dumps(ids),)).fetchall())
        missing = [dep_id for dep_id in ids if dep_id not in found]
        if missing:
            raise UnknownDependencies(missing)
    [(seq,)] = db.execute(sql.INSERT_TASK, task_row(task_id, task, now)).fetchall()
    db.execute(sql.INSERT_DATA, (seq, task.data_json))
    db.executemany(
        sql.INSERT_EDGE, [(task_id, dep_id, key, found[dep_id]) for key, dep_id in task.dependencies]
    )
    return [task_id] if task.dependencies else []


def insert_workflow(db: sqlite3.Connection, workflow: NewWorkflow, now: float) -> str | None:
    """The workflow's row; the id of an existing workflow holding its idempotency key instead."""
    if workflow.idempotency_key is not None:
        found = db.execute(sql.FIND_WORKFLOW_BY_KEY, (workflow.idempotency_key,)).fetchone()
        if found is not None:
            return str(found[0])
    db.execute(
        sql.INSERT_WORKFLOW, (workflow.id, workflow.name, workflow.on_failure, workflow.idempotency_key, now)
    )
    return None


# -- the state machine of waiting tasks -------------------------------------------------------


def settle(db: sqlite3.Connection, task_ids: Iterable[str], now: float, changes: DependentChanges) -> None:
    """Waiting tasks whose dependencies all completed become pending; those with a dependency
    that failed for good are failed or cancelled (and their dependents after them)."""
    for task_id in task_ids:
        deps = db.execute(sql.DEPENDENCIES_OF, (task_id,)).fetchall()
        failed = next(
            (d for d in deps if d[2] is not None and TaskStatus(d[2]) in UNSUCCESSFUL_STATUSES), None
        )
        if failed is not None:
            row = db.execute(
                "SELECT on_dependency_failure, attempts FROM tasks WHERE id = ?", (task_id,)
            ).fetchone()
            key, dep_id, dep_status, dep_error = failed
            if _end(
                db,
                task_id=task_id,
                policy=row[0],
                attempts=row[1],
                key=key,
                dep_id=dep_id,
                dep_status=dep_status,
                dep_error=dep_error,
                now=now,
            ):
                changes.ended.append(task_id)
                cascade(db, [task_id], now, changes)
        elif all(d[2] is None or d[2] == TaskStatus.COMPLETED.value for d in deps):
            row = db.execute(sql.MAKE_PENDING + " RETURNING id, task_type", (now, task_id)).fetchone()
            if row is not None:
                changes.released.append((row[0], row[1]))


def release(db: sqlite3.Connection, completed: Sequence[str], now: float, changes: DependentChanges) -> None:
    """Dependents of the tasks just completed whose every dependency has completed: pending."""
    changes.released.extend(db.execute(sql.RELEASE, (now, json.dumps(completed))).fetchall())


def cascade(
    db: sqlite3.Connection,
    ended: Sequence[str],
    now: float,
    changes: DependentChanges,
    verb: str | None = None,
) -> None:
    """The waiting dependents of tasks that ended for good (``ended``) are failed or cancelled,
    each per its own policy, and theirs after them. ``verb`` overrides the dependency's status in
    the message (a deletion: "was deleted")."""
    frontier = list(ended)
    for _ in range(1_000_000):  # bounded by the tasks there are: each ends once
        if not frontier:
            return
        rows = db.execute(sql.WAITING_DEPENDENTS, (json.dumps(frontier), verb is not None)).fetchall()
        frontier = []
        for task_id, policy, attempts, key, dep_id, dep_status, dep_error in rows:
            status = verb or dep_status
            if _end(
                db,
                task_id=task_id,
                policy=policy,
                attempts=attempts,
                key=key,
                dep_id=dep_id,
                dep_status=status,
                dep_error=None if verb else dep_error,
                now=now,
            ):
                frontier.append(task_id)
                changes.ended.append(task_id)
        verb = None


def _end(
    db: sqlite3.Connection,
    *,
    task_id: str,
    policy: str | None,
    attempts: int,
    key: str,
    dep_id: str,
    dep_status: str,
    dep_error: str | None,
    now: float,
) -> bool:
    message = failure_message(key, dep_id, dep_status, dep_error)
    status = TaskStatus.CANCELLED if policy == "cancel" else TaskStatus.FAILED
    cursor = db.execute(
        sql.END_WAITING,
        {
            "status": status.value,
            "error_text": message,
            "error": json.dumps(failure_error(message, attempts, now)),
            "failed_by": dep_id,
            "now": now,
            "id": task_id,
        },
    )
    return cursor.rowcount > 0


def after_redrive(
    db: sqlite3.Connection, task_id: str, has_dependencies: bool, now: float
) -> DependentChanges:
    """A redriven task waits again if it has dependencies (and fails again at once if one is
    still failed); the dependents its failure had failed or cancelled wait again, transitively."""
    changes = DependentChanges()
    if has_dependencies:
        db.execute(sql.MAKE_WAITING, (now, task_id))
        settle(db, [task_id], now, changes)
    frontier = [task_id]
    revived: list[str] = []
    for _ in range(1_000_000):  # bounded by the tasks there are
        if not frontier:
            break
        frontier = [row[0] for row in db.execute(sql.REVIVE, (now, json.dumps(frontier))).fetchall()]
        revived.extend(frontier)
    settle(db, revived, now, changes)
    return changes


# -- reads ------------------------------------------------------------------------------------


def message_dependencies(
    db: sqlite3.Connection, task_ids: Sequence[str], cipher: encryption.Cipher | None = None
) -> dict[str, str]:
    """The ``dependencies`` object of each claimed task that has some, as compact JSON; a result
    stored encrypted is decrypted (the marker when no key here opens it)."""
    entries: dict[str, list[tuple[str, str, str, str | None]]] = {}
    for task_id, key, dep_id, dep_type, stored in db.execute(
        sql.MESSAGE_DEPENDENCIES, (json.dumps(task_ids),)
    ):
        result = None if stored is None else encryption.reveal(stored, cipher) or encryption.MARKER_JSON
        entries.setdefault(task_id, []).append((key, dep_id, dep_type, result))
    return {task_id: message_json(items) for task_id, items in entries.items()}


def delete_edges(db: sqlite3.Connection, task_ids: Sequence[str]) -> None:
    db.execute(sql.DELETE_EDGES, (json.dumps(list(task_ids)),))


def depends_on(db: sqlite3.Connection, task_id: str) -> list[str]:
    return [row[0] for row in db.execute(sql.DEPENDS_ON, (task_id,))]


def workflow_of(row: Sequence[Any]) -> WorkflowRecord:
    """A workflows row (WORKFLOW_COLUMNS of either engine) as a record without counts."""
    seq, workflow_id, name, on_failure, key, created_at = row
    return WorkflowRecord(
        id=workflow_id, name=name, on_failure=on_failure, created_at=created_at, seq=seq, idempotency_key=key
    )


def _add_counts(db: sqlite3.Connection, records: Sequence[WorkflowRecord]) -> None:
    by_id = {r.id: r for r in records}
    rows = db.execute(sql.WORKFLOW_COUNTS, (json.dumps(list(by_id)),)).fetchall()
    add_counts(by_id, rows)


def add_counts(by_id: dict[str, WorkflowRecord], rows: Iterable[Sequence[Any]]) -> None:
    """Fold (workflow id, status, count, first start, last finish) rows into the records."""
    for workflow_id, status, count, started, finished in rows:
        record = by_id[workflow_id]
        record.counts[status] = record.counts.get(status, 0) + int(count)
        if started is not None:
            record.started_at = started if record.started_at is None else min(record.started_at, started)
        if finished is not None:
            record.finished_at = finished if record.finished_at is None else max(record.finished_at, finished)


def steps_of(rows: Iterable[Sequence[Any]], edges: dict[str, list[str]]) -> list[WorkflowStep]:
    """WORKFLOW_STEPS rows (either engine) as steps, each with the keys of its dependencies."""
    return [
        WorkflowStep(
            step=step,
            task_id=task_id,
            task_type=task_type,
            status=TaskStatus(status),
            depends_on=sorted(edges.get(task_id, [])),
            attempts=attempts,
            created_at=created_at,
            started_at=started_at,
            finished_at=finished_at,
            last_error=last_error,
            failed_by=failed_by,
        )
        for (
            step,
            task_id,
            task_type,
            status,
            attempts,
            created_at,
            started_at,
            finished_at,
            last_error,
            failed_by,
        ) in rows
    ]


def get_workflow(db: sqlite3.Connection, workflow_id: str) -> WorkflowRecord | None:
    row = db.execute(sql.GET_WORKFLOW, (workflow_id,)).fetchone()
    if row is None:
        return None
    record = workflow_of(row)
    edges: dict[str, list[str]] = {}
    for task_id, key in db.execute(sql.WORKFLOW_EDGES, (workflow_id,)):
        edges.setdefault(task_id, []).append(key)
    record.steps = steps_of(db.execute(sql.WORKFLOW_STEPS, (workflow_id,)).fetchall(), edges)
    _add_counts(db, [record])
    return record


def list_workflows(db: sqlite3.Connection, limit: int, cursor: str | None) -> WorkflowPage:
    if cursor is None:
        rows = db.execute(sql.list_workflows_query(False), (limit + 1,)).fetchall()
    else:
        rows = db.execute(sql.list_workflows_query(True), (int(cursor), limit + 1)).fetchall()
    records = [workflow_of(row) for row in rows[:limit]]
    if records:
        _add_counts(db, records)
    next_cursor = str(records[-1].seq) if len(rows) > limit and records else None
    return WorkflowPage(records, next_cursor)
