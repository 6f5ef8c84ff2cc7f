"""The queue interface, run against every implementation (memory, SQLite, PostgreSQL), so the
backends cannot drift; SQLite durability on its own."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from taskdaemond.queue import AttemptError, NewTask, TaskQueue, Transition
from taskdaemond.queue.memory import MemoryQueue
from taskdaemond.queue.sqlite import SqliteQueue
from taskdaemond.statuses import TaskStatus

T = TypeVar("T")
QueueFactory = Callable[[str], TaskQueue]


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def make_queue(request: pytest.FixtureRequest, tmp_path: Path) -> QueueFactory:
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else ""

    def make(selection: str = "fifo") -> TaskQueue:
        if request.param == "memory":
            return MemoryQueue(selection)
        if request.param == "postgres":
            from taskdaemond.queue.postgres import PostgresQueue

            return PostgresQueue(url, selection)
        return SqliteQueue(tmp_path / "q.db", selection)

    return make


def run(queue: TaskQueue, scenario: Callable[[TaskQueue], Awaitable[T]]) -> T:
    async def main() -> T:
        await queue.open()
        try:
            return await scenario(queue)
        finally:
            await queue.close()

    return asyncio.run(main())


def new(task_type: str = "echo", data: str = "{}", priority: int = 50, **kw: Any) -> NewTask:
    return NewTask(
        task_type=task_type, data_json=data, priority=priority, max_retries=kw.pop("max_retries", 3), **kw
    )


NOW = 1_000_000.0


def test_submitted_tasks_are_claimed_first_in_first_out(make_queue: QueueFactory) -> None:
    async def scenario(q: TaskQueue) -> list[str]:
        ids = [i for i, _ in await q.submit([new(data=f'{{"n":{n}}}') for n in range(5)], NOW)]
        claimed = await q.claim("echo", 3, NOW)
        assert [c.id for c in claimed] == ids[:3]
        assert [c.attempt for c in claimed] == [0, 0, 0]
        return [c.data_json for c in claimed]

    assert run(make_queue("fifo"), scenario) == ['{"n":0}', '{"n":1}', '{"n":2}']


def test_submit_and_claim_enqueues_then_claims_in_queue_order(make_queue: QueueFactory) -> None:
    """The claim comes after the new tasks are in: it takes the oldest due tasks, new or not."""

    async def scenario(q: TaskQueue) -> None:
        [(older, _)] = await q.submit([new(data='{"n":0}')], NOW)
        fresh = [new(data='{"n":1}'), new(data='{"n":2}'), new(data='{"n":3}', delay=60)]
        answers, claimed = await q.submit_and_claim(fresh, NOW, "echo", 5)
        assert [created for _, created in answers] == [True, True, True]
        assert [c.id for c in claimed] == [older, answers[0][0], answers[1][0]]  # not the delayed one
        assert [c.attempt for c in claimed] == [0, 0, 0]
        # The older task's data from the queue, the new ones' as submitted (SQLite: not read back)
        assert [c.data_json for c in claimed] == ['{"n":0}', '{"n":1}', '{"n":2}']
        record = await q.get(answers[0][0])
        assert record is not None and record.status is TaskStatus.PROCESSING
        assert await q.claim("echo", 5, NOW) == []

    run(make_queue("fifo"), scenario)


def test_record_and_get_commits_then_reads_the_asked_records_or_leaves_them_to_the_caller(
    make_queue: QueueFactory,
) -> None:
    async def scenario(q: TaskQueue) -> None:
        [(task_id, _)] = await q.submit([new()], NOW)
        [claimed] = await q.claim("echo", 1, NOW)
        done = Transition(
            task_id, TaskStatus.COMPLETED, result_json='"ok"', task_type="echo", seq=claimed.seq
        )
        records = await q.record_and_get([done], [], NOW, [task_id])
        stored = await q.get(task_id)
        assert stored is not None and stored.status is TaskStatus.COMPLETED  # committed either way
        assert records in ([], [stored])  # SQLite and memory read it; PostgreSQL leaves it to the caller

    run(make_queue("fifo"), scenario)


def test_record_and_get_answers_a_completion_with_its_data_and_result(make_queue: QueueFactory) -> None:
    """A waiting client's record, from the values the completion holds (SQL queues) or the
    memory queue's own: every engine answers, the same as a later get()."""

    async def scenario(q: TaskQueue) -> None:
        [(task_id, _)] = await q.submit([new(data='{"n":"ü"}')], NOW)
        [claimed] = await q.claim("echo", 1, NOW)
        done = Transition(
            task_id,
            TaskStatus.COMPLETED,
            result_json='{"r":[1,2]}',
            task_type="echo",
            seq=claimed.seq,
            data_json=claimed.data_json,
        )
        records = await q.record_and_get([done], [], NOW + 1, [task_id])
        stored = await q.get(task_id)
        assert stored is not None and stored.data == {"n": "ü"} and stored.result == {"r": [1, 2]}
        assert records == [stored]
        assert records[0].finished_at == NOW + 1

    run(make_queue("fifo"), scenario)


def test_record_and_get_of_a_completion_that_did_not_apply_answers_the_task_as_stored(
    make_queue: QueueFactory,
) -> None:
    """The task went back to pending before its completion was recorded: no result is shown."""

    async def scenario(q: TaskQueue) -> None:
        [(task_id, _)] = await q.submit([new(data='{"n":1}')], NOW)
        [claimed] = await q.claim("echo", 1, NOW)
        await q.release([task_id])
        done = Transition(
            task_id, TaskStatus.COMPLETED, result_json='"late"', seq=claimed.seq, data_json=claimed.data_json
        )
        records = await q.record_and_get([done], [], NOW + 1, [task_id])
        stored = await q.get(task_id)
        assert stored is not None and stored.status is TaskStatus.PENDING and stored.result is None
        assert records in ([], [stored])

    run(make_queue("fifo"), scenario)


def test_lifo_claims_the_newest_first(make_queue: QueueFactory) -> None:
    async def scenario(q: TaskQueue) -> None:
        ids = [i for i, _ in await q.submit([new() for _ in range(3)], NOW)]
        assert [c.id for c in await q.claim("echo", 3, NOW)] == ids[::-1]

    run(make_queue("lifo"), scenario)


def test_priority_claims_higher_first_and_fifo_among_equals(make_queue: QueueFactory) -> None:
    async def scenario(q: TaskQueue) -> None:
        ids = [i for i, _ in await q.submit([new(priority=p) for p in (10, 90, 50, 90)], NOW)]
        assert [c.id for c in await q.claim("echo", 4, NOW)] == [ids[1], ids[3], ids[2], ids[0]]

    run(make_queue("priority"), scenario)


def test_claim_takes_only_the_asked_type(make_queue: QueueFactory) -> None:
    async def scenario(q: TaskQueue) -> None:
        await q.submit([new("a"), new("b")], NOW)
        assert [c.task_type for c in await q.claim("b", 10, NOW)] == ["b"]

    run(make_queue("fifo"), scenario)


def test_delayed_task_is_not_claimed_before_its_time(make_queue: QueueFactory) -> None:
    async def scenario(q: TaskQueue) -> None:
        await q.submit([new(delay=30)], NOW)
        assert await q.claim("echo", 10, NOW + 29) == []
        assert len(await q.claim("echo", 10, NOW + 30)) == 1

    run(make_queue("fifo"), scenario)


def test_idempotency_key_returns_the_first_task_while_it_is_not_failed(make_queue: QueueFactory) -> None:
    async def scenario(q: TaskQueue) -> None:
        [(first, created)] = await q.submit([new(idempotency_key="k")], NOW)
        assert created
        assert await q.submit([new(idempotency_key="k"), new(idempotency_key="k")], NOW) == [
            (first, False),
            (first, False),
        ]
        [claimed] = await q.claim("echo", 1, NOW)
        error = AttemptError(0, "no", "E", False)
        await q.record([Transition(claimed.id, TaskStatus.FAILED, error=error)], [], NOW)
        [(second, created)] = await q.submit([new(idempotency_key="k")], NOW)
        assert created and second != first

    run(make_queue("fifo"), scenario)


def test_same_key_twice_in_one_batch_creates_one_task(make_queue: QueueFactory) -> None:
    async def scenario(q: TaskQueue) -> None:
        answers = await q.submit([new(), new(idempotency_key="k"), new(idempotency_key="k")], NOW)
        assert answers[1] == (answers[2][0], True) or answers[2] == (answers[1][0], False)
        assert (await q.counts())["pending"] == 2

    run(make_queue("fifo"), scenario)


@pytest.mark.parametrize("with_seq", [True, False])
def test_completion_stores_result_and_metadata(make_queue: QueueFactory, with_seq: bool) -> None:
    async def scenario(q: TaskQueue) -> None:
        [(task_id, _)] = await q.submit([new()], NOW)
        [claimed] = await q.claim("echo", 1, NOW)
        seq = claimed.seq if with_seq else 0
        transition = Transition(
            task_id, TaskStatus.COMPLETED, result_json='{"ok":1}', metadata_json='{"ms":3}', seq=seq
        )
        await q.record([transition], [], NOW + 1)
        record = await q.get(task_id)
        assert record is not None
        assert (record.status, record.result, record.metadata, record.attempts) == (
            TaskStatus.COMPLETED,
            {"ok": 1},
            {"ms": 3},
            1,
        )
        assert record.finished_at == NOW + 1

    run(make_queue("fifo"), scenario)


def test_retry_keeps_every_error_and_runs_with_the_next_attempt(make_queue: QueueFactory) -> None:
    async def scenario(q: TaskQueue) -> None:
        [(task_id, _)] = await q.submit([new()], NOW)
        for attempt in range(2):
            [claimed] = await q.claim("echo", 1, NOW + 10 * attempt)
            assert claimed.attempt == attempt
            error = AttemptError(
                attempt, f"err {attempt}", "Crash", True, traceback="tb", crashed=True, at=NOW
            )
            await q.record(
                [
                    Transition(
                        task_id, TaskStatus.PENDING, error=error, run_at=NOW + 10 * attempt + 5, crashed=True
                    )
                ],
                [],
                NOW,
            )
            assert await q.claim("echo", 1, NOW + 10 * attempt + 4) == []
        record = await q.get(task_id)
        assert record is not None
        assert [e["error"] for e in record.errors] == ["err 0", "err 1"]
        assert record.errors[0]["traceback"] == "tb" and record.errors[0]["crashed"] is True
        assert (record.last_error, record.crashes, record.status) == ("err 1", 2, TaskStatus.PENDING)

    run(make_queue("fifo"), scenario)


def test_events_are_stored_as_logs_and_the_latest_progress(make_queue: QueueFactory) -> None:
    from taskdaemond.queue import TaskEvent

    async def scenario(q: TaskQueue) -> None:
        [(task_id, _)] = await q.submit([new()], NOW)
        await q.record(
            [],
            [
                TaskEvent(
                    task_id, NOW, {"event": "log", "task_id": task_id, "level": "info", "message": "hi"}
                ),
                TaskEvent(
                    task_id,
                    NOW,
                    {"event": "progress", "task_id": task_id, "progress": 0.4, "message": "going"},
                ),
            ],
            NOW,
        )
        record = await q.get(task_id)
        assert record is not None
        assert [e["event"] for e in record.logs] == ["log", "progress"]
        assert (record.progress, record.progress_message) == (0.4, "going")

    run(make_queue("fifo"), scenario)


def test_transition_of_a_task_no_longer_processing_is_ignored(make_queue: QueueFactory) -> None:
    async def scenario(q: TaskQueue) -> None:
        [(task_id, _)] = await q.submit([new()], NOW)
        await q.record([Transition(task_id, TaskStatus.COMPLETED, result_json="1")], [], NOW)
        record = await q.get(task_id)
        assert record is not None and record.status is TaskStatus.PENDING

    run(make_queue("fifo"), scenario)


def test_release_gives_claimed_tasks_back_without_counting_an_attempt(make_queue: QueueFactory) -> None:
    async def scenario(q: TaskQueue) -> None:
        await q.submit([new(), new()], NOW)
        claimed = await q.claim("echo", 2, NOW)
        await q.release([c.id for c in claimed])
        again = await q.claim("echo", 2, NOW)
        assert [c.id for c in again] == [c.id for c in claimed]
        assert [c.attempt for c in again] == [0, 0]

    run(make_queue("fifo"), scenario)


def test_cancel_applies_to_pending_tasks_only(make_queue: QueueFactory) -> None:
    async def scenario(q: TaskQueue) -> None:
        [(a, _), (b, _)] = await q.submit([new(), new()], NOW)
        [claimed] = await q.claim("echo", 1, NOW)
        assert claimed.id == a
        assert await q.cancel_pending(b, NOW) is TaskStatus.PENDING
        assert await q.cancel_pending(a, NOW) is TaskStatus.PROCESSING
        assert await q.cancel_pending("missing", NOW) is None
        record = await q.get(b)
        assert record is not None and record.status is TaskStatus.CANCELLED
        assert await q.claim("echo", 5, NOW) == []

    run(make_queue("fifo"), scenario)


def test_redrive_restarts_failed_and_interrupted_tasks_only(make_queue: QueueFactory) -> None:
    async def scenario(q: TaskQueue) -> None:
        [(a, _), (b, _), (c, _)] = await q.submit([new(), new(), new()], NOW)
        await q.claim("echo", 3, NOW)
        error = AttemptError(0, "no", None, False)
        await q.record(
            [
                Transition(a, TaskStatus.FAILED, error=error),
                Transition(b, TaskStatus.INTERRUPTED, error=error),
                Transition(c, TaskStatus.COMPLETED, result_json="1"),
            ],
            [],
            NOW,
        )
        assert await q.redrive(a, NOW) is TaskStatus.FAILED
        assert await q.redrive(b, NOW) is TaskStatus.INTERRUPTED
        assert await q.redrive(c, NOW) is TaskStatus.COMPLETED
        assert await q.redrive("missing", NOW) is None
        claimed = await q.claim("echo", 5, NOW)
        assert sorted(t.id for t in claimed) == sorted([a, b])
        assert all(t.attempt == 0 for t in claimed)
        record = await q.get(a)
        assert record is not None and record.errors  # history is kept

    run(make_queue("fifo"), scenario)


def test_delete_removes_the_task(make_queue: QueueFactory) -> None:
    async def scenario(q: TaskQueue) -> None:
        [(a, _)] = await q.submit([new()], NOW)
        assert await q.delete(a) is TaskStatus.PENDING
        assert await q.get(a) is None
        assert await q.delete(a) is None
        assert await q.claim("echo", 5, NOW) == []

    run(make_queue("fifo"), scenario)


def test_list_filters_and_pages_newest_first(make_queue: QueueFactory) -> None:
    async def scenario(q: TaskQueue) -> None:
        ids = [i for i, _ in await q.submit([new("a"), new("b"), new("a"), new("a"), new("a")], NOW)]
        page = await q.list(status=None, task_type="a", limit=2, cursor=None)
        assert [r.id for r in page.tasks] == [ids[4], ids[3]]
        page2 = await q.list(status=None, task_type="a", limit=2, cursor=page.next_cursor)
        assert [r.id for r in page2.tasks] == [ids[2], ids[0]]
        assert page2.next_cursor is None
        await q.claim("b", 1, NOW)
        processing = await q.list(status=TaskStatus.PROCESSING, task_type=None, limit=10, cursor=None)
        assert [r.id for r in processing.tasks] == [ids[1]]
        counts = await q.counts()
        assert counts["pending"] == 4 and counts["processing"] == 1 and counts["failed"] == 0

    run(make_queue("fifo"), scenario)


def test_sqlite_recovers_processing_tasks_at_open_with_the_next_attempt(tmp_path: Path) -> None:
    path = tmp_path / "q.db"

    async def first() -> str:
        q = SqliteQueue(path)
        await q.open()
        [(task_id, _)] = await q.submit([new()], time.time())
        await q.claim("echo", 1, time.time())
        await q.close()  # as if the daemon died here: the task is left "processing"
        return task_id

    async def second(task_id: str) -> tuple[int, int]:
        q = SqliteQueue(path)
        recovered = await q.open()
        [claimed] = await q.claim("echo", 1, time.time())
        await q.close()
        assert claimed.id == task_id
        return recovered, claimed.attempt

    task_id = asyncio.run(first())
    assert asyncio.run(second(task_id)) == (1, 1)


def test_sqlite_file_uses_wal(tmp_path: Path) -> None:
    import sqlite3

    async def scenario() -> None:
        q = SqliteQueue(tmp_path / "q.db")
        await q.open()
        await q.submit([new()], NOW)
        await q.close()

    asyncio.run(scenario())
    with sqlite3.connect(tmp_path / "q.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_completion_of_a_cancelled_task_is_ignored(make_queue: QueueFactory) -> None:
    async def scenario(q: TaskQueue) -> None:
        [(task_id, _)] = await q.submit([new()], NOW)
        [claimed] = await q.claim("echo", 1, NOW)
        await q.record([Transition(task_id, TaskStatus.CANCELLED)], [], NOW)
        await q.record([Transition(task_id, TaskStatus.COMPLETED, result_json="1", seq=claimed.seq)], [], NOW)
        record = await q.get(task_id)
        assert record is not None and record.status is TaskStatus.CANCELLED

    run(make_queue("fifo"), scenario)


def test_sqlite_keeps_only_the_claim_index_of_the_selection_in_use(tmp_path: Path) -> None:
    import sqlite3

    async def open_with(selection: str) -> None:
        q = SqliteQueue(tmp_path / "q.db", selection)
        await q.open()
        await q.close()

    def indexes() -> set[str]:
        with sqlite3.connect(tmp_path / "q.db") as db:
            return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}

    asyncio.run(open_with("priority"))
    assert "tasks_claim_priority" in indexes() and "tasks_claim_fifo" not in indexes()
    asyncio.run(open_with("fifo"))
    assert "tasks_claim_fifo" in indexes() and "tasks_claim_priority" not in indexes()


def test_list_filters_by_creation_time_and_error_text_and_pages_oldest_first(
    make_queue: QueueFactory,
) -> None:
    from taskdaemond.queue.models import TaskFilters

    async def scenario(q: TaskQueue) -> None:
        early = [i for i, _ in await q.submit([new(), new()], NOW)]
        late = [i for i, _ in await q.submit([new(), new()], NOW + 100)]
        first = (await q.claim("echo", 1, NOW + 100))[0]
        assert first.id == early[0]
        error = AttemptError(0, "Disk 50% FULL now", "IOError", False)
        await q.record([Transition(first.id, TaskStatus.FAILED, error=error)], [], NOW + 101)

        async def ids(**filters: Any) -> list[str]:
            page = await q.list(
                status=None, task_type=None, limit=10, cursor=None, filters=TaskFilters(**filters)
            )
            return [t.id for t in page.tasks]

        assert await ids(since=NOW + 50) == late[::-1]
        assert await ids(until=NOW + 50) == early[::-1]
        assert await ids(since=NOW, until=NOW + 100) == early[::-1]
        assert await ids(error="50% full") == [early[0]], "case-insensitive, % taken literally"
        assert await ids(error="50_") == [], "_ is a character, not a wildcard"
        assert await ids(error="disk") == [early[0]]
        oldest = TaskFilters(oldest_first=True)
        page = await q.list(status=None, task_type=None, limit=3, cursor=None, filters=oldest)
        assert [t.id for t in page.tasks] == [*early, late[0]] and page.next_cursor is not None
        rest = await q.list(status=None, task_type=None, limit=3, cursor=page.next_cursor, filters=oldest)
        assert [t.id for t in rest.tasks] == [late[1]] and rest.next_cursor is None

    run(make_queue("fifo"), scenario)


def test_tags_are_stored_returned_claimed_and_filtered(make_queue: QueueFactory) -> None:
    from taskdaemond.queue.models import TaskFilters

    async def scenario(q: TaskQueue) -> None:
        tagged, other, plain = [
            i
            for i, _ in await q.submit(
                [
                    new(tags_json='{"tenant":"acme","env":"prod"}'),
                    new(tags_json='{"tenant":"globex"}'),
                    new(),
                ],
                NOW,
            )
        ]
        record = await q.get(tagged)
        assert record is not None and record.tags == {"tenant": "acme", "env": "prod"}
        assert record.to_api()["tags"] == {"tenant": "acme", "env": "prod"}
        bare = await q.get(plain)
        assert bare is not None and bare.tags == {} and bare.to_api()["tags"] == {}
        claimed = {c.id: c.tags_json for c in await q.claim("echo", 3, NOW)}
        assert claimed[plain] is None
        assert json.loads(claimed[tagged] or "null") == {"tenant": "acme", "env": "prod"}

        async def ids(key: str, value: str) -> list[str]:
            page = await q.list(
                status=None, task_type=None, limit=10, cursor=None, filters=TaskFilters(tag=(key, value))
            )
            return [t.id for t in page.tasks]

        assert await ids("tenant", "acme") == [tagged]
        assert await ids("tenant", "globex") == [other]
        assert await ids("env", "prod") == [tagged]
        assert await ids("tenant", "acm") == [], "the whole value, not a part"
        assert await ids("nope", "acme") == []

    run(make_queue("fifo"), scenario)
