"""The SQLite queue's own cost per task, no daemon around it: submits of 500, claims of N, each
claim's tasks completed in one record call, through `SqliteQueue` as the daemon calls it.

    .venv/bin/python bench/sqlite_calls.py [--tasks 20000] [--claim 2 5 20 100]

Prints, per claim size, the wall time per task of each kind of call (one caller, so the queue's
time) and in all. A claim and a record are each one transaction; their fixed cost (the
transaction, and any hand-over between threads) shows as the claims get smaller.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from taskdaemond.queue import NewTask, Transition
from taskdaemond.queue.sqlite import SqliteQueue
from taskdaemond.statuses import TaskStatus

SUBMIT_BATCH = 500
DONE = TaskStatus.COMPLETED


async def per_task(tasks: int, claim: int) -> dict[str, float]:
    """Microseconds per task spent in submit, claim and record."""
    spent = {"submit": 0.0, "claim": 0.0, "record": 0.0}
    done = 0
    with tempfile.TemporaryDirectory(prefix="sqlite-calls-") as tmp:
        queue = SqliteQueue(Path(tmp) / "queue.db")
        await queue.open()
        try:
            for first in range(0, tasks, SUBMIT_BATCH):
                batch = [NewTask("echo", f'{{"n":{n}}}', 50, 3) for n in range(first, first + SUBMIT_BATCH)]
                started = time.perf_counter()
                await queue.submit(batch, time.time())
                spent["submit"] += time.perf_counter() - started
                while True:
                    started = time.perf_counter()
                    claimed = await queue.claim("echo", claim, time.time())
                    spent["claim"] += time.perf_counter() - started
                    if not claimed:
                        break
                    outcomes = [Transition(t.id, DONE, result_json='{"n":1}', seq=t.seq) for t in claimed]
                    started = time.perf_counter()
                    await queue.record(outcomes, [], time.time())
                    spent["record"] += time.perf_counter() - started
                    done += len(claimed)
        finally:
            await queue.close()
    return {kind: seconds / done * 1e6 for kind, seconds in spent.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--claim", type=int, nargs="+", default=[2, 5, 20, 100], help="tasks per claim")
    args = parser.parse_args()
    print(f"{args.tasks} tasks; microseconds per task in each kind of call")
    print(f"{'claim':>5}  {'submit':>6}  {'claim':>6}  {'record':>6}  {'total':>6}")
    for claim in args.claim:
        us = asyncio.run(per_task(args.tasks, claim))
        cells = "".join(f"  {us[kind]:>6.1f}" for kind in ("submit", "claim", "record"))
        print(f"{claim:>5}{cells}  {sum(us.values()):>6.1f}")


if __name__ == "__main__":
    main()
