"""Payloads in tables of their own (migration 0006): a queue made before it keeps every task,
data and result read back the same, and the tasks still run; the tasks row never holds them."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from taskdaemond.queue import NewTask, TaskQueue, postgres_sql, sqlite_sql
from taskdaemond.queue._migrations import load
from taskdaemond.queue.models import Transition
from taskdaemond.queue.postgres import PostgresQueue
from taskdaemond.queue.sqlite import SqliteQueue
from taskdaemond.statuses import TaskStatus
from tests.helpers import FAST_BACKOFF, handler_table, serving, submit, wait

COLUMNS = (
    "id, task_type, data, status, priority, attempts, max_retries, run_at, created_at, updated_at, "
    "started_at, finished_at, result, metadata, last_error, errors, tags"
)

#: Tasks as a queue of migration 0003 holds them: one per status, data and results of every
#: JSON shape (text beyond ASCII, nesting, a null result), tags on some.
OLD_TASKS: list[dict[str, Any]] = [
    {
        "id": "t-pending",
        "status": "pending",
        "data": {"echo": "héllo ✓", "n": [1, 2.5, None]},
        "tags": {"a": "1"},
    },
    {"id": "t-processing", "status": "processing", "data": {"echo": {"deep": {"x": True}}}, "attempts": 1},
    {
        "id": "t-completed",
        "status": "completed",
        "data": {"echo": 7},
        "result": {"echo": 7, "attempt": 0, "text": "ünï"},
        "metadata": {"ms": 3},
        "attempts": 1,
    },
    {"id": "t-null-result", "status": "completed", "data": {}, "result": None, "attempts": 1},
    {
        "id": "t-failed",
        "status": "failed",
        "data": {"echo": "again"},
        "attempts": 1,
        "last_error": "boom",
        "errors": [{"attempt": 0, "error": "boom", "error_type": "X", "retryable": False, "at": 5.0}],
    },
    {"id": "t-cancelled", "status": "cancelled", "data": {"echo": "never"}},
]


def old_row(task: dict[str, Any]) -> tuple[Any, ...]:
    final = task["status"] in ("completed", "failed", "cancelled")
    now = time.time()  # recent: the pruner keeps them
    return (
        task["id"],
        "echo",
        json.dumps(task["data"], separators=(",", ":")),
        task["status"],
        50,
        task.get("attempts", 0),
        3,
        now - 3,
        now - 3,
        now - 1,
        now - 2 if task.get("attempts") else None,
        now - 1 if final else None,
        json.dumps(task["result"]) if "result" in task else None,
        json.dumps(task["metadata"]) if "metadata" in task else None,
        task.get("last_error"),
        json.dumps(task.get("errors", [])),
        json.dumps(task["tags"]) if "tags" in task else None,
    )


def make_0003_sqlite(path: Path) -> None:
    """A queue file as the release with migrations 0001-0003 left it, with OLD_TASKS in it."""
    with sqlite3.connect(path) as db:
        for migration in load(sqlite_sql.MIGRATIONS_PACKAGE)[:3]:
            db.executescript(migration.sql)
        db.execute("PRAGMA user_version = 3")
        db.executemany(
            f"INSERT INTO tasks ({COLUMNS}) VALUES ({', '.join('?' * 17)})", [old_row(t) for t in OLD_TASKS]
        )
        db.execute(
            "INSERT INTO events (task_id, at, body) VALUES ('t-completed', 1.7, '{\"event\":\"log\"}')"
        )


def test_a_0003_sqlite_queue_keeps_every_task_and_its_tasks_still_run(tmp_path: Path) -> None:
    make_0003_sqlite(tmp_path / "queue.db")
    with (
        serving(tmp_path, {"echo": handler_table("behave", instances=1, backoff=FAST_BACKOFF)}) as daemon,
        daemon.client() as client,
    ):
        for old in OLD_TASKS:
            if old["status"] in ("pending", "processing"):
                continue  # they run at once: checked below
            task = client.get(f"/api/tasks/{old['id']}").json()
            assert task["data"] == old["data"], old["id"]
            assert task["result"] == old.get("result"), old["id"]
            assert (task["status"], task["metadata"], task["last_error"]) == (
                old["status"],
                old.get("metadata"),
                old.get("last_error"),
            )
            assert [e["error"] for e in task["errors"]] == [e["error"] for e in old.get("errors", [])]
        assert client.get("/api/tasks/t-completed").json()["logs"] == [{"event": "log"}]
        # The tasks left pending or running run to completion, from the data they had.
        pending = wait(client, "t-pending")
        assert (pending["status"], pending["tags"]) == ("completed", {"a": "1"})
        assert pending["result"] == {"echo": "héllo ✓", "attempt": 0}
        assert wait(client, "t-processing")["result"] == {"echo": {"deep": {"x": True}}, "attempt": 1}
        # A failed one redriven runs again; a new task runs beside them.
        assert client.post("/api/tasks/t-failed/redrive").status_code == 200
        assert wait(client, "t-failed")["result"] == {"echo": "again", "attempt": 0}
        fresh = submit(client, {"type": "echo", "data": {"echo": "new"}})
        assert wait(client, fresh)["result"] == {"echo": "new", "attempt": 0}
        listed = {t["id"]: t for t in client.get("/api/tasks", params={"limit": 50}).json()["tasks"]}
        assert listed["t-completed"]["result"] == OLD_TASKS[2]["result"]
        assert listed["t-cancelled"]["data"] == {"echo": "never"}
    with sqlite3.connect(tmp_path / "queue.db") as db:
        columns = {row[1] for row in db.execute("PRAGMA table_info(tasks)")}
        assert "data" not in columns and "result" not in columns
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(load(sqlite_sql.MIGRATIONS_PACKAGE))


def run_sqlite(path: Path, work: Any) -> Any:
    async def main() -> Any:
        queue = SqliteQueue(path)
        await queue.open()
        try:
            return await work(queue)
        finally:
            await queue.close()

    return asyncio.run(main())


def test_a_claim_and_a_completion_leave_the_data_row_alone_and_a_delete_takes_both(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    big = json.dumps({"blob": "x" * 100_000})

    def payload_rows() -> tuple[int, int]:
        with sqlite3.connect(path) as db:
            data = db.execute("SELECT count(*) FROM task_data").fetchone()[0]
            results = db.execute("SELECT count(*) FROM task_results").fetchone()[0]
            return data, results

    async def work(queue: SqliteQueue) -> None:
        [(task_id, _)] = await queue.submit([NewTask("echo", big, 50, 3)], time.time())
        [claimed] = await queue.claim("echo", 1, time.time())
        assert claimed.data_json == big
        assert payload_rows() == (1, 0)
        await queue.record(
            [Transition(task_id, TaskStatus.COMPLETED, result_json='"done"', seq=claimed.seq)],
            [],
            time.time(),
        )
        done = await queue.get(task_id)
        assert done is not None
        assert (done.status, done.result, done.data) == (TaskStatus.COMPLETED, "done", json.loads(big))
        assert payload_rows() == (1, 1)
        assert await queue.delete(task_id) is TaskStatus.COMPLETED
        assert payload_rows() == (0, 0)

    run_sqlite(path, work)


def test_a_0003_postgres_queue_keeps_every_task_and_they_still_claim(postgres_url: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(postgres_sql.MIGRATIONS_TABLE)
        for migration in load(postgres_sql.MIGRATIONS_PACKAGE)[:3]:
            conn.execute(migration.sql.encode())
            conn.execute(postgres_sql.RECORD_MIGRATION, (migration.version, migration.name))
        with conn.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO tasks ({COLUMNS}) VALUES ({', '.join(['%s'] * 17)})",
                [old_row(t) for t in OLD_TASKS],
            )

    async def main() -> list[str]:
        queue = PostgresQueue(postgres_url)
        await queue.open(recover=False)
        try:
            for old in OLD_TASKS:
                record = await queue.get(old["id"])
                assert record is not None
                assert (record.data, record.result, record.status.value) == (
                    old["data"],
                    old.get("result"),
                    old["status"],
                )
            claimed = await queue.claim("echo", 10, time.time())
            assert [t.data_json for t in claimed] == [json.dumps(OLD_TASKS[0]["data"], separators=(",", ":"))]
            page = await queue.list(status=None, task_type=None, limit=50, cursor=None)
            assert {r.id: r.data for r in page.tasks} == {t["id"]: t["data"] for t in OLD_TASKS}
            assert await queue.delete("t-completed") is TaskStatus.COMPLETED
            return queue.applied_migrations
        finally:
            await queue.close()

    assert asyncio.run(main()) == [m.label for m in load(postgres_sql.MIGRATIONS_PACKAGE)[3:]]
    with psycopg.connect(postgres_url) as conn:
        seqs = conn.execute("SELECT seq FROM task_data UNION ALL SELECT seq FROM task_results").fetchall()
        # Six data rows and two results ("null" is a result), less t-completed's two.
        assert len(seqs) == 6


@pytest.fixture(params=["sqlite", "postgres"])
def sql_queue(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[TaskQueue, Callable[[str, int], None]]:
    """A SQL queue, and a way to change a task's stored data behind its back (seq, JSON text)."""
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")

        def change_pg(data: str, seq: int) -> None:
            with psycopg.connect(url) as conn:
                conn.execute("UPDATE task_data SET data = %s WHERE seq = %s", (data, seq))

        return PostgresQueue(url), change_pg
    path = tmp_path / "q.db"

    def change_sqlite(data: str, seq: int) -> None:
        with sqlite3.connect(path) as db:
            db.execute("UPDATE task_data SET data = ? WHERE seq = ?", (data, seq))

    return SqliteQueue(path), change_sqlite


def test_a_waited_completion_is_answered_from_the_values_in_hand_not_read_back(
    sql_queue: tuple[TaskQueue, Callable[[str, int], None]],
) -> None:
    """record_and_get builds the record of a task it completes from the transition's data and
    result (up to twice 64 MiB not read back). The proof: stored values changed behind the
    queue's back after the claim are not what it answers with; a plain get() reads them."""
    queue, change_stored_data = sql_queue

    async def work() -> None:
        [(task_id, _)] = await queue.submit([NewTask("echo", '{"n":1}', 50, 3)], time.time())
        [claimed] = await queue.claim("echo", 1, time.time())
        change_stored_data('{"n":"changed"}', claimed.seq)
        done = Transition(
            task_id,
            TaskStatus.COMPLETED,
            result_json='{"r":1}',
            seq=claimed.seq,
            data_json=claimed.data_json,
        )
        [answered] = await queue.record_and_get([done], [], time.time(), [task_id])
        assert (answered.status, answered.data, answered.result) == (TaskStatus.COMPLETED, {"n": 1}, {"r": 1})
        stored = await queue.get(task_id)
        assert stored is not None and (stored.data, stored.result) == ({"n": "changed"}, {"r": 1})
        assert answered.to_api() | {"data": None} == stored.to_api() | {"data": None}

    async def main() -> None:
        await queue.open()
        try:
            await work()
        finally:
            await queue.close()

    asyncio.run(main())
