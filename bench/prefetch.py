"""Pipelined handlers: throughput with prefetch 1, 4 and 16, side by side in one run.

Run on demand (not part of `make test`):

    .venv/bin/python bench/prefetch.py [--tasks 10000] [--instances 2] [--prefetch 1 4 16] [--repeat 3]

The SDK echo handler (`handlers/sdk_echo.py`), 2 instances, the SQLite queue. For each prefetch
(the handler table given `prefetch = N`), two measurements through `taskdaemond serve`:
  - end to end: tasks/s from the first submit over HTTP (batches) until every task is completed,
    submits and runs overlapping (bench/daemon_quick.py's `through_daemon`);
  - drain: the same tasks submitted first, all due at one instant a little later (`delay`), and
    tasks/s from that instant until every one is completed: the pools alone, the submits' HTTP
    work out of the way;
each with the daemon's and the handlers' CPU microseconds per task (from /proc, over the same
span). Beside them, measured in the same run, two ceilings with no daemon: ping-pong (one task
in flight per process, the next written when the answer comes: what prefetch 1 can at best
reach) and streamed (the pipe kept full: the handler's own rate, what a deeper prefetch can at
best reach). Repetitions are interleaved and the best of each kept; the ratios printed are of
rates from the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

# Run as a script, bench/ is on the path: the daemon bench's functions are reused as they are.
from daemon_quick import (
    HANDLERS,
    BenchError,
    Drained,
    Run,
    ceiling,
    cpu_seconds,
    free_port,
    through_daemon,
)

#: Seconds the drain's tasks become due after their submits began, at least (more for many tasks).
DRAIN_LEAD = 2.0


async def streamed(handler: Path, instances: int, tasks: int) -> float:
    """Tasks/s through ``instances`` handler processes whose stdin is kept full: every task line
    written at once by one coroutine while another reads the answers (no daemon)."""
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

    async def feed(process: asyncio.subprocess.Process, count: int) -> None:
        assert process.stdin is not None
        for n in range(count):
            task = {"task_id": f"t{n}", "task_type": "echo", "task_data": {"n": n}, "attempt": 0}
            process.stdin.write((json.dumps(task) + "\n").encode())
            await process.stdin.drain()

    async def read(process: asyncio.subprocess.Process, count: int) -> None:
        assert process.stdout is not None
        for _ in range(count):
            answer = json.loads(await process.stdout.readline())
            assert answer["status"] == "success", answer

    await asyncio.gather(*(feed(p, 1) for p in processes))  # warm up: one task each
    await asyncio.gather(*(read(p, 1) for p in processes))
    started = time.perf_counter()
    await asyncio.gather(
        *(feed(p, c) for p, c in zip(processes, per_instance, strict=True)),
        *(read(p, c) for p, c in zip(processes, per_instance, strict=True)),
    )
    elapsed = time.perf_counter() - started
    for process in processes:
        assert process.stdin is not None
        process.stdin.close()
        await process.wait()
    return tasks / elapsed


def drain(handler: Path, workdir: Path, run: Run) -> Drained:
    """Tasks/s draining a queue filled beforehand: every task is submitted with a delay that
    makes it due at one instant after the last submit; timed from then until all are completed."""
    port = free_port()
    db = workdir / f"drain-{port}.db"
    config = workdir / f"drain-{port}.toml"
    config.write_text(
        f'[daemon]\nport = {port}\nqueue = "{run.queue}"\ndb_path = {json.dumps(str(db))}\n'
        f'log_level = "warning"\n\n'
        f"[handlers.echo]\ncommand = {json.dumps([sys.executable, '-u', str(handler)])}\n"
        f"instances = {run.instances}\nprefetch = {run.prefetch}\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAEMON_")}
    log = (workdir / f"drain-{port}.log").open("wb")
    daemon = subprocess.Popen(  # noqa: S603 - our own daemon, from this interpreter
        [sys.executable, "-m", "taskdaemond", "serve", "--config", str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            deadline = time.monotonic() + 30
            while True:
                try:
                    health = client.get("/health").json()
                    if health["pools"]["echo"]["idle"] == run.instances:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or daemon.poll() is not None:
                    raise BenchError(f"daemon did not start; see {log.name}")
                time.sleep(0.05)
            handler_pids = [slot["pid"] for slot in health["pools"]["echo"]["slots"]]
            due = time.time() + max(DRAIN_LEAD, run.tasks / 2000)
            last_id = ""
            for first in range(0, run.tasks, run.batch):
                count = min(run.batch, run.tasks - first)
                delay = due - time.time()
                if delay <= 0:
                    raise BenchError("the submits took longer than the lead before the tasks were due")
                tasks = [{"type": "echo", "data": {"n": first + n}, "delay": delay} for n in range(count)]
                response = client.post("/queue/batch", json={"tasks": tasks})
                response.raise_for_status()
                last_id = response.json()["task_ids"][-1]
            time.sleep(max(0.0, due - time.time()))
            started = time.perf_counter()
            cpu_before = cpu_seconds(daemon.pid)
            handlers_before = sum(cpu_seconds(pid) for pid in handler_pids)
            # Long-poll the last task (all are due at once, claimed in order: it finishes last,
            # give or take those in flight), then count: counting all along costs a scan each time.
            client.get(f"/api/tasks/{last_id}", params={"wait": 300}, timeout=330)
            deadline = time.monotonic() + 600
            while client.get("/api/metrics").json()["tasks"]["completed"] < run.tasks:
                if time.monotonic() > deadline:
                    raise BenchError("tasks did not complete within 600 s")
                time.sleep(0.005)
            elapsed = time.perf_counter() - started
            cpu = cpu_seconds(daemon.pid) - cpu_before
            handlers_cpu = sum(cpu_seconds(pid) for pid in handler_pids) - handlers_before
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(60)
        log.close()
    return Drained(run.tasks / elapsed, cpu / run.tasks * 1e6, handlers_cpu / run.tasks * 1e6)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500, help="tasks per POST /queue/batch")
    parser.add_argument("--instances", type=int, default=2)
    parser.add_argument("--prefetch", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--handler", choices=sorted(HANDLERS), default="sdk")
    parser.add_argument("--queue", choices=["sqlite", "memory"], default="sqlite")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved runs of each; the best is kept")
    args = parser.parse_args()
    handler = HANDLERS[args.handler]
    ping_pong = stream = 0.0
    modes = {"end to end": through_daemon, "drain": drain}
    runs: dict[str, dict[int, list[Drained]]] = {mode: {p: [] for p in args.prefetch} for mode in modes}
    with tempfile.TemporaryDirectory(prefix="prefetch-bench-") as tmp:
        for _ in range(args.repeat):
            ping_pong = max(ping_pong, asyncio.run(ceiling(handler, args.instances, args.tasks)))
            stream = max(stream, asyncio.run(streamed(handler, args.instances, args.tasks)))
            for prefetch in args.prefetch:
                run = Run(args.queue, args.instances, args.tasks, args.batch, prefetch=prefetch)
                for mode, measure in modes.items():
                    runs[mode][prefetch].append(measure(handler, Path(tmp), run))
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"{args.tasks} no-op tasks, {args.handler} echo handler x{args.instances}, {args.queue} queue, "
        f"batches of {args.batch}; best of {args.repeat}, interleaved; load average {load}"
    )
    print(f"ceilings (no daemon): ping-pong {ping_pong:.0f} tasks/s, streamed {stream:.0f} tasks/s")
    print(
        f"{'mode':>10}  {'prefetch':>8}  {'tasks/s':>7}  {'us':>4}  {'h-us':>4}  "
        f"{f'/p{args.prefetch[0]}':>5}  {'/ping-pong':>10}  {'/streamed':>9}"
    )
    for mode, by_prefetch in runs.items():
        base = max(by_prefetch[args.prefetch[0]], key=lambda d: d.rate).rate
        for prefetch, drained in by_prefetch.items():
            got = max(drained, key=lambda d: d.rate)
            print(
                f"{mode:>10}  {prefetch:>8}  {got.rate:>7.0f}  {got.cpu_us:>4.0f}  {got.handlers_us:>4.0f}  "
                f"{got.rate / base:>5.2f}  {got.rate / ping_pong:>10.2f}  {got.rate / stream:>9.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
