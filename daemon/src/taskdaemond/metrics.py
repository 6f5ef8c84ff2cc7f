"""Prometheus metrics of one daemon, in a registry of its own (several daemons per process in
tests, no global state)."""

from __future__ import annotations

import collections
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from taskdaemond.queue.base import Storage
from taskdaemond.queue.models import Transition
from taskdaemond.statuses import TaskStatus

#: Buckets of task_duration_seconds: from a no-op to a long job.
DURATION_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900)


@dataclass(frozen=True, slots=True)
class TypeMetrics:
    """The metrics of one task type."""

    completed: Counter
    failed: Counter
    retried: Counter
    crashes: Counter
    timeouts: Counter
    duration: Histogram


class DaemonMetrics:
    """The counters, gauges and histogram the daemon keeps."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.tasks_received = Counter(
            "tasks_received", "Tasks accepted by the API.", ["task_type"], registry=r
        )
        self.queue_size = Gauge("queue_size", "Tasks waiting to run (pending).", registry=r)
        self.tasks_by_status = Gauge("tasks", "Tasks in the queue by status.", ["status"], registry=r)
        self.pool_active = Gauge(
            "container_pool_active", "Handler instances running a task.", ["handler"], registry=r
        )
        self.pool_idle = Gauge(
            "container_pool_idle", "Handler instances waiting for a task.", ["handler"], registry=r
        )
        self.pool_restarting = Gauge(
            "container_pool_restarting", "Handler instances being (re)started.", ["handler"], registry=r
        )
        self.completed = Counter("tasks_completed", "Tasks completed.", ["task_type"], registry=r)
        self.failed = Counter("tasks_failed", "Tasks failed for good.", ["task_type"], registry=r)
        self.retried = Counter(
            "tasks_retried", "Attempts scheduled again after a failure.", ["task_type"], registry=r
        )
        self.crashes = Counter(
            "handler_crashes", "Handlers that exited with a task in hand.", ["task_type"], registry=r
        )
        self.timeouts = Counter(
            "handler_timeouts", "Attempts stopped at their timeout.", ["task_type"], registry=r
        )
        self.duration = Histogram(
            "task_duration_seconds",
            "Time one attempt ran in its handler.",
            ["task_type"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.claims = Counter(
            "queue_claims",
            "Claims a claim loop made, by task type, and whether they found tasks (found: tasks, none).",
            ["task_type", "found"],
            registry=r,
        )
        self.leases_expired = Counter(
            "leases_expired",
            "Tasks this daemon reclaimed from another (shared queue): their lease lapsed, so they run again.",
            registry=r,
        )
        self.schedule_runs = Counter(
            "schedule_runs",
            "Runs of periodic tasks this daemon enqueued, by schedule (several daemons: sum them).",
            ["schedule"],
            registry=r,
        )
        self.tasks_pruned = Counter(
            "tasks_pruned", "Finished tasks deleted by retention (age or cap).", ["status"], registry=r
        )
        self.reclaimed_bytes = Counter(
            "database_reclaimed_bytes", "Bytes the pruner gave back to the file system (SQLite).", registry=r
        )
        self.database_size = Gauge(
            "database_size_bytes", "Bytes the queue's database takes (SQLite: file and WAL).", registry=r
        )
        self.database_free = Gauge(
            "database_free_bytes", "Free bytes inside the SQLite file, kept for new tasks.", registry=r
        )
        self.daemon_info = Gauge(
            "daemon_info", "This daemon: its id and queue backend.", ["daemon_id", "queue"], registry=r
        )
        self._children: dict[str, TypeMetrics] = {}

    def for_type(self, task_type: str) -> TypeMetrics:
        """The per-type children, looked up once (labels() is not free on the hot path)."""
        children = self._children.get(task_type)
        if children is None:
            children = TypeMetrics(
                self.completed.labels(task_type),
                self.failed.labels(task_type),
                self.retried.labels(task_type),
                self.crashes.labels(task_type),
                self.timeouts.labels(task_type),
                self.duration.labels(task_type),
            )
            self._children[task_type] = children
        return children

    def count(self, transitions: Sequence[Transition]) -> None:
        """Add committed transitions to their counters, summed per group (one inc per counter
        and type, not per task)."""
        counts: collections.Counter[tuple[str, str]] = collections.Counter()
        for transition in transitions:
            if transition.task_type is not None:
                counts.update((transition.task_type, name) for name in transition.counters)
        for (task_type, name), count in counts.items():
            getattr(self.for_type(task_type), name).inc(count)

    def update_queue(self, counts: dict[str, int]) -> None:
        self.queue_size.set(counts.get(TaskStatus.PENDING, 0))
        for status, count in counts.items():
            self.tasks_by_status.labels(status).set(count)

    def pruned(self, counts: dict[TaskStatus, int], reclaimed_bytes: int, storage: Storage) -> None:
        """A pruner pass: tasks deleted by status, bytes given back, the database's size after."""
        for status, count in counts.items():
            self.tasks_pruned.labels(status.value).inc(count)
        self.reclaimed_bytes.inc(reclaimed_bytes)
        self.database_size.set(storage.size_bytes)
        self.database_free.set(storage.free_bytes)

    def update_pools(self, pools: dict[str, dict[str, Any]]) -> None:
        for task_type, state in pools.items():
            self.pool_active.labels(task_type).set(state["active"])
            self.pool_idle.labels(task_type).set(state["idle"])
            self.pool_restarting.labels(task_type).set(state["restarting"])

    def exposition(self) -> bytes:
        """The Prometheus text format of every metric."""
        return generate_latest(self.registry)

    def summary(self) -> dict[str, dict[str, float]]:
        """Counters by task type, for GET /api/metrics."""
        out: dict[str, dict[str, float]] = {}
        for name, counter in (
            ("received", self.tasks_received),
            (TaskStatus.COMPLETED.value, self.completed),
            (TaskStatus.FAILED.value, self.failed),
            ("retried", self.retried),
            ("crashes", self.crashes),
            ("timeouts", self.timeouts),
        ):
            for metric in counter.collect():
                for sample in metric.samples:
                    if sample.name.endswith("_total"):
                        out.setdefault(sample.labels["task_type"], {})[name] = sample.value
        return out
