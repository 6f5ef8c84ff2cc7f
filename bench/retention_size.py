"""Database size with and without retention after the same number of tasks. Run on demand:

    .venv/bin/python bench/retention_size.py                # 200,000 tasks each way (about 2 minutes)
    .venv/bin/python bench/retention_size.py --tasks 50000

Two daemons, one after the other, each on a fresh SQLite file: one keeps every task
(completed_ttl = 0), one prunes completed tasks 5 s after they finished (prune_interval 1 s).
Each gets the same tasks (a 200-byte payload, echoed back as the result, submitted in batches
of 500 over HTTP, two instances of the Python echo handler); once every task completed and one
more pruner pass ran, the bench reads the file size (the WAL checkpointed first, so the figure
is the database itself) and the daemon's /metrics (pruned, given back).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import httpx

from common import HANDLERS, PYTHON, RESULTS, free_port, machine, print_table
from soak import DaemonProcess

ECHO = [PYTHON, "-u", str(HANDLERS / "sdk_echo.py")]
PAYLOAD = "x" * 200


def run(workdir: Path, tasks: int, *, retention: bool) -> dict[str, float]:
    port = free_port()
    db = workdir / f"{'pruned' if retention else 'kept'}.db"
    config = workdir / f"handlers-{port}.toml"
    ttl = '"5s"' if retention else "0"
    config.write_text(
        f'[daemon]\nport = {port}\ndb_path = {json.dumps(str(db))}\nlog_level = "warning"\n'
        f"completed_ttl = {ttl}\nfailed_ttl = 0\nprune_interval = 1\n\n"
        f"[handlers.echo]\ncommand = {json.dumps(ECHO)}\ninstances = 2\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAEMON_")}
    daemon = DaemonProcess(config, workdir / f"daemon-{port}.log", {**env, "DAEMON_PORT": str(port)})
    daemon.start()
    began = time.monotonic()
    try:
        with httpx.Client(base_url=daemon.url, timeout=120) as client:
            last = []
            for first in range(0, tasks, 500):
                batch = [
                    {"type": "echo", "data": {"n": n, "pad": PAYLOAD}}
                    for n in range(first, min(tasks, first + 500))
                ]
                last.append(client.post("/queue/batch", json={"tasks": batch}).json()["task_ids"][-1])
            for task_id in last:  # FIFO: the last of each batch finishes last; 404 once pruned
                response = client.get(f"/api/tasks/{task_id}", params={"wait": 120})
                if response.status_code != 404:
                    response.raise_for_status()
            seconds = time.monotonic() - began
            time.sleep(7.0 if retention else 1.0)  # past the TTL, and one more pruner pass
            metrics = client.get("/metrics").text
    finally:
        daemon.stop()
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        rows = conn.execute("SELECT count(*) FROM tasks").fetchone()[0]

    def metric(name: str) -> float:
        return sum(
            float(v)
            for v in re.findall(rf"^{re.escape(name)}(?:{{[^}}]*}})? ([0-9.e+]+)$", metrics, re.MULTILINE)
        )

    return {
        "tasks": tasks,
        "seconds": seconds,
        "rows_left": rows,
        "file_mib": db.stat().st_size / 2**20,
        "pruned": metric("tasks_pruned_total"),
        "reclaimed_mib": metric("database_reclaimed_bytes_total") / 2**20,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="retention-") as tmp:
        kept = run(Path(tmp), args.tasks, retention=False)
        pruned = run(Path(tmp), args.tasks, retention=True)

    def row(name: str, r: dict[str, float]) -> list[str]:
        rate = r["tasks"] / r["seconds"]
        return [
            name,
            f"{r['rows_left']:,}",
            f"{r['file_mib']:.1f}",
            f"{r['pruned']:,.0f}",
            f"{r['reclaimed_mib']:.1f}",
            f"{rate:,.0f}",
        ]

    print_table(
        f"database size after {args.tasks:,} tasks (200-byte payload and result)",
        ["", "rows left", "file (MiB)", "pruned", "given back (MiB)", "tasks/s"],
        [row("kept for ever (completed_ttl = 0)", kept), row("completed_ttl = 5s", pruned)],
    )
    print(f"with/without retention: {pruned['file_mib'] / kept['file_mib']:.3f} of the size")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "retention_size.json"
    out.write_text(
        json.dumps({"name": "retention_size", "machine": machine(), "kept": kept, "pruned": pruned}, indent=1)
    )
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
