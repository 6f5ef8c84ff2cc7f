"""What only a shared queue does: migrations under a lock, leases, reclaims, notifications."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from taskdaemond.queue import ClaimedTask, NewTask, Transition, postgres_sql
from taskdaemond.queue._migrations import load
from taskdaemond.queue.base import QueueUnavailable
from taskdaemond.queue.models import TaskRecord
from taskdaemond.queue.postgres import PostgresQueue
from taskdaemond.statuses import TaskStatus
from tests.helpers import wait_until
from tests.pghelpers import fleet, query


def new(task_type: str = "echo") -> NewTask:
    return NewTask(task_type=task_type, data_json="{}", priority=50, max_retries=3)


def test_queues_opening_at_once_on_an_empty_database_apply_each_migration_once(postgres_url: str) -> None:
    queues = [PostgresQueue(postgres_url) for _ in range(4)]

    async def main() -> None:
        await asyncio.gather(*(q.open() for q in queues))
        await asyncio.gather(*(q.close() for q in queues))

    asyncio.run(main())
    shipped = [f"{m.version:04d}_{m.name}" for m in load(postgres_sql.MIGRATIONS_PACKAGE)]
    assert sorted(name for q in queues for name in q.applied_migrations) == shipped
    rows = query(postgres_url, "SELECT version, name FROM taskdaemon_migrations ORDER BY version")
    assert [f"{v:04d}_{n}" for v, n in rows] == shipped


def test_two_daemons_starting_at_the_same_moment_run_the_migrations_once(
    tmp_path: Path, postgres_url: str
) -> None:
    with fleet(tmp_path, postgres_url) as daemons:
        first = daemons.start(wait=False)
        second = daemons.start(wait=False)
        for daemon in (first, second):
            wait_until(daemon._healthy, timeout=30, what=f"daemon on {daemon.url}")
        logs = [first.log(), second.log()]
    for migration in load(postgres_sql.MIGRATIONS_PACKAGE):
        line = f"applied migration {migration.version:04d}_{migration.name}"
        assert sum(log.count(line) for log in logs) == 1, logs
    assert len(query(postgres_url, "SELECT * FROM taskdaemon_migrations")) == len(
        load(postgres_sql.MIGRATIONS_PACKAGE)
    )


def test_an_expired_lease_is_reclaimed_by_another_daemon_and_the_late_outcome_is_dropped(
    postgres_url: str,
) -> None:
    async def main() -> None:
        dead = PostgresQueue(postgres_url, lease_seconds=0.3)
        alive = PostgresQueue(postgres_url, lease_seconds=30)
        dead.bind("dead")
        alive.bind("alive")
        await dead.open()
        await alive.open()
        try:
            [(task_id, _)] = await dead.submit([new()], time.time())
            [claimed] = await dead.claim("echo", 10, time.time())
            assert await alive.reclaim_expired(time.time()) == []  # still within its lease
            await asyncio.sleep(0.5)  # "dead" never renews
            assert await alive.reclaim_expired(time.time()) == [(task_id, "echo")]
            [again] = await alive.claim("echo", 10, time.time())
            assert (again.id, claimed.attempt, again.attempt) == (task_id, 0, 1)
            # The first daemon's outcome comes too late: the task is no longer its own.
            await dead.record(
                [Transition(task_id, TaskStatus.COMPLETED, result_json='"late"', seq=claimed.seq)], [], 1.0
            )
            assert await dead.renew([task_id]) == 0
            record = await alive.get(task_id)
            assert record is not None
            assert (record.status, record.result) == (TaskStatus.PROCESSING, None)
            assert [e["error_type"] for e in record.errors] == ["LeaseExpired"]
            assert "daemon dead stopped renewing" in (record.last_error or "")
            await alive.record(
                [Transition(task_id, TaskStatus.COMPLETED, result_json='"ok"', seq=again.seq)], [], 2.0
            )
            record = await alive.get(task_id)
            assert record is not None
            assert (record.status, record.result, record.attempts) == (TaskStatus.COMPLETED, "ok", 2)
        finally:
            await dead.close()
            await alive.close()

    asyncio.run(main())


def test_a_submit_takes_its_tasks_before_its_notify_wakes_the_claim_loop(postgres_url: str) -> None:
    # The daemon's claim loop claims when a notify says tasks came: had the submit's own claim run
    # after the submit's commit, the two claims would race, each skipping the rows the other had
    # locked, and the tasks would reach the handler out of submission order.
    async def main() -> None:
        queue = PostgresQueue(postgres_url)
        woken: list[asyncio.Task[list[ClaimedTask]]] = []
        queue.bind(
            "d", on_new_tasks=lambda t: woken.append(asyncio.create_task(queue.claim(t, 10, time.time())))
        )
        await queue.open()
        try:
            await asyncio.wait_for(queue.listening.wait(), 10)
            for round_ in range(5):
                answers, claimed = await queue.submit_and_claim(
                    [new() for _ in range(4)], time.time(), "echo", 1
                )
                for _ in range(200):  # the notify, within 10 s
                    if len(woken) > round_:
                        break
                    await asyncio.sleep(0.05)
                assert len(woken) == round_ + 1, "no notify came for the submit"
                by_the_loop = await woken[round_]
                ids = [task_id for task_id, _ in answers]
                assert [t.id for t in claimed] == ids[:1]
                assert [t.id for t in by_the_loop] == ids[1:]
        finally:
            await queue.close()

    asyncio.run(main())


def test_a_renewed_lease_is_not_reclaimed(postgres_url: str) -> None:
    async def main() -> None:
        holder = PostgresQueue(postgres_url, lease_seconds=0.6)
        other = PostgresQueue(postgres_url)
        holder.bind("holder")
        await holder.open()
        await other.open()
        try:
            [(task_id, _)] = await holder.submit([new()], time.time())
            await holder.claim("echo", 1, time.time())
            for _ in range(5):  # 1 s in all: longer than the lease, renewed well within it
                await asyncio.sleep(0.2)
                assert await holder.renew([task_id]) == 1
                assert await other.reclaim_expired(time.time()) == []
        finally:
            await holder.close()
            await other.close()

    asyncio.run(main())


def test_a_submit_through_one_daemon_notifies_the_others(postgres_url: str) -> None:
    async def main() -> list[str]:
        listener = PostgresQueue(postgres_url)
        submitter = PostgresQueue(postgres_url)
        heard: list[str] = []
        woken = asyncio.Event()

        def on_new_tasks(task_type: str) -> None:
            heard.append(task_type)
            woken.set()

        listener.bind("listener", on_new_tasks=on_new_tasks)
        await listener.open()
        await submitter.open()
        try:
            await asyncio.wait_for(listener.listening.wait(), 10)  # the LISTEN connection is up
            await submitter.submit([new("resize")], time.time())
            await asyncio.wait_for(woken.wait(), 10)
        finally:
            await listener.close()
            await submitter.close()
        return heard

    assert set(asyncio.run(main())) == {"resize"}


def test_a_cancel_through_another_daemon_tells_the_one_running_the_task(postgres_url: str) -> None:
    async def main() -> None:
        runner = PostgresQueue(postgres_url)
        other = PostgresQueue(postgres_url)
        told: list[str] = []
        heard = asyncio.Event()

        def on_cancel(task_id: str) -> None:
            told.append(task_id)
            heard.set()

        runner.bind("runner", on_cancel=on_cancel)
        other.bind("other")
        await runner.open()
        await other.open()
        try:
            await asyncio.wait_for(runner.listening.wait(), 10)  # the LISTEN connection is up
            [(task_id, _)] = await runner.submit([new()], time.time())
            await runner.claim("echo", 1, time.time())
            assert await runner.cancel_elsewhere(task_id, time.time()) is False  # its own task
            assert await other.cancel_elsewhere(task_id, time.time()) is True
            await asyncio.wait_for(heard.wait(), 10)
            assert told == [task_id]
            record = await other.get(task_id)
            assert record is not None
            assert record.status is TaskStatus.CANCELLED
        finally:
            await runner.close()
            await other.close()

    asyncio.run(main())


class _ReadAfterCommitFails(PostgresQueue):
    """A queue whose reads of records fail as if the network dropped right after a commit: a cut
    at exactly that moment cannot be arranged from outside, so this one read is made to fail."""

    async def _read_record(self, conn: Any, query: str, task_id: str) -> TaskRecord | None:
        raise QueueUnavailable("the network dropped after the commit")


def test_a_completion_stays_recorded_when_the_read_for_its_waiter_fails(postgres_url: str) -> None:
    """The waiter reads for itself instead: record_and_get answers nothing, and raises nothing the
    writer would take for a lost commit."""
    queue = _ReadAfterCommitFails(postgres_url)

    async def main() -> tuple[list[TaskRecord], list[tuple[Any, ...]]]:
        await queue.open()
        try:
            [(task_id, _)] = await queue.submit([new()], time.time())
            [claimed] = await queue.claim("echo", 1, time.time())
            done = Transition(
                task_id,
                TaskStatus.COMPLETED,
                result_json='"ok"',
                seq=claimed.seq,
                data_json=claimed.data_json,
            )
            records = await queue.record_and_get([done], [], time.time(), [task_id])
            return records, query(postgres_url, "SELECT status FROM tasks WHERE id = %s", (task_id,))
        finally:
            await queue.close()

    records, rows = asyncio.run(main())
    assert records == []
    assert rows == [("completed",)]
