"""Latency: one task at a time, submit -> result, p50/p90/p99 over 2,000 tasks per system.

  - taskdaemon: POST /queue, then GET /api/tasks/{id}?wait=30 (the long poll answers when the
    task is final), with the stdlib's http.client over one kept-alive connection; SQLite queue,
    one handler instance;
  - taskdaemon-wait: the same daemon set-up (its own instance), one request: POST /queue?wait=30
    answers with the final record;
  - celery: task.delay(data).get() (Redis broker and result backend, one prefork process);
  - rq: queue.enqueue(...) then job.latest_result(timeout=...) (RQ 2's blocking result wait),
    one SimpleWorker.
The tasks are split in `repeat` interleaved rounds; percentiles are over all the samples, and
each round's median is kept to show the spread.
"""

from __future__ import annotations

import http.client
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from common import Mode, print_table, redis_server, spread, summary, workdir, write_result
from daemon_run import running_daemon
from throughput import BIN, peer_env, peer_module, workers

RoundTrip = Callable[[dict[str, int]], Any]


@contextmanager
def taskdaemon_client(_redis_url: str, tmp: Path, *, one_request: bool = False) -> Iterator[RoundTrip]:
    # The stdlib's http.client on one kept-alive connection: the plainest client there is (httpx,
    # used elsewhere in the bench, adds about half a millisecond per round trip of its own).
    with running_daemon(tmp, "sqlite", 1) as daemon:
        connection = daemon.http_connection(timeout=60)

        def post(path: str, body: str) -> dict[str, Any]:
            try:
                connection.request("POST", path, body, {"Content-Type": "application/json"})
                answer: dict[str, Any] = json.loads(connection.getresponse().read())
            except (ConnectionError, http.client.HTTPException):
                # The server closes a connection idle for 5 s (while the peers take their turn):
                # open a new one. Each round starts with untimed tasks, so this is never timed.
                connection.close()
                connection.request("POST", path, body, {"Content-Type": "application/json"})
                answer = json.loads(connection.getresponse().read())
            return answer

        def round_trip(data: dict[str, int]) -> Any:
            body = json.dumps({"type": "echo", "data": data})
            if one_request:  # submit and wait in one: 200 with the final record
                task = post("/queue?wait=30", body)
            else:
                task_id = post("/queue", body)["task_id"]
                connection.request("GET", f"/api/tasks/{task_id}?wait=30")
                task = json.loads(connection.getresponse().read())
            if task["status"] != "completed":
                raise RuntimeError(f"taskdaemon: task {task['task_id']} is {task['status']}")
            return task["result"]

        try:
            yield round_trip
        finally:
            connection.close()


@contextmanager
def celery_client(redis_url: str, tmp: Path) -> Iterator[RoundTrip]:
    celery_app = peer_module("celery_app", BENCH_REDIS_URL=redis_url)

    command = [
        str(BIN / "celery"),
        "-A",
        "celery_app",
        "worker",
        "-P",
        "prefork",
        "-c",
        "1",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "-l",
        "WARNING",
    ]
    with workers(command, peer_env(redis_url, tmp), tmp / "celery-latency.log"):
        yield lambda data: celery_app.echo.delay(data).get(timeout=30)


@contextmanager
def rq_client(redis_url: str, tmp: Path) -> Iterator[RoundTrip]:
    from redis import Redis
    from rq import Queue

    rq_jobs = peer_module("rq_jobs")

    queue = Queue("default", connection=Redis.from_url(redis_url))
    command = [
        str(BIN / "rq"),
        "worker-pool",
        "-n",
        "1",
        "-w",
        "rq.worker.SimpleWorker",
        "-u",
        redis_url,
        "-q",
        "default",
    ]
    with workers(command, peer_env(redis_url, tmp), tmp / "rq-latency.log"):

        def round_trip(data: dict[str, int]) -> Any:
            result = queue.enqueue(rq_jobs.echo, data).latest_result(timeout=30)
            if result is None:
                raise RuntimeError("rq: no result within 30 s")
            return result.return_value

        yield round_trip


CLIENTS = {
    "taskdaemon": taskdaemon_client,
    "taskdaemon-wait": partial(taskdaemon_client, one_request=True),
    "celery": celery_client,
    "rq": rq_client,
}
#: The daemon's modes, each compared with Celery as well (issue 19's target: the one-request p50
#: at most half of Celery's, its p99 below Celery's).
OURS = ("taskdaemon", "taskdaemon-wait")
WARM_UP = 20
ROUND_WARM_UP = 5


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure(mode: Mode, systems: tuple[str, ...]) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Round-trip times (ms) of every task per system, and each round's median."""
    per_round = mode.latency_tasks // mode.repeat
    samples: dict[str, list[float]] = {s: [] for s in systems}
    round_medians: dict[str, list[float]] = {s: [] for s in systems}
    # Every system is started once, on a fresh Redis, and stays up (idle between its rounds);
    # Celery's and RQ's keys do not overlap.
    with redis_server() as redis_url, workdir("latency") as tmp, ExitStack() as stack:
        round_trips = {system: stack.enter_context(CLIENTS[system](redis_url, tmp)) for system in systems}
        for round_trip in round_trips.values():
            for n in range(WARM_UP):
                round_trip({"n": -n})
        for _ in range(mode.repeat):
            for system, round_trip in round_trips.items():
                for n in range(ROUND_WARM_UP):  # untimed: each system was idle during the others' rounds
                    round_trip({"n": -n})
                times = []
                for n in range(per_round):
                    started = time.perf_counter()
                    value = round_trip({"n": n})
                    times.append((time.perf_counter() - started) * 1000)
                    if value != {"n": n}:
                        raise RuntimeError(f"{system}: task {n} answered {value!r}")
                samples[system] += times
                round_medians[system].append(statistics.median(times))
    return samples, round_medians


def run(mode: Mode, systems: tuple[str, ...] = tuple(CLIENTS)) -> dict[str, Any]:
    per_round = mode.latency_tasks // mode.repeat
    samples, round_medians = measure(mode, systems)
    results: dict[str, Any] = {}
    rows = []
    for system in systems:
        ms = samples[system]
        entry = {
            "tasks": len(ms),
            "p50_ms": percentile(ms, 0.5),
            "p90_ms": percentile(ms, 0.9),
            "p99_ms": percentile(ms, 0.99),
            "round_p50_ms": summary(round_medians[system]),
        }
        results[system] = entry
        rows.append(
            [
                system,
                f"{entry['p50_ms']:.2f}",
                f"{entry['p90_ms']:.2f}",
                f"{entry['p99_ms']:.2f}",
                spread(entry["round_p50_ms"], "{:.2f}"),
            ]
        )
    ratios: dict[str, Any] = {}
    if "taskdaemon" in results:
        ours = results["taskdaemon"]
        for peer in systems:
            if peer not in OURS:
                ratios[peer] = {q: results[peer][f"{q}_ms"] / ours[f"{q}_ms"] for q in ("p50", "p90", "p99")}
                rows.append(
                    [f"{peer}/taskdaemon", *(f"{ratios[peer][q]:.1f}x" for q in ("p50", "p90", "p99")), ""]
                )
    over_celery: dict[str, Any] = {}
    if "celery" in results:
        for system in (s for s in OURS if s in results):
            celery = results["celery"]
            over_celery[system] = {
                q: results[system][f"{q}_ms"] / celery[f"{q}_ms"] for q in ("p50", "p90", "p99")
            }
            rows.append(
                [f"{system}/celery", *(f"{over_celery[system][q]:.2f}x" for q in ("p50", "p90", "p99")), ""]
            )
    print_table(
        f"Latency: one task at a time, submit -> result, ms, over {per_round * mode.repeat:,} tasks each "
        f"({mode.repeat} interleaved rounds); <peer>/taskdaemon: how many times slower the peer is; "
        "<ours>/celery: our time as a fraction of Celery's",
        ["system", "p50", "p90", "p99", "round p50 median (min-max)"],
        rows,
    )
    data = {
        "tasks": per_round * mode.repeat,
        "repeat": mode.repeat,
        "systems": results,
        "peer_over_taskdaemon": ratios,
        "ours_over_celery": over_celery,
    }
    write_result("latency", mode, data)
    return data


if __name__ == "__main__":
    from common import MODES

    run(MODES[sys.argv[1] if len(sys.argv) > 1 else "quick"], tuple(sys.argv[2:]) or tuple(CLIENTS))
