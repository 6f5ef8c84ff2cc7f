"""Live task events as Server-Sent Events: one task's (its log and progress events, history
first, then live until the task is final) and every task's changes (filtered by type).

A stream subscribes to the service's ``news`` before it reads, then re-reads a task whenever
news says it changed (a commit of this daemon, a submit, a cancel, or a NOTIFY from another
daemon on a shared queue), and at least every ``defaults.STREAM_RECHECK`` seconds; so it misses
nothing that is committed, whichever daemon committed it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import StreamingResponse

from taskdaemond import defaults, jsonfast
from taskdaemond.api.routes import Service
from taskdaemond.errors import TaskNotFound
from taskdaemond.news import Subscription
from taskdaemond.queue.base import QueueUnavailable
from taskdaemond.queue.models import TaskRecord, iso
from taskdaemond.service import TaskService
from taskdaemond.tags import TAG_FILTER_PATTERN, parse_tag_filter

EVENT_STREAM = "text/event-stream"
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
KEEPALIVE = b": keep-alive\n\n"

router = APIRouter()


def sse(event: str, data: Any, event_id: int | None = None) -> bytes:
    """One Server-Sent Event: its name, its data as one line of JSON, its id when given."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {jsonfast.dumps(data)}\n\n".encode()


def snapshot(record: TaskRecord) -> dict[str, Any]:
    """The part of a task a live view redraws: status, attempts, progress, last error."""
    return {
        "id": record.id,
        "task_type": record.task_type,
        "status": record.status.value,
        "attempts": record.attempts,
        "progress": record.progress,
        "progress_message": record.progress_message,
        "last_error": record.last_error,
        "created_at": iso(record.created_at),
        "updated_at": iso(record.updated_at),
        "finished_at": iso(record.finished_at),
        "tags": record.tags,
    }


async def task_events(
    service: TaskService, subscription: Subscription, record: TaskRecord, seen: int
) -> AsyncIterator[bytes]:
    """The events of one task after the ``seen`` first (their ids are 1-based positions), and its
    snapshot whenever it changes; ends with ``end`` once the task is final (or deleted)."""
    try:
        yield f"retry: {defaults.STREAM_RETRY_MS}\n\n".encode()
        last: dict[str, Any] | None = None
        quiet_since = time.monotonic()
        while True:
            for index in range(seen, len(record.logs)):
                event = record.logs[index]
                yield sse(str(event.get("event", "log")), event, index + 1)
            seen = max(seen, len(record.logs))
            now = snapshot(record)
            if now != last:
                yield sse("task", now)
                last = now
                quiet_since = time.monotonic()
            if record.status.is_final:
                yield sse("end", {"id": record.id, "status": record.status.value})
                return
            if service.news.closed:
                return
            await subscription.next(defaults.STREAM_RECHECK)
            if time.monotonic() - quiet_since >= defaults.STREAM_KEEPALIVE:
                yield KEEPALIVE
                quiet_since = time.monotonic()
            try:
                record = await service.get(record.id)
            except TaskNotFound:
                yield sse("end", {"id": record.id, "status": "deleted"})
                return
            except QueueUnavailable:
                continue  # the shared database is down: the same record, read again later
    finally:
        subscription.close()


async def all_events(
    service: TaskService,
    subscription: Subscription,
    task_type: str | None,
    tag: tuple[str, str] | None = None,
) -> AsyncIterator[bytes]:
    """A ``task`` event (the task's snapshot) for each task that changes, of ``task_type`` and
    with ``tag`` when given; ``overflow`` when too many changed at once to send each; until the
    daemon stops."""
    try:
        yield f"retry: {defaults.STREAM_RETRY_MS}\n\n".encode()
        yield sse("hello", {"daemon_id": service.daemon_id})
        while not service.news.closed:
            changed = await subscription.next(defaults.STREAM_KEEPALIVE)
            if subscription.take_overflow() or len(changed) > defaults.STREAM_MAX_PER_ROUND:
                yield sse("overflow", {"changed": len(changed)})
            elif not changed:
                yield KEEPALIVE
            else:
                for task_id in sorted(changed):
                    try:
                        record = await service.get(task_id)
                    except TaskNotFound:
                        yield sse("task", {"id": task_id, "status": "deleted"})
                        continue
                    except QueueUnavailable:
                        continue
                    wanted = task_type is None or record.task_type == task_type
                    if wanted and (tag is None or record.tags.get(tag[0]) == tag[1]):
                        yield sse("task", snapshot(record))
            # Let news gather: a busy queue makes one round of reads every quarter second.
            await asyncio.sleep(defaults.STREAM_COALESCE)
    finally:
        subscription.close()


@router.get(
    "/api/tasks/{task_id}/events",
    summary="A task's events, live (Server-Sent Events)",
    tags=["events"],
    response_class=StreamingResponse,
)
async def task_event_stream(
    task_id: str,
    service: Service,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """History first (each log and progress event, ``id`` its position), then live; a
    ``task`` event with the task's status whenever it changes; ``end`` once the task is final.
    A client reconnecting with ``Last-Event-ID`` gets only the events after that one."""
    subscription = service.news.subscribe(task_id)  # before the read: no change falls between
    try:
        record = await service.get(task_id)
    except BaseException:
        subscription.close()
        raise
    seen = int(last_event_id) if last_event_id and last_event_id.isdigit() else 0
    return StreamingResponse(
        task_events(service, subscription, record, seen), media_type=EVENT_STREAM, headers=HEADERS
    )


@router.get(
    "/api/events",
    summary="Every task's changes, live (Server-Sent Events)",
    tags=["events"],
    response_class=StreamingResponse,
)
async def event_stream(
    service: Service,
    task_type: Annotated[str | None, Query(alias="type")] = None,
    tag: Annotated[str | None, Query(pattern=TAG_FILTER_PATTERN, description="key:value")] = None,
) -> StreamingResponse:
    """A ``task`` event with a task's status, attempts and progress each time it changes
    (submitted, started, progressed, finished, cancelled, redriven, deleted); only tasks of
    ``type`` and with the tag ``key:value`` when given."""
    subscription = service.news.subscribe()
    wanted = parse_tag_filter(tag) if tag else None
    return StreamingResponse(
        all_events(service, subscription, task_type, wanted), media_type=EVENT_STREAM, headers=HEADERS
    )
