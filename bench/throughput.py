"""Daemon throughput against the peers, and the durability cost (SQLite queue against memory).

N no-op echo tasks (10,000 quick, 100,000 full), tasks/s end to end: from the first submit to
the last completion, with 1, 2 and 4 worker processes for every system (quick mode: the
peers, which run 5-40 times slower, do 500 tasks with 2 worker processes only, so that
the quick run stays under five minutes; full mode: 5,000 tasks, 1, 2 and 4 processes):
  - taskdaemon: `taskdaemond serve`, tasks submitted over HTTP in batches (POST /queue/batch),
    drained by the Python echo handler written with the SDK; SQLite queue and memory queue;
  - celery:  Celery 5, Redis broker and result backend, prefork pool; submitted as a group;
  - rq:      RQ 2, SimpleWorker pool (a fork per job, RQ's default, is far slower); enqueue_many;
  - dramatiq: Dramatiq 2, Redis broker, Results middleware (Redis), its default 8 threads per process;
  - huey:    Huey 3, SQLite storage, process workers;
  - processpool: concurrent.futures.ProcessPoolExecutor, no queue at all: the ceiling.
Every system is warm (workers up, one task answered) before the clock starts; every system
stores each result where the submitter can fetch it. Repetitions are interleaved.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, wait
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx

from common import (
    BENCH,
    PYTHON,
    BenchError,
    Mode,
    print_table,
    ratio,
    redis_server,
    spread,
    stop,
    summary,
    workdir,
    write_result,
)
from daemon_run import running_daemon

PEERS_DIR = BENCH / "peers"
BIN = Path(PYTHON).parent
BATCH = 500  # tasks per POST /queue/batch
TIMEOUT = 900  # seconds any one measurement may take, at most


def payload(n: int) -> dict[str, int]:
    return {"n": n}


# --- taskdaemon -------------------------------------------------------------------------------


def taskdaemon(queue: str, instances: int, tasks: int, tmp: Path) -> float:
    with (
        running_daemon(tmp, queue, instances) as daemon,
        httpx.Client(base_url=daemon.url, timeout=60) as client,
    ):
        warm = client.post("/queue", json={"type": "echo", "data": payload(-1)}).json()["task_id"]
        client.get(f"/api/tasks/{warm}", params={"wait": 60}, timeout=90)
        started = time.perf_counter()
        last_id = ""
        for first in range(0, tasks, BATCH):
            body = {
                "tasks": [
                    {"type": "echo", "data": payload(n)} for n in range(first, min(first + BATCH, tasks))
                ]
            }
            response = client.post("/queue/batch", json=body)
            response.raise_for_status()
            last_id = response.json()["task_ids"][-1]
        # FIFO: the last task finishes last, give or take the tasks in flight; then count.
        client.get(f"/api/tasks/{last_id}", params={"wait": 300}, timeout=330)
        deadline = time.monotonic() + TIMEOUT
        while client.get("/api/metrics").json()["tasks"]["completed"] < tasks + 1:
            if time.monotonic() > deadline:
                raise BenchError("taskdaemon: tasks did not complete in time")
            time.sleep(0.005)
        return tasks / (time.perf_counter() - started)


# --- peers: each starts its workers, warms up, then times `tasks` round trips -------------------


@contextmanager
def workers(command: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - the peers' own worker commands
            command, cwd=PEERS_DIR, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield process
        finally:
            stop(process, 30)
            # The worker's children (prefork pools) go with it; make sure, by its process group.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)


def peer_env(redis_url: str, tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(BENCH_REDIS_URL=redis_url, BENCH_HUEY_DB=str(tmp / "huey.db"), PYTHONPATH=str(PEERS_DIR))
    return env


def peer_module(name: str, **env: str) -> ModuleType:
    """A peer's module (bench/peers/<name>.py), imported afresh for these settings: each binds its
    broker URL or database path when it is imported, and every measurement has its own."""
    os.environ.update(env)
    if str(PEERS_DIR) not in sys.path:
        sys.path.insert(0, str(PEERS_DIR))
    module = sys.modules.get(name)
    return importlib.reload(module) if module is not None else importlib.import_module(name)


def flush(redis_url: str) -> None:
    import redis

    redis.Redis.from_url(redis_url).flushall()


def celery(instances: int, tasks: int, redis_url: str, tmp: Path) -> float:
    flush(redis_url)
    env = peer_env(redis_url, tmp)
    celery_app = peer_module("celery_app", BENCH_REDIS_URL=redis_url)
    from celery import group

    command = [
        str(BIN / "celery"),
        "-A",
        "celery_app",
        "worker",
        "-P",
        "prefork",
        "-c",
        str(instances),
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "-l",
        "WARNING",
    ]
    with workers(command, env, tmp / "celery.log"):
        celery_app.echo.delay(payload(-1)).get(timeout=60)
        started = time.perf_counter()
        result = group(celery_app.echo.s(payload(n)) for n in range(tasks)).apply_async()
        values = result.get(timeout=TIMEOUT)
        elapsed = time.perf_counter() - started
    check(values, tasks, "celery")
    return tasks / elapsed


def rq(instances: int, tasks: int, redis_url: str, tmp: Path) -> float:
    flush(redis_url)
    from redis import Redis
    from rq import Queue

    rq_jobs = peer_module("rq_jobs")

    connection = Redis.from_url(redis_url)
    queue = Queue("default", connection=connection)
    command = [
        str(BIN / "rq"),
        "worker-pool",
        "-n",
        str(instances),
        "-w",
        "rq.worker.SimpleWorker",
        "-u",
        redis_url,
        "-q",
        "default",
    ]
    with workers(command, peer_env(redis_url, tmp), tmp / "rq.log"):
        warm = queue.enqueue(rq_jobs.echo, payload(-1))
        wait_until(lambda: warm.get_status(refresh=True) == "finished", "rq warm-up", 60)
        started = time.perf_counter()
        jobs = queue.enqueue_many([Queue.prepare_data(rq_jobs.echo, (payload(n),)) for n in range(tasks)])
        registry = queue.finished_job_registry
        wait_until(lambda: registry.count >= tasks + 1, "rq", TIMEOUT, 0.005)
        elapsed = time.perf_counter() - started
    check([job.return_value() for job in jobs[:: max(1, tasks // 100)]], None, "rq")
    return tasks / elapsed


def dramatiq(instances: int, tasks: int, redis_url: str, tmp: Path) -> float:
    flush(redis_url)
    dramatiq_actors = peer_module("dramatiq_actors", BENCH_REDIS_URL=redis_url)
    from dramatiq import group

    # Dramatiq's default of 8 threads per process: 3-4x its rate with one thread here (the
    # threads overlap the Redis round trips).
    command = [str(BIN / "dramatiq"), "dramatiq_actors", "--processes", str(instances)]
    with workers(command, peer_env(redis_url, tmp), tmp / "dramatiq.log"):
        dramatiq_actors.echo.send(payload(-1)).get_result(block=True, timeout=60_000)
        started = time.perf_counter()
        jobs = group(dramatiq_actors.echo.message(payload(n)) for n in range(tasks)).run()
        values = list(jobs.get_results(block=True, timeout=TIMEOUT * 1000))
        elapsed = time.perf_counter() - started
    check(values, tasks, "dramatiq")
    return tasks / elapsed


def huey(instances: int, tasks: int, redis_url: str, tmp: Path) -> float:
    db = tmp / "huey.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    huey_app = peer_module("huey_app", BENCH_HUEY_DB=str(db))  # a fresh database each time
    command = [
        str(BIN / "huey_consumer"),
        "huey_app.huey",
        "-w",
        str(instances),
        "-k",
        "process",
        "-d",
        "0.001",
        "-m",
        "0.01",
        "-C",
        "-n",
    ]
    with workers(command, peer_env(redis_url, tmp), tmp / "huey.log"):
        huey_app.echo(payload(-1)).get(blocking=True, timeout=60)
        started = time.perf_counter()
        results = [huey_app.echo(payload(n)) for n in range(tasks)]
        values = [r.get(blocking=True, timeout=TIMEOUT, backoff=1.0, max_delay=0.005) for r in results]
        elapsed = time.perf_counter() - started
    check(values, tasks, "huey")
    return tasks / elapsed


def processpool(instances: int, tasks: int, _redis_url: str, _tmp: Path) -> float:
    ppe = peer_module("ppe")

    with ProcessPoolExecutor(instances) as pool:
        wait([pool.submit(ppe.echo, payload(-1)) for _ in range(instances)])
        started = time.perf_counter()
        futures = [pool.submit(ppe.echo, payload(n)) for n in range(tasks)]
        values = [future.result(timeout=TIMEOUT) for future in futures]
        elapsed = time.perf_counter() - started
    check(values, tasks, "processpool")
    return tasks / elapsed


def check(values: list[Any], tasks: int | None, system: str) -> None:
    """Every result came back, and is the task's own data."""
    if tasks is not None and len(values) != tasks:
        raise BenchError(f"{system}: {len(values)} results for {tasks} tasks")
    step = max(1, len(values) // 100)
    for index in range(0, len(values), step):
        value = values[index]
        if tasks is not None and value != payload(index):
            raise BenchError(f"{system}: result {index} is {value!r}")
        if tasks is None and not isinstance(value, dict):
            raise BenchError(f"{system}: a result is {value!r}")


def wait_until(done: Callable[[], bool], what: str, timeout: float, pause: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise BenchError(f"{what}: not done within {timeout} s")
        time.sleep(pause)


PEERS: dict[str, Callable[[int, int, str, Path], float]] = {
    "celery": celery,
    "rq": rq,
    "dramatiq": dramatiq,
    "huey": huey,
    "processpool": processpool,
}
SYSTEMS = ("taskdaemon", "taskdaemon-memory", *PEERS)


def plan(mode: Mode, system: str) -> tuple[int, tuple[int, ...]]:
    """Tasks per run and worker counts for a system in this mode."""
    if system.startswith("taskdaemon") or system == "processpool":
        return mode.tasks, mode.instances
    return mode.peer_tasks, mode.peer_instances


def measure(system: str, instances: int, tasks: int, redis_url: str, tmp: Path) -> float:
    if system == "taskdaemon":
        return taskdaemon("sqlite", instances, tasks, tmp)
    if system == "taskdaemon-memory":
        return taskdaemon("memory", instances, tasks, tmp)
    return PEERS[system](instances, tasks, redis_url, tmp)


def run(mode: Mode, systems: tuple[str, ...] = SYSTEMS) -> dict[str, Any]:
    rates: dict[str, dict[int, list[float]]] = {s: {i: [] for i in plan(mode, s)[1]} for s in systems}
    with redis_server() as redis_url, workdir("throughput") as tmp:
        for rep in range(mode.repeat):
            for instances in mode.instances:
                for system in systems:
                    tasks, counts = plan(mode, system)
                    if instances not in counts:
                        continue
                    began = time.monotonic()
                    rate = measure(system, instances, tasks, redis_url, tmp)
                    rates[system][instances].append(rate)
                    print(
                        f"  [{rep + 1}/{mode.repeat}] {system:<18} {instances} workers: {rate:>8,.0f} tasks/s"
                        f"  ({time.monotonic() - began:.1f} s)",
                        flush=True,
                    )
    data = report_throughput(mode, rates)
    if "taskdaemon" in systems and "taskdaemon-memory" in systems:
        report_durability(mode, rates)
    return data


def report_throughput(mode: Mode, rates: dict[str, dict[int, list[float]]]) -> dict[str, Any]:
    systems = list(rates)
    results: dict[str, Any] = {s: {str(i): summary(r) for i, r in by.items()} for s, by in rates.items()}
    ours = rates.get("taskdaemon")
    ratios: dict[str, Any] = {}
    rows = []
    peers = [p for p in systems if not p.startswith("taskdaemon")]
    for instances in mode.instances:
        row = [str(instances)]
        row += [spread(results[s][str(instances)]) if str(instances) in results[s] else "-" for s in systems]
        for peer in peers:
            if ours is not None and instances in rates[peer] and instances in ours:
                ratios.setdefault(peer, {})[str(instances)] = ratio(ours[instances], rates[peer][instances])
                row.append(f"{ratios[peer][str(instances)]['median']:.1f}")
            else:
                row.append("-")
        rows.append(row)
    header = ["workers", *systems, *(f"td/{p}" for p in peers)]
    print_table(
        f"Throughput: no-op tasks end to end, tasks/s, median (min-max) of {mode.repeat} "
        f"({mode.tasks:,} tasks for taskdaemon and processpool, {mode.peer_tasks:,} for the brokers); "
        "td/<peer>: taskdaemon (SQLite queue) over the peer, paired runs",
        header,
        rows,
    )
    data = {
        "tasks": {s: plan(mode, s)[0] for s in systems},
        "repeat": mode.repeat,
        "batch": BATCH,
        "rates": results,
        "taskdaemon_over_peer": ratios,
    }
    write_result("throughput", mode, data)
    return data


def report_durability(mode: Mode, rates: dict[str, dict[int, list[float]]]) -> dict[str, Any]:
    rows, results = [], {}
    for instances in mode.instances:
        sqlite, memory = rates["taskdaemon"][instances], rates["taskdaemon-memory"][instances]
        entry = {
            "sqlite": summary(sqlite),
            "memory": summary(memory),
            "memory_over_sqlite": ratio(memory, sqlite),
        }
        results[str(instances)] = entry
        rows.append(
            [
                str(instances),
                spread(entry["sqlite"]),
                spread(entry["memory"]),
                spread(entry["memory_over_sqlite"], "{:.2f}"),
            ]
        )
    print_table(
        f"Durability cost: the same {mode.tasks:,} tasks, SQLite queue against memory queue, tasks/s; "
        "target memory/sqlite <= 2.0",
        ["workers", "sqlite", "memory", "memory/sqlite"],
        rows,
    )
    data = {
        "tasks": mode.tasks,
        "repeat": mode.repeat,
        "target_memory_over_sqlite": 2.0,
        "instances": results,
    }
    write_result("durability", mode, data)
    return data


if __name__ == "__main__":
    from common import MODES

    chosen = tuple(sys.argv[2:]) or SYSTEMS
    run(MODES[sys.argv[1] if len(sys.argv) > 1 else "quick"], chosen)
