"""The PostgreSQL queue's dependencies and workflows: the state machine of the SQLite queue's
(``sqlite_dependencies.py``) on a connection inside the queue's transactions, with the locks a
queue shared by several daemons needs (see postgres_dependencies_sql.py)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import psycopg

from taskdaemond import encryption
from taskdaemond.dependencies import UnknownDependencies, failure_error, failure_message, message_json
from taskdaemond.queue import postgres_dependencies_sql as sql
from taskdaemond.queue.models import DependentChanges, NewTask, NewWorkflow, WorkflowPage, WorkflowRecord
from taskdaemond.queue.sqlite_dependencies import add_counts, steps_of, task_row, workflow_of
from taskdaemond.statuses import TaskStatus

Connection = psycopg.AsyncConnection[Any]

#: Bound of the cascades' and revivals' rounds: each round ends or revives at least one task.
MAX_ROUNDS = 1_000_000


async def insert_task(conn: Connection, task_id: str, task: NewTask, now: float) -> list[str]:
    """Insert a task with dependencies or of a workflow, with its edges; raises
    UnknownDependencies. Returns the task's id when it must be settled (it has dependencies)."""
    found: dict[str, str] = {}
    if task.dependencies:
        ids = [dep_id for _, dep_id in task.dependencies]
        rows = await (await conn.execute(sql.LOCK_TASKS, (ids,))).fetchall()
        found = {str(row[0]): str(row[1]) for row in rows}
        missing = [dep_id for dep_id in ids if dep_id not in found]
        if missing:
            raise UnknownDependencies(missing)
    inserted = await conn.execute(sql.INSERT_TASK, task_row(task_id, task, now))
    row = await inserted.fetchone()
    assert row is not None, "INSERT ... RETURNING returns the row"
    await conn.execute(sql.INSERT_DATA, (row[0], task.data_json))
    if task.dependencies:
        keys = [key for key, _ in task.dependencies]
        dep_ids = [dep_id for _, dep_id in task.dependencies]
        await conn.execute(sql.INSERT_EDGES, (task_id, dep_ids, keys, [found[d] for d in dep_ids]))
        return [task_id]
    return []


async def insert_workflow(conn: Connection, workflow: NewWorkflow, now: float) -> str | None:
    if workflow.idempotency_key is not None:
        await conn.execute(sql.LOCK_WORKFLOW_KEY, (workflow.idempotency_key,))
        found = await (await conn.execute(sql.FIND_WORKFLOW_BY_KEY, (workflow.idempotency_key,))).fetchone()
        if found is not None:
            return str(found[0])
    await conn.execute(
        sql.INSERT_WORKFLOW, (workflow.id, workflow.name, workflow.on_failure, workflow.idempotency_key, now)
    )
    return None


async def _end(
    conn: Connection, row: Sequence[object], status_word: str, error: str | None, now: float
) -> None:
    task_id, policy, attempts, key, dep_id = row[:5]
    message = failure_message(str(key), str(dep_id), status_word, error)
    status = TaskStatus.CANCELLED if policy == "cancel" else TaskStatus.FAILED
    await conn.execute(
        sql.END_WAITING,
        {
            "status": status.value,
            "error_text": message,
            "error": json.dumps(failure_error(message, int(str(attempts)), now)),
            "failed_by": dep_id,
            "now": now,
            "id": task_id,
        },
    )


async def settle(conn: Connection, task_ids: Sequence[str], now: float, changes: DependentChanges) -> None:
    """Lock the waiting ``task_ids``; end those with a dependency that ended for good (and their
    dependents), release those whose dependencies all completed."""
    if not task_ids:
        return
    locked = [str(r[0]) for r in await (await conn.execute(sql.LOCK_WAITING, (list(task_ids),))).fetchall()]
    if not locked:
        return
    ended: list[str] = []
    for row in await (await conn.execute(sql.FAILED_DEPENDENCY, (locked,))).fetchall():
        await _end(conn, row, str(row[5]), None if row[6] is None else str(row[6]), now)
        ended.append(str(row[0]))
    changes.ended += ended
    rows = await (await conn.execute(sql.RELEASE, {"ids": locked, "now": now})).fetchall()
    changes.released += [(str(r[0]), str(r[1])) for r in rows]
    if ended:
        await cascade(conn, ended, now, changes)


async def release(conn: Connection, completed: Sequence[str], now: float, changes: DependentChanges) -> None:
    """In the transaction that completed ``completed``: their waiting dependents, locked, become
    pending when every dependency has completed."""
    locked = [
        str(r[0]) for r in await (await conn.execute(sql.LOCK_DEPENDENTS, (list(completed),))).fetchall()
    ]
    if locked:
        rows = await (await conn.execute(sql.RELEASE, {"ids": locked, "now": now})).fetchall()
        changes.released += [(str(r[0]), str(r[1])) for r in rows]


async def cascade(
    conn: Connection, ended: Sequence[str], now: float, changes: DependentChanges, verb: str | None = None
) -> None:
    """Waiting dependents of ``ended`` are failed or cancelled, transitively; ``verb`` (a
    deletion) stands for the first round's dependency status."""
    frontier = list(ended)
    for _ in range(MAX_ROUNDS):
        if not frontier:
            return
        if verb is not None:
            rows = await (await conn.execute(sql.DEPENDENTS_OF, (frontier,))).fetchall()
            deleted_dependents = {
                str(r[0])
                for r in await (await conn.execute(sql.LOCK_WAITING, ([str(r[0]) for r in rows],))).fetchall()
            }
            for row in rows:
                if str(row[0]) in deleted_dependents:
                    await _end(conn, row, verb, None, now)
            frontier = sorted(deleted_dependents)
            verb = None
        else:
            locked_rows = await (await conn.execute(sql.LOCK_DEPENDENTS, (frontier,))).fetchall()
            locked = [str(r[0]) for r in locked_rows]
            frontier = []
            for row in await (await conn.execute(sql.FAILED_DEPENDENCY, (locked,))).fetchall():
                await _end(conn, row, str(row[5]), None if row[6] is None else str(row[6]), now)
                frontier.append(str(row[0]))
        changes.ended += frontier


async def after_redrive(
    conn: Connection, task_id: str, has_dependencies: bool, now: float
) -> DependentChanges:
    changes = DependentChanges()
    if has_dependencies:
        await conn.execute(sql.MAKE_WAITING, (now, task_id))
        await settle(conn, [task_id], now, changes)
    frontier = [task_id]
    revived: list[str] = []
    for _ in range(MAX_ROUNDS):
        if not frontier:
            break
        rows = await (await conn.execute(sql.REVIVE, {"ids": frontier, "now": now})).fetchall()
        frontier = [str(r[0]) for r in rows]
        revived += frontier
    await settle(conn, revived, now, changes)
    return changes


async def message_dependencies(
    conn: Connection, task_ids: Sequence[str], cipher: encryption.Cipher | None = None
) -> dict[str, str]:
    """The ``dependencies`` object of each claimed task that has some, as compact JSON; a result
    stored encrypted is decrypted (the marker when no key here opens it)."""
    entries: dict[str, list[tuple[str, str, str, str | None]]] = {}
    for task_id, key, dep_id, dep_type, stored in await (
        await conn.execute(sql.MESSAGE_DEPENDENCIES, (list(task_ids),))
    ).fetchall():
        result = None if stored is None else encryption.reveal(str(stored), cipher) or encryption.MARKER_JSON
        entries.setdefault(str(task_id), []).append((str(key), str(dep_id), str(dep_type), result))
    return {task_id: message_json(items) for task_id, items in entries.items()}


async def delete_edges(conn: Connection, task_ids: Sequence[str]) -> None:
    await conn.execute(sql.DELETE_EDGES, (list(task_ids),))


async def depends_on(conn: Connection, task_id: str) -> list[str]:
    return [str(r[0]) for r in await (await conn.execute(sql.DEPENDS_ON, (task_id,))).fetchall()]


async def _add_counts(conn: Connection, records: Sequence[WorkflowRecord]) -> None:
    by_id = {r.id: r for r in records}
    add_counts(by_id, await (await conn.execute(sql.WORKFLOW_COUNTS, (list(by_id),))).fetchall())


async def get_workflow(conn: Connection, workflow_id: str) -> WorkflowRecord | None:
    row = await (await conn.execute(sql.GET_WORKFLOW, (workflow_id,))).fetchone()
    if row is None:
        return None
    record = workflow_of(row)
    edges: dict[str, list[str]] = {}
    for task_id, key in await (await conn.execute(sql.WORKFLOW_EDGES, (workflow_id,))).fetchall():
        edges.setdefault(str(task_id), []).append(str(key))
    record.steps = steps_of(await (await conn.execute(sql.WORKFLOW_STEPS, (workflow_id,))).fetchall(), edges)
    await _add_counts(conn, [record])
    return record


async def list_workflows(conn: Connection, limit: int, cursor: str | None) -> WorkflowPage:
    if cursor is None:
        rows = await (await conn.execute(sql.LIST_WORKFLOWS, (limit + 1,))).fetchall()
    else:
        rows = await (await conn.execute(sql.LIST_WORKFLOWS_AFTER, (int(cursor), limit + 1))).fetchall()
    records = [workflow_of(row) for row in rows[:limit]]
    if records:
        await _add_counts(conn, records)
    next_cursor = str(records[-1].seq) if len(rows) > limit and records else None
    return WorkflowPage(records, next_cursor)
