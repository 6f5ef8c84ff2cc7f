"""Row helpers the SQL queues share: a row as a TaskRecord, a page of rows, status counts."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from taskdaemond.queue.models import TaskPage, TaskRecord
from taskdaemond.statuses import TaskStatus


def row_to_record(row: Sequence[Any], events: list[dict[str, Any]]) -> TaskRecord:
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
    ) = row
    return TaskRecord(
        id=task_id,
        task_type=task_type,
        status=TaskStatus(status),
        data=json.loads(data),
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
        result=json.loads(result) if result is not None else None,
        metadata=json.loads(metadata) if metadata is not None else None,
        last_error=last_error,
        errors=json.loads(errors),
        logs=events,
        progress=progress,
        progress_message=progress_message,
        crashes=crashes,
    )


def page_of(rows: Sequence[Sequence[Any]], limit: int) -> TaskPage:
    """A page from up to ``limit + 1`` rows, newest first: the extra row says a next page exists."""
    records = [row_to_record(row, []) for row in rows[:limit]]
    next_cursor = str(records[-1].seq) if len(rows) > limit and records else None
    return TaskPage(records, next_cursor)


def counts_of(rows: Iterable[Sequence[Any]]) -> dict[str, int]:
    """``(status, count)`` rows as a count for every status, zero included."""
    counts = {status.value: 0 for status in TaskStatus}
    counts.update({status: int(count) for status, count in rows})
    return counts
