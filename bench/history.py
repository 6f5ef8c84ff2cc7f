"""History against the hot path: the same daemon on an empty SQLite queue and on one holding
millions of finished tasks, side by side in one run. Run on demand (not in `make test`):

    .venv/bin/python bench/history.py                  # 5,000,000 finished tasks, 5 rounds (about 4 minutes)
    .venv/bin/python bench/history.py --rows 500000    # smaller, quicker

The history file is made fast: the schema by the queue itself (every migration, every index),
then one INSERT ... SELECT over a recursive CTE of finished tasks (version 7 UUID ids from their
time, as the daemon makes them; 98% completed, 2% failed; finish times spread over the last few hours), in one
transaction. Retention is off in both daemons (TTL 0) so that nothing is pruned while measuring.

Each round starts a daemon on the empty file (made afresh) and one on the history file, one
after the other, and measures on each: submit-to-completion throughput of `--tasks` no-op tasks
(batches of 500 over HTTP, two instances of the Python echo handler; timed from the first
submit until the last task is completed, then every task checked completed) and the latency of
`GET /api/tasks?status=pending&limit=100` (with 1,000 delayed tasks pending, the median of 300
requests). Ratios are history over empty, per round, then their median. Target: within 1.2x.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from common import HANDLERS, PYTHON, RESULTS, free_port, machine, print_table
from soak import DaemonProcess

ECHO = [PYTHON, "-u", str(HANDLERS / "sdk_echo.py")]

#: Finished tasks, made by one statement: ?1 rows, finished before ?2 (seconds since the epoch).
BULK_INSERT = """
WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < ?1)
INSERT INTO tasks (id, task_type, data, status, priority, attempts, max_retries, run_at, created_at,
                   updated_at, started_at, finished_at, result, last_error, errors)
SELECT printf('%08x-%04x-7%03x-%04x-%012x', ms >> 16, ms & 65535, abs(random()) % 4096,
              32768 + abs(random()) % 16384, abs(random()) % 281474976710656),
       'echo', '{"n":' || x || '}',
       CASE WHEN x % 50 = 0 THEN 'failed' ELSE 'completed' END,
       50, 1, 3, t, t, t, t, t,
       CASE WHEN x % 50 = 0 THEN NULL ELSE '{"n":' || x || '}' END,
       CASE WHEN x % 50 = 0 THEN 'ValueError: no' ELSE NULL END,
       CASE WHEN x % 50 = 0 THEN '[{"attempt":0,"error":"ValueError: no"}]' ELSE '[]' END
FROM (SELECT x, t, CAST(t * 1000 AS INTEGER) AS ms FROM (SELECT x, ?2 - (?1 - x) * 0.002 AS t FROM n))
"""


def make_queue_file(path: Path) -> None:
    """An empty queue file with the daemon's own schema (every migration applied)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "daemon" / "src"))
    from taskdaemond.queue.sqlite import SqliteQueue

    async def create() -> None:
        queue = SqliteQueue(path)
        await queue.open()
        await queue.close()

    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    asyncio.run(create())


def make_history(path: Path, rows: int) -> float:
    """The history file; seconds it took."""
    began = time.monotonic()
    make_queue_file(path)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA cache_size = -1000000")  # 1 GB of cache for the bulk insert only
    db.execute("BEGIN")
    db.execute(BULK_INSERT, (rows, time.time() - 60))
    db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.execute("ANALYZE")
    db.close()
    return time.monotonic() - began


def write_config(path: Path, db: Path, port: int) -> None:
    path.write_text(
        f'[daemon]\nport = {port}\ndb_path = {json.dumps(str(db))}\nlog_level = "warning"\n'
        "completed_ttl = 0\nfailed_ttl = 0\n\n"
        f"[handlers.echo]\ncommand = {json.dumps(ECHO)}\ninstances = 2\n"
    )


def measure(url: str, db: Path, tasks: int) -> dict[str, float]:
    """Throughput of ``tasks`` tasks and the pending listing's latency, on one daemon."""
    with httpx.Client(base_url=url, timeout=120) as client:
        delayed = [{"type": "echo", "data": {"later": n}, "delay": 3600} for n in range(1000)]
        client.post("/queue/batch", json={"tasks": delayed}).raise_for_status()
        for _ in range(20):  # warm-up: connections, handlers, caches
            client.get("/api/tasks", params={"status": "pending", "limit": 100}).raise_for_status()
        with sqlite3.connect(db, timeout=30) as conn:
            before = conn.execute("SELECT max(seq) FROM tasks").fetchone()[0]
        began = time.perf_counter()
        last_of_batches = []
        for first in range(0, tasks, 500):
            batch = [{"type": "echo", "data": {"n": n}} for n in range(first, min(tasks, first + 500))]
            last_of_batches.append(client.post("/queue/batch", json={"tasks": batch}).json()["task_ids"][-1])
        for task_id in last_of_batches:  # claimed first in, first out: the last ones finish last
            client.get(f"/api/tasks/{task_id}", params={"wait": 120}).raise_for_status()
        seconds = time.perf_counter() - began
        latencies = []
        for _ in range(300):
            start = time.perf_counter()
            client.get("/api/tasks", params={"status": "pending", "limit": 100}).raise_for_status()
            latencies.append((time.perf_counter() - start) * 1000)
    with sqlite3.connect(db, timeout=30) as conn:  # every task of this round completed
        done = conn.execute(
            "SELECT count(*) FROM tasks WHERE status = 'completed' AND seq > ?", (before,)
        ).fetchone()[0]
    return {
        "tasks_per_s": tasks / seconds,
        "list_pending_ms": statistics.median(latencies),
        "completed": done,
    }


def one(db: Path, workdir: Path, tasks: int) -> dict[str, float]:
    port = free_port()
    config = workdir / f"handlers-{port}.toml"
    write_config(config, db, port)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAEMON_")}
    daemon = DaemonProcess(config, workdir / f"daemon-{port}.log", {**env, "DAEMON_PORT": str(port)})
    daemon.start()
    try:
        return measure(daemon.url, db, tasks)
    finally:
        daemon.stop()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=5_000_000, help="finished tasks in the history file")
    parser.add_argument("--tasks", type=int, default=10_000, help="tasks per throughput measurement")
    parser.add_argument("--repeat", type=int, default=5, help="rounds, each empty then history")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="history-") as tmp:
        workdir = Path(tmp)
        history, empty = workdir / "history.db", workdir / "empty.db"
        built = make_history(history, args.rows)
        size = history.stat().st_size
        print(
            f"history file: {args.rows:,} finished tasks, {size / 2**20:,.0f} MiB, made in {built:.0f} s",
            flush=True,
        )
        rounds: list[dict[str, Any]] = []
        for index in range(args.repeat):
            make_queue_file(empty)
            pair = {"empty": one(empty, workdir, args.tasks), "history": one(history, workdir, args.tasks)}
            rounds.append(pair)
            print(f"round {index + 1}: {json.dumps(pair)}", flush=True)
    throughput = [r["history"]["tasks_per_s"] / r["empty"]["tasks_per_s"] for r in rounds]
    latency = [r["history"]["list_pending_ms"] / r["empty"]["list_pending_ms"] for r in rounds]
    complete = all(r[k]["completed"] >= args.tasks for r in rounds for k in ("empty", "history"))

    def cells(key: str, fmt: str) -> list[str]:
        return [fmt.format(statistics.median(r[side][key] for r in rounds)) for side in ("empty", "history")]

    print_table(
        f"history against the hot path ({args.rows:,} finished tasks; medians of {args.repeat} rounds)",
        ["", "empty", "history", "history/empty (median of rounds)"],
        [
            [
                "tasks/s, submit to completion",
                *cells("tasks_per_s", "{:,.0f}"),
                f"{statistics.median(throughput):.2f}",
            ],
            [
                "GET /api/tasks?status=pending (ms)",
                *cells("list_pending_ms", "{:.2f}"),
                f"{statistics.median(latency):.2f}",
            ],
        ],
    )
    print(
        f"every task completed: {complete}; target: throughput ratio >= {1 / 1.2:.2f}, latency ratio <= 1.2"
    )
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "history.json"
    out.write_text(
        json.dumps(
            {
                "name": "history",
                "machine": machine(),
                "rows": args.rows,
                "history_bytes": size,
                "build_s": built,
                "tasks": args.tasks,
                "rounds": rounds,
                "throughput_ratios": throughput,
                "latency_ratios": latency,
            },
            indent=1,
        )
        + "\n"
    )
    print(f"results: {out}")
    return 0 if complete else 1


if __name__ == "__main__":
    sys.exit(main())
