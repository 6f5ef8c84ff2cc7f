"""PostgreSQL queue benchmark: 1, 2 and 3 daemons on one PostgreSQL against one daemon on SQLite.

Run on demand (not part of `make test`):

    .venv/bin/python bench/postgres_queue.py [--tasks 6000] [--instances 2] [--repeat 2]

It starts a throwaway PostgreSQL cluster of its own (as the tests do: initdb in a temporary
directory, a private port on 127.0.0.1; run as the `postgres` OS user when we are root) with
`synchronous_commit = off`, the guarantee the SQLite queue gives with WAL and
`synchronous = NORMAL` (a commit survives the daemon being killed; an OS crash may lose the
last few). Each daemon runs `--instances` instances of a Python handler doing 1 ms of work
per task (a 1 ms sleep: waiting on something, as most handlers do). Tasks are submitted over
HTTP in batches (POST /queue/batch), spread round-robin over the daemons, and timed from the
first submit until every one is completed. Each measurement is repeated, interleaved, and the
best kept; the ratios are of one run, as machines are noisy.

Targets: 2 daemons on PostgreSQL >= 1.5x one daemon on PostgreSQL; one daemon on PostgreSQL
within 2x of one on SQLite (ratio >= 0.5).
"""

from __future__ import annotations

import argparse
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
from typing import IO

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "daemon"))
from tests.pgcluster import Cluster, start_cluster

WORK_HANDLER = """\
import time

from taskdaemon import Success, Task, run


def work(task: Task) -> Success:
    time.sleep(0.001)
    return Success({"n": task.task_data["n"]})


run(work)
"""

#: Same durability as the SQLite queue's WAL + synchronous=NORMAL; every other setting default.
BENCH_SETTINGS = {"synchronous_commit": "off"}


class BenchError(RuntimeError):
    """Raised when a daemon under measurement does not start or does not finish."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class Scenario:
    queue: str  # "sqlite" or "postgres"
    daemons: int
    instances: int  # handler instances per daemon

    @property
    def label(self) -> str:
        return f"{self.queue} x{self.daemons}"


Started = list[tuple[str, subprocess.Popen[bytes], IO[bytes]]]


def start_daemons(
    workdir: Path, handler: Path, run_id: str, scenario: Scenario, env: dict[str, str]
) -> Started:
    """The daemons of ``scenario``: (url, process, log file) each."""
    started: Started = []
    for n in range(scenario.daemons):
        port = free_port()
        config = workdir / f"{run_id}-{n}.toml"
        config.write_text(
            f'[daemon]\nport = {port}\ndb_path = "{workdir / f"{run_id}-{n}.db"}"\nlog_level = "warning"\n\n'
            f'[handlers.work]\ncommand = [{json.dumps(sys.executable)}, "-u", {json.dumps(str(handler))}]\n'
            f"instances = {scenario.instances}\n"
        )
        log = (workdir / f"{run_id}-{n}.log").open("wb")
        process = subprocess.Popen(  # noqa: S603 - our own daemon, from this interpreter
            [sys.executable, "-m", "taskdaemond", "serve", "--config", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        started.append((f"http://127.0.0.1:{port}", process, log))
    return started


def wait_ready(client: httpx.Client, process: subprocess.Popen[bytes], instances: int) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if client.get("/health").json()["pools"]["work"]["idle"] == instances:
                return
        except (httpx.HTTPError, KeyError):
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            message = "a daemon did not start; see its log"
            raise BenchError(message)
        time.sleep(0.05)


def submit_and_drain(clients: list[httpx.Client], tasks: int, batch: int) -> float:
    """Seconds from the first submit (batches round-robin over the daemons) to the last
    completion."""
    started = time.perf_counter()
    last_id = ""
    for index, first in enumerate(range(0, tasks, batch)):
        body = {
            "tasks": [{"type": "work", "data": {"n": n}} for n in range(first, min(first + batch, tasks))]
        }
        response = clients[index % len(clients)].post("/queue/batch", json=body)
        response.raise_for_status()
        last_id = response.json()["task_ids"][-1]
    # Long-poll the last task (FIFO: it finishes last, give or take the tasks in flight), then
    # count: polling the counts all along would cost the database a scan each time.
    clients[0].get(f"/api/tasks/{last_id}", params={"wait": 300}, timeout=330)
    deadline = time.monotonic() + 600
    while clients[0].get("/api/metrics").json()["tasks"]["completed"] < tasks:
        if time.monotonic() > deadline:
            message = "tasks did not complete within 600 s"
            raise BenchError(message)
        time.sleep(0.005)
    return time.perf_counter() - started


def measure(
    workdir: Path, handler: Path, cluster: Cluster, scenario: Scenario, args: argparse.Namespace
) -> float:
    """Tasks/s of ``scenario``: from the first submit until every task is completed."""
    run_id = f"{scenario.queue}{scenario.daemons}_{os.urandom(3).hex()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAEMON_")}
    if scenario.queue == "postgres":  # a fresh database for each run
        env |= {"DAEMON_QUEUE_TYPE": "postgres", "DAEMON_DATABASE_URL": cluster.create_database(run_id)}
    daemons = start_daemons(workdir, handler, run_id, scenario, env)
    clients = [httpx.Client(base_url=url, timeout=60) for url, _, _ in daemons]
    try:
        for client, (_, process, _) in zip(clients, daemons, strict=True):
            wait_ready(client, process, args.instances)
        elapsed = submit_and_drain(clients, args.tasks, args.batch)
    finally:
        for client in clients:
            client.close()
        for _, process, _ in daemons:
            process.send_signal(signal.SIGTERM)
        for _, process, log in daemons:
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
            log.close()
    return float(args.tasks / elapsed)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=6_000)
    parser.add_argument("--batch", type=int, default=500, help="tasks per POST /queue/batch")
    parser.add_argument("--instances", type=int, default=2, help="handler instances per daemon")
    parser.add_argument(
        "--repeat", type=int, default=2, help="runs of each measurement, interleaved; best kept"
    )
    args = parser.parse_args()
    scenarios = [
        Scenario(queue, daemons, args.instances)
        for queue, daemons in (("sqlite", 1), ("postgres", 1), ("postgres", 2), ("postgres", 3))
    ]
    cluster = start_cluster(BENCH_SETTINGS)
    try:
        with tempfile.TemporaryDirectory(prefix="postgres-bench-") as tmp:
            workdir = Path(tmp)
            handler = workdir / "work_handler.py"
            handler.write_text(WORK_HANDLER)
            print(
                f"{args.tasks} tasks of 1 ms, {args.instances} handler instances per daemon, batches of "
                f"{args.batch}; tasks/s, best of {args.repeat}",
                flush=True,
            )
            best = dict.fromkeys(scenarios, 0.0)
            for _ in range(args.repeat):
                for scenario in scenarios:
                    best[scenario] = max(best[scenario], measure(workdir, handler, cluster, scenario, args))
            sqlite1, pg1 = best[scenarios[0]], best[scenarios[1]]
            print(f"{'queue':<12} {'tasks/s':>9} {'vs postgres x1':>15} {'vs sqlite x1':>13}")
            for scenario in scenarios:
                rate = best[scenario]
                print(f"{scenario.label:<12} {rate:>9.0f} {rate / pg1:>15.2f} {rate / sqlite1:>13.2f}")
            print(
                f"targets: postgres x2 / postgres x1 >= 1.50 (measured {best[scenarios[2]] / pg1:.2f}); "
                f"postgres x1 / sqlite x1 >= 0.50 (measured {pg1 / sqlite1:.2f})"
            )
    finally:
        cluster.destroy()


if __name__ == "__main__":
    main()
