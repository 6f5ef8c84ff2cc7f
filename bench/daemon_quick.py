"""Quick daemon benchmark: 10,000 no-op tasks through taskdaemond, against the ceiling.

Run on demand (not part of `make test`):

    .venv/bin/python bench/daemon_quick.py [--tasks 10000] [--batch 500] [--handlers sdk raw]
        [--prefetch 1 16]

For two echo handlers, the Python SDK's (`handlers/sdk_echo.py`) and a hand-written loop with
no SDK (`handlers/raw_echo.py`: a higher ceiling, so more of the daemon's own cost shows), and
for 1 and 2 instances of each, it measures in one run tasks per second for
  - ceiling: the same tasks piped straight through the same handler processes, no daemon
    (one task in flight per process, as the daemon does);
  - sqlite:  `taskdaemond serve` with the SQLite queue, tasks submitted over HTTP in batches
    (POST /queue/batch) and drained until every one is completed;
  - memory:  the same with the in-memory queue;
and beside each daemon rate the daemon's own CPU time per task, in microseconds: the daemon
process's utime + stime (/proc/<pid>/stat, every thread) from the first submit to the last
completion, over the tasks completed; and the handler processes' CPU per task (all instances
together), since on a small machine the daemon and its handlers share the cores. It prints the
ratios issue 19 targets, in the same run: with 2 instances on SQLite, sqlite/ceiling >= 0.8
(SDK echo) and >= 0.6 (raw echo); and memory/sqlite <= 1.5.

`--prefetch N...` sets the handlers' `prefetch` (tasks written to an instance ahead of the one in
hand; default 1, one in flight as in the ceiling); with several values each is a row of its own,
measured interleaved with the others against the same ceiling.

`--profile DIR` runs each daemon under cProfile (its main thread; DIR/<handler>-<queue>-<n>.prof);
for every thread and no overhead to speak of, attach py-spy to the daemon's pid instead
(bench/README.md says how).
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

HANDLERS_DIR = Path(__file__).resolve().parent / "handlers"
#: The handler sets measured: the SDK's echo and the hand-written one (no SDK).
HANDLERS = {"sdk": HANDLERS_DIR / "sdk_echo.py", "raw": HANDLERS_DIR / "raw_echo.py"}
#: Issue 19's targets for sqlite/ceiling with TARGET_INSTANCES instances, per handler set.
TARGETS = {"sdk": 0.8, "raw": 0.6}
TARGET_INSTANCES = 2
#: Clock ticks per second of /proc's utime and stime.
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system, every thread) the process ``pid`` has used so far."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # Fields after the command name (in parentheses, which may hold spaces): utime and stime
    # are the 14th and 15th fields of the line, the 12th and 13th after ") ".
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


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
    #: When set, the daemon runs under cProfile and writes its profile (main thread) here.
    profile: Path | None = None
    #: The handler's prefetch: tasks written to an instance at once (bench/prefetch.py varies it).
    prefetch: int = 1


@dataclass(frozen=True)
class Drained:
    """What one run through the daemon measured."""

    rate: float  # tasks/s
    cpu_us: float  # daemon CPU microseconds per task
    handlers_us: float  # the handler processes' CPU microseconds per task, all instances together


def through_daemon(handler: Path, workdir: Path, run: Run) -> Drained:
    """Tasks/s from the first submit until every task is completed, and the daemon's CPU per task."""
    queue, instances, tasks, batch = run.queue, run.instances, run.tasks, run.batch
    port = free_port()
    config = workdir / f"handlers-{queue}-{instances}.toml"
    config.write_text(
        f'[daemon]\nport = {port}\nqueue = "{queue}"\ndb_path = "{workdir / f"bench-{instances}.db"}"\n'
        f'log_level = "warning"\n\n'
        f'[handlers.echo]\ncommand = [{json.dumps(sys.executable)}, "-u", {json.dumps(str(handler))}]\n'
        f"instances = {instances}\nprefetch = {run.prefetch}\n"
    )
    db = workdir / f"bench-{instances}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAEMON_")}
    log = (workdir / f"daemon-{queue}-{instances}.log").open("wb")
    profiler = ["-m", "cProfile", "-o", str(run.profile)] if run.profile is not None else []
    daemon = subprocess.Popen(  # noqa: S603 - our own daemon, from this interpreter
        [sys.executable, *profiler, "-m", "taskdaemond", "serve", "--config", str(config)],
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
            handler_pids = [slot["pid"] for slot in health["pools"]["echo"]["slots"]]
            started = time.perf_counter()
            cpu_before = cpu_seconds(daemon.pid)
            handlers_before = sum(cpu_seconds(pid) for pid in handler_pids)
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
            cpu = cpu_seconds(daemon.pid) - cpu_before
            handlers_cpu = sum(cpu_seconds(pid) for pid in handler_pids) - handlers_before
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(60)
        log.close()
    return Drained(tasks / elapsed, cpu / tasks * 1e6, handlers_cpu / tasks * 1e6)


def best(runs: list[Drained]) -> Drained:
    """The fastest run (machines are noisy: the best is the least disturbed)."""
    return max(runs, key=lambda drained: drained.rate)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500, help="tasks per POST /queue/batch")
    parser.add_argument("--instances", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--handlers", nargs="+", choices=sorted(HANDLERS), default=["sdk", "raw"])
    parser.add_argument("--queues", nargs="+", choices=["sqlite", "memory"], default=["sqlite", "memory"])
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs of each measurement, interleaved; the best is kept (machines are noisy)",
    )
    parser.add_argument(
        "--prefetch",
        type=int,
        nargs="+",
        default=[1],
        help="the handlers' prefetch (handlers.toml); several values: a row each, interleaved",
    )
    parser.add_argument(
        "--profile", type=Path, help="run each daemon under cProfile, profiles in this folder"
    )
    args = parser.parse_args()
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="daemon-bench-") as tmp:
        workdir = Path(tmp)
        print(
            f"{args.tasks} no-op tasks, echo handlers, batches of {args.batch}; tasks/s (best of "
            f"{args.repeat}), the daemon's CPU us per task (us) and its handlers' (h-us)"
        )
        columns = "".join(f"  {queue:>7}  {'us':>4}  {'h-us':>4}" for queue in args.queues)
        print(
            f"{'handler':>7}  {'n':>2}  {'pf':>2}  {'ceiling':>7}{columns}  {'sqlite/ceiling':>14}  "
            f"{'memory/sqlite':>13}"
        )
        verdicts = []
        for name in args.handlers:
            for instances in args.instances:
                top = 0.0
                runs: dict[tuple[int, str], list[Drained]] = {
                    (prefetch, queue): [] for prefetch in args.prefetch for queue in args.queues
                }
                for n in range(args.repeat):
                    top = max(top, asyncio.run(ceiling(HANDLERS[name], instances, args.tasks)))
                    for (prefetch, queue), drained in runs.items():
                        profile = (
                            args.profile / f"{name}-{queue}-{instances}-pf{prefetch}-{n}.prof"
                            if args.profile
                            else None
                        )
                        run = Run(queue, instances, args.tasks, args.batch, profile, prefetch)
                        drained.append(through_daemon(HANDLERS[name], workdir, run))
                for prefetch in args.prefetch:
                    got = {queue: best(runs[prefetch, queue]) for queue in args.queues}
                    cells = "".join(
                        f"  {d.rate:>7.0f}  {d.cpu_us:>4.0f}  {d.handlers_us:>4.0f}" for d in got.values()
                    )
                    sqlite = got["sqlite"].rate if "sqlite" in got else float("nan")
                    memory = got["memory"].rate if "memory" in got else float("nan")
                    print(
                        f"{name:>7}  {instances:>2}  {prefetch:>2}  {top:>7.0f}{cells}  "
                        f"{sqlite / top:>14.2f}  {memory / sqlite:>13.2f}",
                        flush=True,
                    )
                    if instances == TARGET_INSTANCES and "sqlite" in got:
                        verdicts.append(
                            f"{name} x{instances} prefetch {prefetch} sqlite/ceiling {sqlite / top:.2f} "
                            f"(>= {TARGETS[name]:.2f})"
                        )
        print("targets (issue 19): " + "; ".join([*verdicts, "memory/sqlite <= 1.50"]))


if __name__ == "__main__":
    main()
