"""Running every case against every target: one at a time, or several at once.

A case's handler is a process (or container) of its own, so cases are independent and can run side
by side. Containers gain most: part of a container's start is spent waiting on the engine rather
than on the CPU, so more cases than cores can usefully run at once. Results always come back in matrix order
(target by target, case by case), whatever finished first, so a report does not depend on `jobs`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from taskdaemon_conformance.replay import CaseResult, Target, run_case
from taskdaemon_conformance.transcripts import Case

#: Cases run at once for local processes: one, so that timing-sensitive cases see an idle machine
#: and process runs stay exactly as they always were.
PROCESS_JOBS = 1
#: Cases run at once for container images. A run of the 3 SDK images (246 containers) costs about
#: 85-95 CPU-seconds however it is spread; on a 2-core machine shared with other work it took
#: 98-104 s with 1 job, 84-105 s with 2, and 49-67 s with 3, 4 or 6: from 3 on, the CPU is the
#: limit. Four keep both cores busy while each case waits on the engine part of its time, without
#: crowding the cases that have time limits.
ENGINE_JOBS = 4


def default_jobs(engine: str | None) -> int:
    """How many cases run at once when --jobs is not given."""
    return PROCESS_JOBS if engine is None else ENGINE_JOBS


def run_matrix(
    targets: Sequence[Target], cases: Sequence[Case], *, jobs: int = 1, timeout_factor: float = 1.0
) -> Iterator[CaseResult]:
    """Every case against every target, up to `jobs` at once, yielded in matrix order."""
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    pairs = [(target, case) for target in targets for case in cases]
    if jobs == 1:
        for target, case in pairs:
            yield run_case(case, target, timeout_factor=timeout_factor)
        return
    # The cases allowed the longest (the large payloads) start first, so that none of them is
    # left running alone at the end; results are still yielded in matrix order.
    longest_first = sorted(range(len(pairs)), key=lambda index: -pairs[index][1].time_limit_ms)
    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="case")
    try:
        futures: dict[int, Future[CaseResult]] = {}
        for index in longest_first:
            target, case = pairs[index]
            futures[index] = pool.submit(run_case, case, target, timeout_factor=timeout_factor)
        for index in range(len(pairs)):
            yield futures[index].result()
    finally:
        # Interrupted (Ctrl-C, or the caller stopped reading): start nothing more; each case that
        # runs stops its own handler when it ends.
        pool.shutdown(wait=True, cancel_futures=True)
