"""What the SQL queues share: a row as a TaskRecord, the listing query and its page, status counts."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from taskdaemond import encryption
from taskdaemond.queue.models import JsonText, TaskFilters, TaskPage, TaskRecord
from taskdaemond.statuses import TaskStatus


def row_to_record(
    row: Sequence[Any], events: list[dict[str, Any]], cipher: encryption.Cipher | None = None
) -> TaskRecord:
    (
        seq,
        task_id,
        task_type,
        data,
        status,
        priority,
        attempts,
        max_retries,
        run_at,
        key,
        created_at,
        updated_at,
        started_at,
        finished_at,
        result,
        metadata,
        last_error,
        errors,
        crashes,
        progress,
        progress_message,
        tags,
        workflow_id,
        step,
        on_dependency_failure,
    ) = row
    unreadable: list[str] = []
    record = TaskRecord(
        id=task_id,
        task_type=task_type,
        status=TaskStatus(status),
        data=_stored_value(data, "data", cipher, unreadable) if data is not None else None,
        priority=priority,
        attempts=attempts,
        max_retries=max_retries,
        run_at=run_at,
        created_at=created_at,
        updated_at=updated_at,
        seq=seq,
        idempotency_key=key,
        started_at=started_at,
        finished_at=finished_at,
        result=_stored_value(result, "result", cipher, unreadable) if result is not None else None,
        metadata=json.loads(metadata) if metadata is not None else None,
        last_error=last_error,
        errors=json.loads(errors),
        logs=events,
        progress=progress,
        progress_message=progress_message,
        crashes=crashes,
        tags=json.loads(tags) if tags else {},
        workflow_id=workflow_id,
        step=step,
        on_dependency_failure=on_dependency_failure or "fail",
    )
    record.encrypted = unreadable
    return record


def _stored_value(stored: str, name: str, cipher: encryption.Cipher | None, unreadable: list[str]) -> Any:
    """A stored data or result value as a record holds it: JsonText (decrypted when it was
    encrypted), or the marker, with ``name`` added to ``unreadable``, when no key here opens it."""
    text = encryption.reveal(stored, cipher)
    if text is None:
        unreadable.append(name)
        return dict(encryption.ENCRYPTED_MARKER)
    return JsonText(text)


def page_of(rows: Sequence[Sequence[Any]], limit: int, cipher: encryption.Cipher | None = None) -> TaskPage:
    """A page from up to ``limit + 1`` rows, newest first: the extra row says a next page exists."""
    records = [row_to_record(row, [], cipher) for row in rows[:limit]]
    next_cursor = str(records[-1].seq) if len(rows) > limit and records else None
    return TaskPage(records, next_cursor)


def counts_of(rows: Iterable[Sequence[Any]]) -> dict[str, int]:
    """``(status, count)`` rows as a count for every status, zero included."""
    counts = {status.value: 0 for status in TaskStatus}
    counts.update({status: int(count) for status, count in rows})
    return counts


def list_query(
    columns: str,
    placeholder: Callable[[str], str],
    *,
    status: bool,
    task_type: bool,
    cursor: bool,
    filters: TaskFilters | None = None,
    tag_match: str = "",
) -> str:
    """SELECT for one page of tasks, newest first (or oldest first), with the filters that are
    given; ``placeholder`` writes a named parameter in the engine's style, ``tag_match`` (with
    ``{key}`` and ``{value}``) how the engine finds a tag."""
    f = filters or TaskFilters()
    where = []
    if status:
        where.append(f"status = {placeholder('status')}")
    if task_type:
        where.append(f"task_type = {placeholder('task_type')}")
    if f.since is not None:
        where.append(f"created_at >= {placeholder('since')}")
    if f.until is not None:
        where.append(f"created_at < {placeholder('until')}")
    if f.error:
        where.append(f"lower(last_error) LIKE {placeholder('error')} ESCAPE '!'")
    if f.tag is not None:
        where.append(tag_match.format(key=placeholder("tag_key"), value=placeholder("tag_value")))
    if cursor:
        where.append(f"seq {'>' if f.oldest_first else '<'} {placeholder('cursor')}")
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    order = "seq" if f.oldest_first else "seq DESC"
    # Constant fragments only; every value is a bound parameter.
    return f"SELECT {columns} FROM tasks {clause} ORDER BY {order} LIMIT {placeholder('limit')}"  # noqa: S608


def like_pattern(text: str) -> str:
    """A LIKE pattern (escape character ``!``) that finds ``text`` anywhere, case-insensitively."""
    escaped = text.lower().replace("!", "!!").replace("%", "!%").replace("_", "!_")
    return f"%{escaped}%"


def list_params(
    status: TaskStatus | None,
    task_type: str | None,
    limit: int,
    cursor: str | None,
    filters: TaskFilters | None = None,
) -> dict[str, Any]:
    """The parameters of ``list_query``: one row more than the page, to tell a next page exists."""
    f = filters or TaskFilters()
    return {
        "status": status.value if status else None,
        "task_type": task_type,
        "cursor": int(cursor) if cursor is not None else None,
        "limit": limit + 1,
        "since": f.since,
        "until": f.until,
        "error": like_pattern(f.error) if f.error else None,
        "tag_key": f.tag[0] if f.tag else None,
        "tag_value": f.tag[1] if f.tag else None,
    }
