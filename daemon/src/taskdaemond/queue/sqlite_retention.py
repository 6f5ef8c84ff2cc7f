"""The SQLite queue's side of retention: prune finished tasks in small transactions, count
them, measure the file and give free pages back with ``incremental_vacuum``. Plain functions
on a connection; ``SqliteQueue`` runs them on its own thread (writes) or its reader's (counts).

New queue files are made with ``auto_vacuum = INCREMENTAL`` so that pruned space can be given
back to the file system while the daemon runs. A file made before this release keeps
``auto_vacuum = NONE`` (SQLite changes the mode of an existing file only with a full VACUUM):
its free pages are reused by new tasks, and ``taskdaemond prune --vacuum``, run while the
daemon is stopped, converts it and shrinks it once.
"""

from __future__ import annotations

import contextlib
import heapq
import json
import sqlite3
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

from taskdaemond import defaults
from taskdaemond.queue import retention_sql as sql
from taskdaemond.queue.base import Storage
from taskdaemond.statuses import FINAL_STATUSES, TaskStatus

#: PRAGMA auto_vacuum value of INCREMENTAL.
AUTO_VACUUM_INCREMENTAL = 2


def set_incremental_if_new(db: sqlite3.Connection) -> None:
    """Make a file that has no table yet shrinkable (``auto_vacuum`` is set before the first
    table, or by a VACUUM); a file that has tables is left as it is."""
    if db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0:
        db.execute("PRAGMA auto_vacuum = INCREMENTAL")


def _deleted(db: sqlite3.Connection, rows: Iterable[tuple[str, str]]) -> dict[TaskStatus, int]:
    """Drop the events of deleted tasks ``(id, status)``; how many of each status went."""
    ids: list[str] = []
    counts: Counter[TaskStatus] = Counter()
    for task_id, status in rows:
        ids.append(task_id)
        counts[TaskStatus(status)] += 1
    if ids:
        db.execute(sql.SQLITE_DELETE_EVENTS, (json.dumps(ids),))
        db.execute(sql.SQLITE_DELETE_EDGES, (json.dumps(ids),))
    return dict(counts)


def prune_by_age(
    db: sqlite3.Connection, cutoffs: Mapping[TaskStatus, float], limit: int
) -> dict[TaskStatus, int]:
    """Up to ``limit`` tasks finished before their status's cutoff (inside a transaction)."""
    rows: list[tuple[str, str]] = []
    for status, cutoff in cutoffs.items():
        if status not in FINAL_STATUSES or len(rows) >= limit:
            continue
        rows.extend(db.execute(sql.SQLITE_PRUNE_BY_AGE, (status.value, cutoff, limit - len(rows))).fetchall())
    return _deleted(db, rows)


def prune_oldest(db: sqlite3.Connection, count: int) -> dict[TaskStatus, int]:
    """The ``count`` oldest finished tasks, whatever their status (inside a transaction)."""
    if count <= 0:
        return {}
    per_status = [
        db.execute(sql.SQLITE_OLDEST_FINISHED, (status.value, count)).fetchall()
        for status in sorted(FINAL_STATUSES)
    ]
    oldest = heapq.nsmallest(count, heapq.merge(*per_status, key=lambda row: row[1]), key=lambda row: row[1])
    rows = db.execute(sql.SQLITE_DELETE_FINISHED, (json.dumps([seq for seq, _ in oldest]),)).fetchall()
    return _deleted(db, rows)


def count_prunable(db: sqlite3.Connection, cutoffs: Mapping[TaskStatus, float]) -> dict[TaskStatus, int]:
    return {
        status: int(db.execute(sql.SQLITE_COUNT_PRUNABLE, (status.value, cutoff)).fetchone()[0])
        for status, cutoff in cutoffs.items()
        if status in FINAL_STATUSES
    }


def count_finished(db: sqlite3.Connection) -> int:
    return int(db.execute(sql.SQLITE_COUNT_FINISHED).fetchone()[0])


def _pragma(db: sqlite3.Connection, name: str) -> int:
    return int(db.execute(f"PRAGMA {name}").fetchone()[0])


def storage(db: sqlite3.Connection, path: Path) -> Storage:
    """The file and its WAL on disk; the free pages inside the file."""
    size = 0
    for file in (path, path.with_name(path.name + "-wal")):
        with contextlib.suppress(FileNotFoundError):
            size += file.stat().st_size
    return Storage(size_bytes=size, free_bytes=_pragma(db, "freelist_count") * _pragma(db, "page_size"))


def vacuum_step(db: sqlite3.Connection) -> int:
    """Give back at most ``VACUUM_PAGES`` free pages beyond the reserve (a quarter of the file,
    at least ``VACUUM_KEEP_MIN_BYTES``, kept for the next inserts); bytes given back. 0 when
    the file is not in incremental mode or has no free pages beyond the reserve."""
    if _pragma(db, "auto_vacuum") != AUTO_VACUUM_INCREMENTAL:
        return 0
    page_size = _pragma(db, "page_size")
    free = _pragma(db, "freelist_count")
    reserve = max(
        defaults.VACUUM_KEEP_MIN_BYTES, _pragma(db, "page_count") * page_size * defaults.VACUUM_KEEP_FRACTION
    )
    pages = min(defaults.VACUUM_PAGES, free - int(reserve // page_size))
    if pages <= 0:
        return 0
    # Through execute() the pragma frees one page per step, and fetchall() takes one step (it
    # returns no row): executescript runs it to its end (no transaction is open here).
    db.executescript(f"PRAGMA incremental_vacuum({int(pages)});")
    return (free - _pragma(db, "freelist_count")) * page_size


def full_vacuum(db: sqlite3.Connection) -> int:
    """Rewrite the whole file in incremental mode (needs every other connection idle: run it
    with the daemon stopped); bytes the file shrank by."""
    before = _pragma(db, "page_count") * _pragma(db, "page_size")
    db.execute("PRAGMA auto_vacuum = INCREMENTAL")
    db.execute("VACUUM")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return before - _pragma(db, "page_count") * _pragma(db, "page_size")
