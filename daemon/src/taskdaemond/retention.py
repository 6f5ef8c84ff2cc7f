"""Retention: finished tasks are pruned once they are older than their status's time to live
(``completed_ttl``; ``failed_ttl`` for failed, cancelled and interrupted tasks) or beyond the
cap on finished tasks (``max_finished_tasks``). Pending and processing tasks never are.

The ``Pruner`` runs a pass every ``prune_interval`` seconds: it deletes in batches of
``PRUNE_BATCH`` tasks, one short transaction each, pausing between them so that claims,
outcomes and the API get in; then the SQLite queue gives free pages beyond a reserve back to
the file system. ``taskdaemond prune`` runs the same pass (``prune_once``) from the command line.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from taskdaemond import defaults
from taskdaemond.config import DaemonSettings
from taskdaemond.metrics import DaemonMetrics
from taskdaemond.periodic import Periodic
from taskdaemond.queue.base import Storage, TaskQueue
from taskdaemond.statuses import FINAL_STATUSES, TaskStatus

log = logging.getLogger("taskdaemond.retention")


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """How long finished tasks are kept, in seconds after they finished (0: for ever), and the
    most finished tasks kept (None: no cap)."""

    completed_ttl: float = defaults.DEFAULT_COMPLETED_TTL
    failed_ttl: float = defaults.DEFAULT_FAILED_TTL
    max_finished: int | None = None

    @classmethod
    def from_settings(cls, settings: DaemonSettings) -> RetentionPolicy:
        return cls(settings.completed_ttl, settings.failed_ttl, settings.max_finished_tasks)

    def ttl(self, status: TaskStatus) -> float:
        return self.completed_ttl if status is TaskStatus.COMPLETED else self.failed_ttl

    def cutoffs(self, now: float) -> dict[TaskStatus, float]:
        """For each final status with a time to live, the finish time before which its tasks go."""
        return {status: now - self.ttl(status) for status in sorted(FINAL_STATUSES) if self.ttl(status) > 0}

    @property
    def enabled(self) -> bool:
        return bool(self.cutoffs(0.0)) or self.max_finished is not None


@dataclass
class PruneReport:
    """What one pass did: tasks deleted by status, bytes given back, the store afterwards."""

    pruned: dict[TaskStatus, int] = field(default_factory=dict)
    reclaimed_bytes: int = 0
    storage: Storage = field(default_factory=Storage)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.pruned.values())

    def add(self, counts: dict[TaskStatus, int]) -> int:
        for status, count in counts.items():
            self.pruned[status] = self.pruned.get(status, 0) + count
        return sum(counts.values())


async def prune_once(
    queue: TaskQueue,
    policy: RetentionPolicy,
    now: float | None = None,
    *,
    batch: int = defaults.PRUNE_BATCH,
    pause: float = defaults.PRUNE_PAUSE,
    reclaim: bool = True,
    cutoffs: Mapping[TaskStatus, float] | None = None,
) -> PruneReport:
    """One pass: the expired tasks (``policy``'s, or the given ``cutoffs``), then those beyond
    the cap, in batches; then give space back."""
    started = time.monotonic()
    report = PruneReport()
    if cutoffs is None:
        cutoffs = policy.cutoffs(time.time() if now is None else now)
    for _ in range(defaults.MAX_BATCHES_PER_PASS):
        if not cutoffs or report.add(await queue.prune(cutoffs, batch)) < batch:
            break
        await asyncio.sleep(pause)  # claims, outcomes and the API get the database between batches
    if policy.max_finished is not None:
        for _ in range(defaults.MAX_BATCHES_PER_PASS):
            if report.add(await queue.prune_excess(policy.max_finished, batch)) < batch:
                break
            await asyncio.sleep(pause)
    if reclaim:
        report.reclaimed_bytes = await queue.reclaim_space()
    report.storage = await queue.storage()
    report.seconds = time.monotonic() - started
    return report


class Pruner(Periodic):
    """Runs ``prune_once`` every ``interval`` seconds until stopped, counting in ``metrics``."""

    name = "pruner"
    eager = True  # sizes and a first pass at once

    def __init__(
        self, queue: TaskQueue, policy: RetentionPolicy, metrics: DaemonMetrics, interval: float
    ) -> None:
        self._queue = queue
        self.policy = policy
        self._metrics = metrics
        self.interval = interval
        #: Why the last pass failed (e.g. the database is unreachable), or None.
        self.last_error: str | None = None
        self.last_report: PruneReport | None = None

    async def run_once(self) -> PruneReport | None:
        """One pass (or, with retention off, only the size); failures are logged and tried again."""
        try:
            if self.policy.enabled:
                report = await prune_once(self._queue, self.policy)
            else:
                report = PruneReport(storage=await self._queue.storage())
        except Exception as exc:
            if self.last_error is None:
                log.warning("cannot prune finished tasks: %s", exc)
            self.last_error = str(exc)
            return None
        if self.last_error is not None:
            log.info("pruning again")
            self.last_error = None
        self.last_report = report
        self._metrics.pruned(report.pruned, report.reclaimed_bytes, report.storage)
        if report.total:
            log.info(
                "pruned %d finished tasks in %.3f s (%s); %d bytes given back, database %d bytes",
                report.total,
                report.seconds,
                ", ".join(f"{status.value} {count}" for status, count in sorted(report.pruned.items())),
                report.reclaimed_bytes,
                report.storage.size_bytes,
            )
        return report


# -- taskdaemond prune ------------------------------------------------------------------------


class PruneRefused(Exception):
    """Raised when ``taskdaemond prune`` cannot do what it was asked (the CLI exits 2)."""


async def prune_command(
    settings: DaemonSettings,
    *,
    older_than: float | None = None,
    statuses: list[TaskStatus] | None = None,
    dry_run: bool = False,
    vacuum: bool = False,
) -> dict[str, object]:
    """``taskdaemond prune``: one pass on the configured database, beside a running daemon or
    not (the queue is opened without recovering anything). Without ``older_than`` and
    ``statuses`` it applies the configured retention, cap included; with them, it prunes the
    tasks of those statuses (default: every final status) finished more than ``older_than``
    seconds ago (default: their configured time to live)."""
    from taskdaemond.queue.base import open_queue  # noqa: PLC0415 - the CLI imports this module lazily
    from taskdaemond.queue.sqlite import SqliteQueue  # noqa: PLC0415

    if settings.queue == "memory":
        raise PruneRefused("the memory queue keeps nothing on disk: there is nothing to prune")
    chosen = sorted(statuses or FINAL_STATUSES)
    configured = RetentionPolicy.from_settings(settings)
    custom = older_than is not None or statuses is not None
    now = time.time()
    cutoffs = {
        status: now - (older_than if older_than is not None else configured.ttl(status))
        for status in chosen
        if older_than is not None or configured.ttl(status) > 0
    }
    cap = None if custom else configured.max_finished
    queue = open_queue(settings)
    if vacuum and not isinstance(queue, SqliteQueue):
        raise PruneRefused(
            "--vacuum is for the SQLite queue; PostgreSQL's autovacuum gives space back itself"
        )
    await queue.open(recover=False)
    try:
        answer: dict[str, object] = {"dry_run": dry_run, "database": str(settings.db_path)}
        if settings.queue == "postgres":
            answer["database"] = "postgres"
        if dry_run:
            counts = await queue.count_prunable(cutoffs)
            answer["pruned"] = {status.value: count for status, count in sorted(counts.items())}
            if cap is not None:
                answer["beyond_cap"] = max(0, await queue.count_finished() - cap)
            storage = await queue.storage()
        else:
            report = await prune_once(queue, RetentionPolicy(0, 0, cap), cutoffs=cutoffs)
            answer["pruned"] = {status.value: count for status, count in sorted(report.pruned.items())}
            answer["reclaimed_bytes"] = report.reclaimed_bytes
            if vacuum and isinstance(queue, SqliteQueue):
                answer["reclaimed_bytes"] = report.reclaimed_bytes + await queue.vacuum()
            storage = await queue.storage()
        answer["size_bytes"] = storage.size_bytes
        answer["free_bytes"] = storage.free_bytes
        return answer
    finally:
        await queue.close()
