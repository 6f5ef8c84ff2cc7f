"""Retention in the SQLite file: new files shrink as tasks are pruned (incremental
auto_vacuum), older files are converted by a full VACUUM, and pruning reads an index."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

from taskdaemond import defaults
from taskdaemond.queue import NewTask, Transition, sqlite_retention
from taskdaemond.queue import retention_sql as sql
from taskdaemond.queue._migrations import load
from taskdaemond.queue.sqlite import SqliteQueue
from taskdaemond.queue.sqlite_sql import MIGRATIONS_PACKAGE
from taskdaemond.statuses import TaskStatus

BIG = '{"pad": "' + "x" * 4000 + '"}'


def pragma(path: Path, name: str) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute(f"PRAGMA {name}").fetchone()[0])


async def fill(queue: SqliteQueue, count: int, now: float) -> None:
    """``count`` completed tasks of 4 KB each, finished at ``now``."""
    await queue.submit([NewTask("echo", BIG, 50, 3) for _ in range(count)], now)
    claimed = await queue.claim("echo", count, now)
    await queue.record(
        [Transition(t.id, TaskStatus.COMPLETED, result_json=BIG, seq=t.seq) for t in claimed], [], now
    )


def test_a_new_file_gives_the_space_of_pruned_tasks_back(tmp_path: Path) -> None:
    path = tmp_path / "q.db"

    async def main() -> tuple[int, int, int]:
        queue = SqliteQueue(path)
        await queue.open()
        try:
            now = time.time()
            await fill(queue, 3000, now)
            full = (await queue.storage()).size_bytes
            while await queue.prune({TaskStatus.COMPLETED: now + 1}, 500):
                pass
            # One step gives back a whole chunk, not a page (the pragma must run to its end).
            step = await queue._call(lambda: sqlite_retention.vacuum_step(queue.db))
            assert step == defaults.VACUUM_PAGES * pragma(path, "page_size")
            reclaimed = step + await queue.reclaim_space()
            return full, reclaimed, (await queue.storage()).size_bytes
        finally:
            await queue.close()

    full, reclaimed, _ = asyncio.run(main())
    assert pragma(path, "auto_vacuum") == 2  # incremental
    # 3,000 tasks of 8 KB (data and result): 24 MB, less the reserve of 8 MB kept for new tasks.
    assert full > 24_000_000
    assert reclaimed > 12_000_000
    with sqlite3.connect(path) as db:  # once the WAL is checkpointed, the file itself is smaller
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert path.stat().st_size < 12_000_000


def test_a_file_made_before_retention_keeps_its_mode_until_a_full_vacuum(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:  # the first release's schema, auto_vacuum NONE
        db.executescript(load(MIGRATIONS_PACKAGE)[0].sql + "PRAGMA user_version = 1;")

    async def main() -> tuple[int, int]:
        queue = SqliteQueue(path)
        await queue.open()
        try:
            now = time.time()
            await fill(queue, 1000, now)
            while await queue.prune({TaskStatus.COMPLETED: now + 1}, 500):
                pass
            kept = await queue.reclaim_space()  # not incremental: the free pages stay for reuse
            return kept, await queue.vacuum()
        finally:
            await queue.close()

    kept, shrunk = asyncio.run(main())
    assert kept == 0
    assert shrunk > 1000 * 4000
    assert pragma(path, "auto_vacuum") == 2


def test_pruning_reads_the_finished_index(tmp_path: Path) -> None:
    path = tmp_path / "q.db"

    async def main() -> None:
        queue = SqliteQueue(path)
        await queue.open()
        await queue.close()

    asyncio.run(main())
    with sqlite3.connect(path) as db:
        for statement, params in (
            (sql.SQLITE_PRUNE_BY_AGE, ("completed", 1.0, 10)),
            (sql.SQLITE_OLDEST_FINISHED, ("failed", 10)),
            (sql.SQLITE_COUNT_PRUNABLE, ("completed", 1.0)),
            (sql.SQLITE_COUNT_FINISHED, ()),
        ):
            plan = " ".join(str(row) for row in db.execute(f"EXPLAIN QUERY PLAN {statement}", params))
            assert "tasks_finished" in plan, (statement, plan)
