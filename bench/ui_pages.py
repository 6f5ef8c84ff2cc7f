"""The dashboard's pages with a million tasks in the queue: how long each takes to answer.

Run on demand (not part of `make test`):

    .venv/bin/python bench/ui_pages.py [--tasks 1000000] [--requests 30]

Builds a SQLite queue file of ``--tasks`` tasks (bulk-inserted in one transaction, the schema
made by the daemon's own migrations): a week of history, mostly completed, some failed with
errors, cancelled, pending and a few running, five task types, a third tagged. Then it starts
a real `taskdaemond serve` on that file (on 127.0.0.1, retention off so that every task stays,
stopped by pid at the end) and times
each dashboard page (the fragments the pages load, and a page shell) and the listing API, ``N``
requests each in turn, printing the median and the 95th percentile in milliseconds. The goal
(issue 17) is a median under 100 ms for every page.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from taskdaemond.queue.sqlite import SqliteQueue

ROOT = Path(__file__).resolve().parents[1]
HANDLER = "from taskdaemon import Success, run\nrun(lambda task: Success({}))\n"
TYPES = ["resize", "email", "report", "import", "webhook"]
#: Status of each task, by share of the whole.
STATUS_SHARES = [
    ("completed", 0.90),
    ("failed", 0.05),
    ("cancelled", 0.02),
    ("pending", 0.0299),
    ("processing", 0.0001),
]
WEEK = 7 * 24 * 3600.0

INSERT = """
INSERT INTO tasks (id, task_type, data, status, priority, attempts, max_retries, run_at, created_at,
                   updated_at, started_at, finished_at, result, last_error, errors, progress, tags)
VALUES (?, ?, ?, ?, 50, ?, 3, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def build(path: Path, count: int) -> tuple[str, float]:
    """A queue file of ``count`` tasks; (the id of a failed task with events, seconds taken)."""
    started = time.perf_counter()
    queue = SqliteQueue(path)

    async def migrate() -> None:
        await queue.open()
        await queue.close()

    asyncio.run(migrate())
    rng = random.Random(17)  # noqa: S311 - made-up data, the same on every run
    now = time.time()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = OFF")
    db.execute("BEGIN")
    statuses = [s for s, _ in STATUS_SHARES]
    weights = [w for _, w in STATUS_SHARES]
    rows = []
    failed_id = ""
    for n in range(count):
        created = now - WEEK + WEEK * n / count  # oldest first, as submitted
        status = rng.choices(statuses, weights)[0]
        task_type = TYPES[n % len(TYPES)] if status not in ("pending", "processing") else "resize"
        final = status in ("completed", "failed", "cancelled")
        error = f"Timeout: the handler did not answer within 30 s (n={n})" if status == "failed" else None
        attempt = {
            "attempt": 0,
            "error": error,
            "error_type": "Timeout",
            "retryable": True,
            "traceback": None,
        }
        errors = json.dumps([{**attempt, "crashed": False, "at": created + 1}]) if error else "[]"
        tags = json.dumps({"tenant": ["acme", "globex", "initech"][n % 3]}) if n % 3 == 0 else None
        task_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        if status == "failed":
            failed_id = task_id
        rows.append(
            (
                task_id,
                task_type,
                json.dumps({"n": n, "url": f"https://example.com/{n}.png"}),
                status,
                1 if status != "pending" else 0,
                created,
                created,
                created + 1,
                created + 0.1 if status != "pending" else None,
                created + 1 if final else None,
                json.dumps({"ok": True, "n": n}) if status == "completed" else None,
                error,
                errors,
                1.0 if status == "completed" else None,
                tags,
            )
        )
        if len(rows) == 50_000:
            db.executemany(INSERT, rows)
            rows.clear()
    if rows:
        db.executemany(INSERT, rows)
    events = [
        (failed_id, now, json.dumps({"event": "log", "level": "info", "message": f"step {i}", "at": now}))
        for i in range(200)
    ]
    db.executemany("INSERT INTO events (task_id, at, body) VALUES (?, ?, ?)", events)
    db.execute("COMMIT")
    db.execute("ANALYZE")
    db.close()
    return failed_id, time.perf_counter() - started


def serve(path: Path, tmp: Path, port: int) -> subprocess.Popen[bytes]:
    handler = tmp / "handler.py"
    handler.write_text(HANDLER)
    config = tmp / "handlers.toml"
    config.write_text(
        # Retention off: the million tasks stay (the pruner would otherwise delete most of this
        # week of history while the pages are timed).
        f'[daemon]\ndb_path = "{path}"\nport = {port}\nhost = "127.0.0.1"\nlog_level = "warning"\n'
        "completed_ttl = 0\nfailed_ttl = 0\n\n"
        f'[handlers.report]\ncommand = ["{sys.executable}", "-u", "{handler}"]\ninstances = 1\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAEMON_")}
    return subprocess.Popen(  # noqa: S603 - our own daemon, with our own configuration
        [sys.executable, "-m", "taskdaemond", "serve", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=(tmp / "daemon.log").open("wb"),
        env=env,
        start_new_session=True,
    )


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the daemon exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the daemon at {url} did not answer within {timeout} s")


def measure(url: str, paths: list[tuple[str, str]], requests: int) -> list[tuple[str, float, float, int]]:
    """(page, median ms, p95 ms, bytes) for each page, ``requests`` GETs each, interleaved."""
    times: dict[str, list[float]] = {name: [] for name, _ in paths}
    sizes: dict[str, int] = {}
    with httpx.Client(base_url=url, timeout=60) as client:
        for name, path in paths:  # warm up: templates compiled, pages in SQLite's cache
            answer = client.get(path)
            assert answer.status_code == 200, (path, answer.status_code, answer.text[:200])
            sizes[name] = len(answer.content)
        for _ in range(requests):
            for name, path in paths:
                started = time.perf_counter()
                answer = client.get(path)
                times[name].append((time.perf_counter() - started) * 1000)
                assert answer.status_code == 200, path
    results = []
    for name, _ in paths:
        ordered = sorted(times[name])
        p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        results.append((name, statistics.median(ordered), p95, sizes[name]))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=30, help="requests per page (default 30)")
    args = parser.parse_args()
    yesterday = time.strftime("%Y-%m-%dT%H:%M", time.gmtime(time.time() - 86400))
    with tempfile.TemporaryDirectory(prefix="ui-pages-") as directory:
        tmp = Path(directory)
        path = tmp / "queue.db"
        failed_id, took = build(path, args.tasks)
        size = path.stat().st_size / 1024 / 1024
        print(f"built {args.tasks:,} tasks in {took:.1f} s ({size:.0f} MiB)")
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        process = serve(path, tmp, port)
        try:
            wait_healthy(url, process)
            pages = [
                ("overview", "/ui/part/overview"),
                ("tasks (newest)", "/ui/part/tasks"),
                ("tasks (oldest first)", "/ui/part/tasks?order=oldest"),
                ("tasks status=failed", "/ui/part/tasks?status=failed"),
                ("tasks type=email", "/ui/part/tasks?type=email"),
                ("tasks tag=tenant:acme", "/ui/part/tasks?tag=tenant:acme"),
                ("tasks error=timeout", "/ui/part/tasks?error=timeout"),
                ("tasks since yesterday", f"/ui/part/tasks?since={yesterday}"),
                ("task page (200 logs)", f"/ui/part/tasks/{failed_id}"),
                ("page shell /ui/tasks", "/ui/tasks"),
                ("API /api/tasks", "/api/tasks?limit=50"),
            ]
            results = measure(url, pages, args.requests)
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
    width = max(len(name) for name, *_ in results)
    print(f"{'page':<{width}}  {'median ms':>9}  {'p95 ms':>7}  {'KiB':>6}")
    for name, median, p95, size_bytes in results:
        print(f"{name:<{width}}  {median:9.1f}  {p95:7.1f}  {size_bytes / 1024:6.1f}")
    slowest = max(results, key=lambda r: r[1])
    print(f"slowest median: {slowest[0]} {slowest[1]:.1f} ms (goal: under 100 ms for every page)")


if __name__ == "__main__":
    main()
