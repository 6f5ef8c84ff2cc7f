"""A large task through each SQL queue alone (no HTTP, no handler): the milliseconds of each
step a task's payload crosses (submit, claim, result, read), SQLite and PostgreSQL side by side.

    .venv/bin/python bench/payload_queues.py [--mib 16] [--rounds 5]

It measures the queue code of the tree it runs from: run it from two trees (PYTHONPATH) to
compare two schemas, as issue 19's note does for the payload tables. PostgreSQL is a throwaway
cluster of its own (tests/pgcluster.py), with the durability of the SQLite queue
(synchronous_commit off).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "daemon"))
from taskdaemond import jsonfast
from taskdaemond.queue.models import NewTask, Transition
from taskdaemond.queue.postgres import PostgresQueue
from taskdaemond.queue.sqlite import SqliteQueue
from taskdaemond.statuses import TaskStatus
from tests.pgcluster import start_cluster

if TYPE_CHECKING:
    from taskdaemond.queue.base import TaskQueue

STEPS = ("submit", "claim", "result", "read")


def api_body(record: Any) -> bytes:
    """The body GET /api/tasks/{id} answers with (as a tree without to_api_json encodes it)."""
    if hasattr(record, "to_api_json"):
        body: bytes = record.to_api_json()
        return body
    return jsonfast.dumps_bytes(record.to_api())


async def rounds(queue: TaskQueue, size: int, count: int) -> dict[str, list[float]]:
    """ms per step for ``count`` tasks of ``size`` bytes of data (and as much result)."""
    data = json.dumps({"blob": "x" * (size - 12)})
    times: dict[str, list[float]] = {step: [] for step in STEPS}
    await queue.open()
    try:
        for _ in range(count):
            started = time.perf_counter()
            [(task_id, _)] = await queue.submit([NewTask("echo", data, 50, 3)], time.time())
            submitted = time.perf_counter()
            [claimed] = await queue.claim("echo", 1, time.time())
            claimed_at = time.perf_counter()
            done = Transition(task_id, TaskStatus.COMPLETED, result_json=data, seq=claimed.seq)
            await queue.record([done], [], time.time())
            recorded = time.perf_counter()
            record = await queue.get(task_id)
            assert record is not None
            assert len(api_body(record)) > 2 * size
            read = time.perf_counter()
            for step, (start, end) in zip(
                STEPS,
                ((started, submitted), (submitted, claimed_at), (claimed_at, recorded), (recorded, read)),
                strict=True,
            ):
                times[step].append(1000 * (end - start))
    finally:
        await queue.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    size = args.mib << 20
    cluster = start_cluster({"synchronous_commit": "off"})
    results: dict[str, dict[str, list[float]]] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="payload-queues-") as tmp:
            queues: dict[str, Any] = {
                "sqlite": lambda: SqliteQueue(Path(tmp) / "q.db"),
                "postgres": lambda: PostgresQueue(cluster.create_database("payloads")),
            }
            for name, make in queues.items():
                results[name] = asyncio.run(rounds(make(), size, args.rounds))
    finally:
        cluster.destroy()
    print(f"{args.mib} MiB of data and of result, ms per step, median (min-max) of {args.rounds}")
    print(f"  {'queue':<10}" + "".join(f"{step:>22}" for step in STEPS))
    for name, times in results.items():
        cells = [
            f"{statistics.median(times[s]):.0f} ({min(times[s]):.0f}-{max(times[s]):.0f})".rjust(22)
            for s in STEPS
        ]
        print(f"  {name:<10}" + "".join(cells))


if __name__ == "__main__":
    main()
