"""Retention at the queue: only finished tasks are pruned, by age per status and by the cap,
oldest first, with their events; against memory, SQLite and PostgreSQL (and two PostgreSQL
daemons pruning at once)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from taskdaemond.queue import AttemptError, TaskQueue, Transition
from taskdaemond.queue.models import TaskEvent
from taskdaemond.statuses import TaskStatus
from tests.queue.test_queue import NOW, QueueFactory, make_queue, new, run

__all__ = ["make_queue"]  # the fixture, imported to run every test against every queue


async def finish(
    q: TaskQueue, status: TaskStatus, at: float, count: int = 1, key: str | None = None
) -> list[str]:
    """``count`` tasks submitted and claimed at NOW, then ending in ``status`` at ``at``."""
    await q.submit([new(idempotency_key=key) for _ in range(count)], NOW)
    claimed = await q.claim("echo", count, NOW)
    error = AttemptError(0, "no", "E", retryable=False) if status is not TaskStatus.COMPLETED else None
    await q.record(
        [
            Transition(t.id, status, result_json="1", error=error, seq=t.seq, task_type="echo")
            for t in claimed
        ],
        [],
        at,
    )
    return [t.id for t in claimed]


async def present(q: TaskQueue, ids: list[str]) -> list[bool]:
    return [await q.get(i) is not None for i in ids]


def test_only_finished_tasks_older_than_their_status_cutoff_are_pruned(make_queue: QueueFactory) -> None:
    async def scenario(q: TaskQueue) -> None:
        old_done = await finish(q, TaskStatus.COMPLETED, NOW + 10, 2)
        new_done = await finish(q, TaskStatus.COMPLETED, NOW + 30)
        failed = await finish(q, TaskStatus.FAILED, NOW + 10)
        [(running, _)] = await q.submit([new()], NOW)
        assert [t.id for t in await q.claim("echo", 1, NOW)] == [running]
        [(waiting, _)] = await q.submit([new()], NOW)
        [(cancelled, _)] = await q.submit([new()], NOW)
        await q.cancel_pending(cancelled, NOW + 10)
        cutoffs = {TaskStatus.COMPLETED: NOW + 20, TaskStatus.FAILED: NOW + 5, TaskStatus.CANCELLED: NOW + 20}
        assert await q.count_prunable(cutoffs) == {
            TaskStatus.COMPLETED: 2,
            TaskStatus.FAILED: 0,
            TaskStatus.CANCELLED: 1,
        }
        assert await q.prune(cutoffs, 100) == {TaskStatus.COMPLETED: 2, TaskStatus.CANCELLED: 1}
        assert await present(q, [*old_done, cancelled]) == [False, False, False]
        assert await present(q, [*new_done, *failed, running, waiting]) == [True, True, True, True]
        # Even a cutoff in the future never takes a pending or processing task.
        everything = dict.fromkeys(TaskStatus, NOW + 10**9)
        assert await q.prune(everything, 100) == {TaskStatus.COMPLETED: 1, TaskStatus.FAILED: 1}
        assert await present(q, [running, waiting]) == [True, True]
        assert await q.count_finished() == 0

    run(make_queue("fifo"), scenario)


def test_a_batch_takes_at_most_its_limit_oldest_finished_first(make_queue: QueueFactory) -> None:
    async def scenario(q: TaskQueue) -> None:
        ids = [(await finish(q, TaskStatus.COMPLETED, NOW + 10 - n))[0] for n in range(5)]  # newest first
        cutoffs = {TaskStatus.COMPLETED: NOW + 100}
        assert await q.prune(cutoffs, 2) == {TaskStatus.COMPLETED: 2}
        assert await present(q, ids) == [True, True, True, False, False]

    run(make_queue("fifo"), scenario)


def test_the_cap_keeps_the_newest_finished_tasks_whatever_their_status(make_queue: QueueFactory) -> None:
    async def scenario(q: TaskQueue) -> None:
        oldest = await finish(q, TaskStatus.FAILED, NOW + 1)
        older = await finish(q, TaskStatus.COMPLETED, NOW + 2)
        kept = await finish(q, TaskStatus.INTERRUPTED, NOW + 3) + await finish(
            q, TaskStatus.COMPLETED, NOW + 4
        )
        [(waiting, _)] = await q.submit([new()], NOW)
        assert await q.count_finished() == 4
        assert await q.prune_excess(keep=2, limit=1) == {TaskStatus.FAILED: 1}
        assert await q.prune_excess(keep=2, limit=100) == {TaskStatus.COMPLETED: 1}
        assert await q.prune_excess(keep=2, limit=100) == {}
        assert await present(q, [*oldest, *older, *kept, waiting]) == [False, False, True, True, True]

    run(make_queue("fifo"), scenario)


def test_an_idempotency_key_is_free_again_once_its_task_is_pruned(make_queue: QueueFactory) -> None:
    async def scenario(q: TaskQueue) -> None:
        [first] = await finish(q, TaskStatus.COMPLETED, NOW + 10, key="order-7")
        assert await q.submit([new(idempotency_key="order-7")], NOW + 20) == [(first, False)]
        await q.prune({TaskStatus.COMPLETED: NOW + 30}, 100)
        [(second, created)] = await q.submit([new(idempotency_key="order-7")], NOW + 40)
        assert created and second != first

    run(make_queue("fifo"), scenario)


def test_the_events_of_a_pruned_task_go_with_it(make_queue: QueueFactory) -> None:
    async def scenario(q: TaskQueue) -> None:
        [(task_id, _)] = await q.submit([new()], NOW)
        [claimed] = await q.claim("echo", 1, NOW)
        log = TaskEvent(
            task_id, NOW + 1, {"event": "log", "task_id": task_id, "level": "info", "message": "hi"}
        )
        await q.record(
            [Transition(task_id, TaskStatus.COMPLETED, result_json="1", seq=claimed.seq)], [log], NOW + 2
        )
        record = await q.get(task_id)
        assert record is not None and len(record.logs) == 1
        assert await q.prune({TaskStatus.COMPLETED: NOW + 3}, 100) == {TaskStatus.COMPLETED: 1}
        assert await q.get(task_id) is None
        assert await events_left(q) == 0

    run(make_queue("fifo"), scenario)


async def events_left(q: TaskQueue) -> int:
    """Rows in the events table, read with the engine's own client."""
    from taskdaemond.queue.memory import MemoryQueue
    from taskdaemond.queue.sqlite import SqliteQueue

    if isinstance(q, MemoryQueue):
        return 0  # events live in the task record
    if isinstance(q, SqliteQueue):
        with sqlite3.connect(q.path) as db:
            return int(db.execute("SELECT count(*) FROM events").fetchone()[0])
    import psycopg

    from taskdaemond.queue.postgres import PostgresQueue

    assert isinstance(q, PostgresQueue)
    async with await psycopg.AsyncConnection.connect(q.url) as conn:
        row = await (await conn.execute("SELECT count(*) FROM events")).fetchone()
        return int(row[0]) if row else -1


# -- two daemons on one PostgreSQL database ----------------------------------------------


@pytest.mark.parametrize("rounds", [3])
def test_two_postgres_daemons_pruning_at_once_delete_each_task_once_and_apply_the_cap_once(
    postgres_url: str, rounds: int
) -> None:
    from taskdaemond.queue.postgres import PostgresQueue

    async def main() -> None:
        a, b = PostgresQueue(postgres_url), PostgresQueue(postgres_url)
        await a.open()
        await b.open()
        try:
            for _ in range(rounds):
                await finish(a, TaskStatus.COMPLETED, NOW + 10, 600)
                cutoffs = {TaskStatus.COMPLETED: NOW + 20}
                gone = await asyncio.gather(a.prune(cutoffs, 400), b.prune(cutoffs, 400))
                more = await asyncio.gather(a.prune(cutoffs, 400), b.prune(cutoffs, 400))
                assert sum(sum(g.values()) for g in (*gone, *more)) == 600
                assert await a.count_finished() == 0
            await finish(a, TaskStatus.COMPLETED, NOW + 10, 300)
            for _ in range(5):  # both apply the cap at once, repeatedly: 100 stay, not fewer
                await asyncio.gather(a.prune_excess(100, 50), b.prune_excess(100, 50))
            assert await a.count_finished() == 100
        finally:
            await a.close()
            await b.close()

    asyncio.run(main())


def test_a_tool_opens_the_queue_without_recovering_running_tasks(
    make_queue: QueueFactory, tmp_path: Path
) -> None:
    async def scenario(q: TaskQueue) -> None:
        await q.submit([new()], NOW)
        await q.claim("echo", 1, NOW)

    queue = make_queue("fifo")
    run(queue, scenario)
    if type(queue).__name__ == "MemoryQueue":
        return  # nothing survives a memory queue

    async def reopen() -> dict[str, int]:
        again = make_queue("fifo")
        assert await again.open(recover=False) == 0
        try:
            return await again.counts()
        finally:
            await again.close()

    assert asyncio.run(reopen())[TaskStatus.PROCESSING] == 1
