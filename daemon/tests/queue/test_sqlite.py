"""What only the SQLite queue does: versioned migrations recorded in the file's user_version."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

from taskdaemond.queue import NewTask, sqlite_sql
from taskdaemond.queue._migrations import load
from taskdaemond.queue.sqlite import SqliteQueue

SHIPPED = load(sqlite_sql.MIGRATIONS_PACKAGE)


def user_version(path: Path) -> int:
    with sqlite3.connect(path) as db:
        version: int = db.execute("PRAGMA user_version").fetchone()[0]
        return version


def open_and_close(path: Path) -> list[str]:
    async def main() -> list[str]:
        queue = SqliteQueue(path)
        await queue.open()
        await queue.close()
        return queue.applied_migrations

    return asyncio.run(main())


def test_a_new_file_gets_every_migration_and_its_version(tmp_path: Path) -> None:
    assert open_and_close(tmp_path / "q.db") == [m.label for m in SHIPPED]
    assert user_version(tmp_path / "q.db") == len(SHIPPED)


def test_a_migrated_file_is_not_migrated_again(tmp_path: Path) -> None:
    open_and_close(tmp_path / "q.db")
    assert open_and_close(tmp_path / "q.db") == []
    assert user_version(tmp_path / "q.db") == len(SHIPPED)


def test_a_file_made_before_versioned_migrations_keeps_its_tasks(tmp_path: Path) -> None:
    """Files written by the first release have the schema of 0001 and user_version 0."""
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.executescript(SHIPPED[0].sql)
        db.execute(
            "INSERT INTO tasks (id, task_type, data, status, priority, max_retries, run_at, created_at, updated_at)"
            " VALUES ('old-1', 'echo', '{}', 'pending', 50, 3, 0, 0, 0)"
        )
    assert user_version(path) == 0

    async def main() -> tuple[list[str], str | None, list[str]]:
        queue = SqliteQueue(path)
        await queue.open()
        try:
            old = await queue.get("old-1")
            [(new_id, _)] = await queue.submit([NewTask("echo", "{}", 50, 3)], time.time())
            claimed = [t.id for t in await queue.claim("echo", 10, time.time())]
        finally:
            await queue.close()
        assert old is not None and new_id
        return queue.applied_migrations, old.id, claimed

    applied, old_id, claimed = asyncio.run(main())
    assert applied == [m.label for m in SHIPPED] and old_id == "old-1"
    assert claimed[0] == "old-1" and len(claimed) == 2
    assert user_version(path) == len(SHIPPED)


def test_a_file_of_version_3_with_tasks_gets_the_schedules_table(tmp_path: Path) -> None:
    """Migration 0004 (periodic tasks' progress) upgrades a file that holds tasks."""
    path = tmp_path / "v3.db"
    with sqlite3.connect(path) as db:
        db.executescript("".join(m.sql for m in SHIPPED[:3]) + "PRAGMA user_version = 3;")
        db.execute(
            "INSERT INTO tasks (id, task_type, data, status, priority, max_retries, run_at, created_at, updated_at)"
            " VALUES ('old-1', 'echo', '{}', 'pending', 50, 3, 0, 0, 0)"
        )

    async def main() -> tuple[list[str], bool, list[str]]:
        queue = SqliteQueue(path)
        await queue.open()
        try:
            task = NewTask("echo", "{}", 50, 3, idempotency_key="schedule:s:1970-01-01T00:01:00Z")
            advance = await queue.advance_schedule(
                None, name="s", timing="every 60s", due=60.0, task=task, now=61.0
            )
            states = await queue.schedule_states()
            claimed = [t.id for t in await queue.claim("echo", 10, time.time())]
        finally:
            await queue.close()
        return queue.applied_migrations, advance.won and states["s"].runs == 1, claimed

    applied, advanced, claimed = asyncio.run(main())
    assert applied == [m.label for m in SHIPPED[3:]] and SHIPPED[3].name == "schedules"
    assert advanced and claimed[0] == "old-1" and len(claimed) == 2


def test_a_file_at_version_4_with_tasks_gains_dependencies_and_workflows(tmp_path: Path) -> None:
    """Migration 0005 (workflows) on a file that holds tasks: they keep running, and a new task
    may depend on one of them."""
    path = tmp_path / "v4.db"
    with sqlite3.connect(path) as db:
        db.executescript("".join(m.sql for m in SHIPPED[:4]) + "PRAGMA user_version = 4;")
        db.execute(
            "INSERT INTO tasks (id, task_type, data, status, priority, max_retries, run_at, created_at, updated_at)"
            " VALUES ('old-1', 'echo', '{}', 'pending', 50, 3, 0, 0, 0)"
        )

    async def main() -> tuple[list[str], str, str]:
        queue = SqliteQueue(path)
        await queue.open()
        try:
            [(dependent, _)] = await queue.submit(
                [NewTask("echo", "{}", 50, 3, dependencies=(("old-1", "old-1"),))], time.time()
            )
            before = await queue.get(dependent)
            [claimed] = await queue.claim("echo", 10, time.time())
        finally:
            await queue.close()
        assert before is not None
        return queue.applied_migrations, before.status.value, claimed.id

    applied, status, claimed = asyncio.run(main())
    assert applied == [m.label for m in SHIPPED[4:]] and SHIPPED[4].name == "workflows"
    assert (status, claimed) == ("waiting", "old-1")


def test_commits_leave_the_wal_checkpoint_to_a_pass_beside_the_writer(tmp_path: Path) -> None:
    """No commit copies the WAL into the file itself: the queue's own pass does, soon after."""
    path = tmp_path / "q.db"
    data = '{"blob":"' + "x" * (4 << 20) + '"}'

    async def main() -> tuple[int, int]:
        queue = SqliteQueue(path)
        await queue.open()
        try:
            autocheckpoint = await queue._call(
                lambda: queue.db.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
            )
            await queue.submit([NewTask("echo", data, 50, 3)], time.time())
            for _ in range(200):  # bounded: the pass runs every SQLITE_CHECKPOINT_INTERVAL
                if path.stat().st_size > len(data):
                    break
                await asyncio.sleep(0.05)
            return autocheckpoint, path.stat().st_size
        finally:
            await queue.close()

    autocheckpoint, file_size = asyncio.run(main())
    assert autocheckpoint == 0
    assert file_size > len(data)  # the task's data reached the database file while the daemon ran


# -- calls on the event loop, and on the writer's thread -------------------------------------


def new_task(data_json: str = "{}") -> NewTask:
    return NewTask(task_type="echo", data_json=data_json, priority=50, max_retries=3)


def test_a_write_lock_held_elsewhere_is_waited_for_on_the_thread_not_on_the_loop(tmp_path: Path) -> None:
    # Everyday calls run on the event loop; one that finds another connection holding the write
    # lock goes to the writer's thread and waits there: the loop goes on meanwhile.
    path = tmp_path / "q.db"

    async def main() -> None:
        queue = SqliteQueue(path)
        await queue.open()
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # another process, say, holds the write lock
            submit = asyncio.create_task(queue.submit([new_task()], time.time()))
            started = time.monotonic()
            for _ in range(10):  # 0.5 s of ticks; a call waiting on the loop would freeze it 5 s
                await asyncio.sleep(0.05)
            assert time.monotonic() - started < 2.5, "the event loop waited for the lock"
            assert not submit.done()
            other.execute("COMMIT")
            [(task_id, created)] = await asyncio.wait_for(submit, 10)
            assert created and (await queue.get(task_id)) is not None
        finally:
            other.close()
            await queue.close()

    asyncio.run(main())


def test_a_call_after_one_on_the_thread_runs_after_it(tmp_path: Path) -> None:
    # A large payload is written on the thread; a claim made meanwhile must not overtake it on
    # the loop (it would find the queue empty): it queues behind it on the thread.
    async def main() -> None:
        queue = SqliteQueue(tmp_path / "q.db")
        await queue.open()
        try:
            blob = '{"blob":"' + "x" * (1 << 20) + '"}'
            submit = asyncio.create_task(queue.submit([new_task(blob)], time.time()))
            await asyncio.sleep(0)  # the submit is on the thread now
            claimed = await queue.claim("echo", 10, time.time())
            [(task_id, _)] = await submit
            assert [task.id for task in claimed] == [task_id]
        finally:
            await queue.close()

    asyncio.run(main())
