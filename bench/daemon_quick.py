"""Quick daemon benchmark: 10,000 no-op tasks through taskdaemond, against the ceiling.

Run on demand (not part of `make test`):

    .venv/bin/python bench/daemon_quick.py [--tasks 10000] [--batch 500]

For 1 and 2 instances of the Python echo handler (written with the SDK) it measures, in one
run, tasks per second for
  - ceiling: the same tasks piped straight through the same handler processes, no daemon
    (one task in flight per process, as the daemon does);
  - sqlite:  `taskdaemond serve` with the SQLite queue, tasks submitted over HTTP in batches
    (POST /queue/batch) and drained until every one is completed;
  - memory:  the same with the in-memory queue;
and prints them side by side with the ratios the project targets:
sqlite/ceiling >= 0.5 and memory/sqlite <= 1.5.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ECHO_HANDLER = """\
from taskdaemon import Success, Task, run


def echo(task: Task) -> Success:
    return Success(task.task_data)


run(echo)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def ceiling(handler: Path, instances: int, tasks: int) -> float:
    """Tasks/s piping tasks straight through ``instances`` handler processes."""
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-u",
            str(handler),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=1 << 30,
        )
        for _ in range(instances)
    ]
    per_instance = [tasks // instances + (1 if i < tasks % instances else 0) for i in range(instances)]

    async def drive(process: asyncio.subprocess.Process, count: int, offset: int) -> None:
        assert process.stdin is not None
        assert process.stdout is not None
        for n in range(count):
            line = (
                json.dumps(
                    {"task_id": f"t{offset + n}", "task_type": "echo", "task_data": {"n": n}, "attempt": 0}
                )
                + "\n"
            )
            process.stdin.write(line.encode())
            await process.stdin.drain()
            answer = json.loads(await process.stdout.readline())
            assert answer["status"] == "success", answer

    # Warm up: one task each, so start-up time is not counted (the daemon's pools are warm too).
    await asyncio.gather(*(drive(p, 1, -1) for p in processes))
    started = time.perf_counter()
    await asyncio.gather(
        *(
            drive(p, c, sum(per_instance[:i]))
            for i, (p, c) in enumerate(zip(processes, per_instance, strict=True))
        )
    )
    elapsed = time.perf_counter() - started
    for process in processes:
        assert process.stdin is not None
        process.stdin.close()
        await process.wait()
    return tasks / elapsed


class BenchError(RuntimeError):
    """Raised when a daemon under measurement does not start or does not finish."""


@dataclass(frozen=True)
class Run:
    """One measurement through the daemon."""

    queue: str
    instances: int
    tasks: int
    batch: int


def through_daemon(handler: Path, workdir: Path, run: Run) -> float:
    """Tasks/s from the first submit until every task is completed."""
    queue, instances, tasks, batch = run.queue, run.instances, run.tasks, run.batch
    port = free_port()
    config = workdir / f"handlers-{queue}-{instances}.toml"
    config.write_text(
        f'[daemon]\nport = {port}\nqueue = "{queue}"\ndb_path = "{workdir / f"bench-{instances}.db"}"\n'
        f'log_level = "warning"\n\n'
        f'[handlers.echo]\ncommand = [{json.dumps(sys.executable)}, "-u", {json.dumps(str(handler))}]\n'
        f"instances = {instances}\n"
    )
    db = workdir / f"bench-{instances}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAEMON_")}
    log = (workdir / f"daemon-{queue}-{instances}.log").open("wb")
    daemon = subprocess.Popen(  # noqa: S603 - our own daemon, from this interpreter
        [sys.executable, "-m", "taskdaemond", "serve", "--config", str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=url, timeout=60) as client:
            deadline = time.monotonic() + 30
            while True:
                try:
                    health = client.get("/health").json()
                    if health["pools"]["echo"]["idle"] == instances:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or daemon.poll() is not None:
                    message = f"daemon did not start; see {log.name}"
                    raise BenchError(message)
                time.sleep(0.05)
            started = time.perf_counter()
            last_id = ""
            for first in range(0, tasks, batch):
                body = {
                    "tasks": [
                        {"type": "echo", "data": {"n": n}} for n in range(first, min(first + batch, tasks))
                    ]
                }
                response = client.post("/queue/batch", json=body)
                response.raise_for_status()
                last_id = response.json()["task_ids"][-1]
            # Long-poll the last task (FIFO: it finishes last, give or take the tasks in flight),
            # then count: polling the counts all along would cost the daemon a scan each time.
            client.get(f"/api/tasks/{last_id}", params={"wait": 300}, timeout=330)
            deadline = time.monotonic() + 600
            while client.get("/api/metrics").json()["tasks"]["completed"] < tasks:
                if time.monotonic() > deadline:
                    message = "tasks did not complete within 600 s"
                    raise BenchError(message)
                time.sleep(0.005)
            elapsed = time.perf_counter() - started
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(60)
        log.close()
    return tasks / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500, help="tasks per POST /queue/batch")
    parser.add_argument("--instances", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs of each measurement, interleaved; the best is kept (machines are noisy)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="daemon-bench-") as tmp:
        workdir = Path(tmp)
        handler = workdir / "echo_handler.py"
        handler.write_text(ECHO_HANDLER)
        print(
            f"{args.tasks} no-op tasks, Python echo handler, batches of {args.batch}; "
            f"tasks/s, best of {args.repeat}"
        )
        print(
            f"{'instances':>9}  {'ceiling':>9}  {'sqlite':>9}  {'memory':>9}  "
            f"{'sqlite/ceiling':>14}  {'memory/sqlite':>13}"
        )
        for instances in args.instances:
            top = sqlite = memory = 0.0
            for _ in range(args.repeat):
                top = max(top, asyncio.run(ceiling(handler, instances, args.tasks)))
                for queue in ("sqlite", "memory"):
                    rate = through_daemon(handler, workdir, Run(queue, instances, args.tasks, args.batch))
                    if queue == "sqlite":
                        sqlite = max(sqlite, rate)
                    else:
                        memory = max(memory, rate)
            print(
                f"{instances:>9}  {top:>9.0f}  {sqlite:>9.0f}  {memory:>9.0f}  "
                f"{sqlite / top:>14.2f}  {memory / sqlite:>13.2f}",
                flush=True,
            )
        print("targets: sqlite/ceiling >= 0.50, memory/sqlite <= 1.50")


if __name__ == "__main__":
    main()
