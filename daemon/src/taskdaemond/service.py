"""The task service: every operation the HTTP API offers, over the queue and the dispatcher.

The API holds only this object. It submits tasks (and tells the dispatcher they are due),
reads and lists them, waits for a task to be final, cancels, deletes and redrives, and
builds the health and metrics answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from taskdaemond import __version__, defaults, jsonfast
from taskdaemond.config import Config, HandlerConfig
from taskdaemond.dependencies import InvalidWorkflow, order_steps
from taskdaemond.dispatch import Dispatcher
from taskdaemond.errors import (
    InvalidTaskState,
    NotCancelled,
    NotRedrivable,
    TaskNotFound,
    UnknownTaskType,
    WorkflowNotFound,
)
from taskdaemond.history import History
from taskdaemond.leases import LeaseKeeper
from taskdaemond.metrics import DaemonMetrics
from taskdaemond.news import TaskNews
from taskdaemond.queue.base import QueueUnavailable, TaskQueue
from taskdaemond.queue.ids import new_task_id
from taskdaemond.queue.models import (
    ClaimedTask,
    DependentChanges,
    NewTask,
    NewWorkflow,
    TaskEvent,
    TaskFilters,
    TaskPage,
    TaskRecord,
    Transition,
    WorkflowPage,
    WorkflowRecord,
)
from taskdaemond.schedule_config import ScheduleConfig
from taskdaemond.schedule_runner import listing_entry
from taskdaemond.statuses import REDRIVABLE_STATUSES, TaskStatus


@dataclass(frozen=True, slots=True)
class Health:
    """The answer of GET /health: healthy and degraded are 200, unhealthy 503."""

    status_code: int
    body: dict[str, Any]


class TaskService:
    """What the API does, in one place; raises the errors of ``taskdaemond.errors``."""

    def __init__(
        self,
        config: Config,
        queue: TaskQueue,
        dispatcher: Dispatcher,
        metrics: DaemonMetrics,
        *,
        daemon_id: str,
        leases: LeaseKeeper | None = None,
    ) -> None:
        self._settings = config.daemon
        self._handlers: Mapping[str, HandlerConfig] = config.handlers
        self._schedules: Mapping[str, ScheduleConfig] = config.schedules
        self._queue = queue
        self._dispatcher = dispatcher
        self._metrics = metrics
        self._leases = leases
        self.daemon_id = daemon_id
        self.started_at = time.time()
        #: Tasks found running at start (left by a stopped daemon) and run again.
        self.recovered = 0
        #: Futures of the clients waiting for a task to be final: set to its final record when
        #: the writer read it right after the commit, else to None (the waiter reads it).
        self._waiters: dict[str, list[asyncio.Future[TaskRecord | None]]] = {}
        #: Which tasks changed, for the live streams (GET /api/events, the dashboard).
        self.news = TaskNews()
        #: The last hour, minute by minute, for the dashboard's chart.
        self.history = History()

    @property
    def task_types(self) -> list[str]:
        return sorted(self._handlers)

    # -- submit ---------------------------------------------------------------------------

    def make_task(
        self,
        task_type: str,
        data: dict[str, Any],
        *,
        priority: int | None = None,
        delay: float | None = None,
        idempotency_key: str | None = None,
        max_retries: int | None = None,
        tags: Mapping[str, str] | None = None,
        depends_on: Sequence[str] | None = None,
        on_dependency_failure: str | None = None,
    ) -> NewTask:
        """A NewTask with the handler's defaults; raises UnknownTaskType."""
        handler = self._handlers.get(task_type)
        if handler is None:
            raise UnknownTaskType(task_type, self.task_types)
        return NewTask(
            task_type=task_type,
            data_json=jsonfast.dumps(data),
            priority=defaults.DEFAULT_PRIORITY if priority is None else priority,
            max_retries=handler.retries if max_retries is None else max_retries,
            delay=delay or 0.0,
            idempotency_key=idempotency_key,
            tags_json=jsonfast.dumps(dict(tags)) if tags else None,
            # A plain submit names each dependency by its id (dict: the same id named twice is one).
            dependencies=tuple(dict.fromkeys((i, i) for i in depends_on or ())),
            on_dependency_failure=on_dependency_failure or defaults.DEFAULT_ON_DEPENDENCY_FAILURE,
        )

    async def submit_workflow(
        self,
        steps: Sequence[tuple[str, NewTask, Sequence[str]]],
        *,
        name: str | None = None,
        on_failure: str = defaults.DEFAULT_ON_DEPENDENCY_FAILURE,
        idempotency_key: str | None = None,
    ) -> WorkflowRecord:
        """Enqueue a workflow: ``steps`` are (name, task, names of the steps it depends on).
        Raises InvalidWorkflow (no steps, a name twice, an unknown step, a cycle)."""
        graph: dict[str, Sequence[str]] = {}
        tasks: dict[str, NewTask] = {}
        for step, task, needs in steps:
            if step in graph:
                raise InvalidWorkflow(f"steps: the name {step!r} is used by two steps")
            graph[step] = needs
            tasks[step] = task
        workflow_id = new_task_id()
        ids = {step: new_task_id() for step in graph}
        ordered = tuple(
            replace(
                tasks[step],
                task_id=ids[step],
                workflow_id=workflow_id,
                step=step,
                dependencies=tuple((need, ids[need]) for need in graph[step]),
                on_dependency_failure=on_failure,
            )
            for step in order_steps(graph)
        )
        workflow = NewWorkflow(workflow_id, ordered, name, on_failure, idempotency_key)
        now = time.time()
        found, created = await self._queue.submit_workflow(workflow, now)
        if created:  # counted, and the steps without dependencies are due
            self.enqueued(ordered, [(task.task_id or "", True) for task in ordered], now)
        return await self.get_workflow(found)

    async def get_workflow(self, workflow_id: str) -> WorkflowRecord:
        record = await self._queue.get_workflow(workflow_id)
        if record is None:
            raise WorkflowNotFound(workflow_id)
        return record

    async def list_workflows(self, *, limit: int, cursor: str | None = None) -> WorkflowPage:
        return await self._queue.list_workflows(limit, cursor)

    async def redrive_workflow(self, workflow_id: str) -> WorkflowRecord:
        """Redrive every step that failed or was interrupted by itself; the steps a failure
        failed or cancelled wait again and run once it has completed."""
        record = await self.get_workflow(workflow_id)
        for step in record.steps or []:
            if step.status in REDRIVABLE_STATUSES and step.failed_by is None:
                await self.redrive(step.task_id)
        return await self.get_workflow(workflow_id)

    def dependents_changed(self, changes: DependentChanges) -> None:
        """A commit released waiting tasks (the dispatcher looks for them) or ended them."""
        for task_type in {task_type for _, task_type in changes.released}:
            self._dispatcher.notify(task_type)
        for task_id in changes.ended:
            self._resolve(task_id)
        self.news.publish(task_id for task_id, _ in changes.released)

    async def submit(self, tasks: Sequence[NewTask]) -> list[str]:
        """Enqueue (durably, in one transaction) and tell the dispatcher when each type is due."""
        return [task_id for task_id, _ in await self._enqueue(tasks)]

    async def submit_and_wait(self, task: NewTask, timeout: float) -> tuple[str, TaskRecord]:
        """Enqueue one task and wait at most ``timeout`` seconds for it to be final: its id and
        its record (final, or as it is when the time is up).

        A task this call created cannot be final yet (this daemon's dispatcher hears of it only
        now, and any outcome takes several turns of the loop to be committed): the wait starts
        without reading it first. That read would also queue ahead of the task's claim on the
        SQLite queue's one thread, and delay the result by as much."""
        [(task_id, created)] = await self._enqueue([task])
        fresh = created and not self._queue.shared
        return task_id, await self.wait_final(task_id, timeout, read_first=not fresh)

    async def _enqueue(self, tasks: Sequence[NewTask]) -> list[tuple[str, bool]]:
        """Each task's id and whether this call created it (not found by its idempotency key)."""
        now = time.time()
        # Idle instances of the (one) task type take tasks from this very transaction.
        types = {task.task_type for task in tasks}
        task_type = types.pop() if len(types) == 1 else None
        wanted = self._dispatcher.reserve(task_type) if task_type is not None else 0
        if task_type is not None and wanted:
            claimed: list[ClaimedTask] = []
            try:
                answers, claimed = await self._queue.submit_and_claim(tasks, now, task_type, wanted)
            finally:  # failed or not, the hand-over ends: the claim loop goes on
                refused = self._dispatcher.take(task_type, claimed)
            if refused:  # the daemon is stopping: as if never claimed
                await self._queue.release([task.id for task in refused])
        else:
            answers, claimed = await self._queue.submit(tasks, now), []
        none_due = task_type if _none_left_due(wanted, answers, claimed) else None
        self.enqueued(tasks, answers, now, none_due=none_due)
        return answers

    def enqueued(
        self,
        tasks: Sequence[NewTask],
        answers: Sequence[tuple[str, bool]],
        now: float,
        *,
        none_due: str | None = None,
    ) -> None:
        """Tasks the queue took at ``now`` (from the API or the schedule loop): count them, tell
        the dispatcher when each type is due and the live streams what is new. ``none_due``: a
        type whose due tasks this submit claimed, every one: its claim loop need not look (it
        would find nothing, and its claim would queue ahead of the tasks' outcomes)."""
        received: dict[str, int] = {}
        due: dict[str, float] = {}
        for task, (_, created) in zip(tasks, answers, strict=True):
            if created:
                received[task.task_type] = received.get(task.task_type, 0) + 1
                at = now + task.delay if task.delay else 0.0
                due[task.task_type] = min(due.get(task.task_type, at), at)
        for task_type, count in received.items():
            self._metrics.tasks_received.labels(task_type).inc(count)
            if not (task_type == none_due and due[task_type] == 0.0):
                self._dispatcher.due(task_type, due[task_type])
        self.news.publish(task_id for task_id, created in answers if created)

    # -- periodic tasks -------------------------------------------------------------------

    def schedule_task(self, schedule: ScheduleConfig, key: str) -> NewTask:
        """The task of one run of ``schedule``, with ``key`` as its idempotency key."""
        return self.make_task(
            schedule.task_type,
            dict(schedule.data),
            priority=schedule.priority,
            idempotency_key=key,
            max_retries=schedule.max_retries,
            tags=schedule.tags,
        )

    def schedule_enqueued(self, task: NewTask, task_id: str, now: float) -> None:
        self.enqueued([task], [(task_id, True)], now)

    async def schedules(self) -> list[dict[str, Any]]:
        """Every configured schedule with its progress (shared by all daemons on the queue) and
        the status of its last run (None once retention pruned it)."""
        states = await self._queue.schedule_states()
        now = time.time()
        entries = []
        for name, schedule in sorted(self._schedules.items()):
            state = states.get(name)
            status = None
            if state is not None and state.last_task_id is not None:
                record = await self._queue.get(state.last_task_id)
                status = record.status.value if record is not None else None
            entries.append(listing_entry(schedule, state, status, now))
        return entries

    # -- read -----------------------------------------------------------------------------

    async def get(self, task_id: str) -> TaskRecord:
        record = await self._queue.get(task_id)
        if record is None:
            raise TaskNotFound(task_id)
        return record

    async def list(
        self,
        *,
        status: TaskStatus | None = None,
        task_type: str | None = None,
        limit: int,
        cursor: str | None = None,
        filters: TaskFilters | None = None,
    ) -> TaskPage:
        return await self._queue.list(
            status=status, task_type=task_type, limit=limit, cursor=cursor, filters=filters
        )

    async def wait_final(self, task_id: str, timeout: float, *, read_first: bool = True) -> TaskRecord:
        """The task once it is final, or as it is after ``timeout`` seconds. ``read_first=False``:
        the caller knows the task is not final yet, so the first read waits for a wake-up."""
        deadline = time.monotonic() + timeout
        skip_read = not read_first
        first = True
        while True:
            # The waiter is in place before the read: a commit landing while the read is in
            # flight still wakes it (else it would sleep out WAIT_RECHECK: a p99 of a second).
            future: asyncio.Future[TaskRecord | None] = asyncio.get_running_loop().create_future()
            self._waiters.setdefault(task_id, []).append(future)
            try:
                remaining = deadline - time.monotonic()
                if not skip_read:
                    # The first look reads the task only if it is final: a task just submitted
                    # is not, and reading its whole record (data up to 64 MiB) would be for
                    # nothing. After a wake the task is most likely final: read it whole.
                    if first:
                        found = await self._queue.get_if_final(task_id)
                        if found is None:
                            raise TaskNotFound(task_id)
                        record = found if isinstance(found, TaskRecord) else None
                    else:
                        record = await self.get(task_id)
                    remaining = deadline - time.monotonic()
                    if record is None and remaining <= 0:
                        record = await self.get(task_id)
                    if record is not None and (record.status.is_final or remaining <= 0):
                        return record
                skip_read = False
                first = False
                # Bounded wait: wakes on commit, or re-reads at least every WAIT_RECHECK seconds
                # (a task whose final status came from elsewhere, e.g. another daemon).
                with contextlib.suppress(TimeoutError):
                    committed = await asyncio.wait_for(future, min(remaining, defaults.WAIT_RECHECK))
                    if committed is not None and committed.status.is_final:
                        return committed  # read right after its commit: no read of our own
            finally:
                waiters = self._waiters.get(task_id)
                if waiters is not None and future in waiters:
                    waiters.remove(future)
                    if not waiters:
                        del self._waiters[task_id]

    def waited(self, transitions: Sequence[Transition]) -> Sequence[str]:
        """The tasks among ``transitions`` that end and that clients wait for."""
        return [t.task_id for t in transitions if t.status.is_final and t.task_id in self._waiters]

    def records_committed(self, records: Sequence[TaskRecord]) -> None:
        """Final records read right after their commit: handed to their waiters as they are."""
        for record in records:
            if record.status.is_final:
                for future in self._waiters.pop(record.id, []):
                    if not future.done():
                        future.set_result(record)

    def committed(self, transitions: Sequence[Transition]) -> None:
        """Transitions are durable: wake whoever waits for a task that is now final."""
        for transition in transitions:
            if transition.status.is_final:
                self._resolve(transition.task_id)
        self.history.finished(transitions, time.time())
        self.news.publish(transition.task_id for transition in transitions)

    def events_committed(self, events: Sequence[TaskEvent]) -> None:
        """Log and progress events are durable: tell the live streams."""
        self.news.publish({event.task_id for event in events})

    def changed_elsewhere(self, task_ids: Sequence[str]) -> None:
        """Another daemon on the shared queue changed these tasks: tell the live streams."""
        self.news.publish(task_ids)

    def _resolve(self, task_id: str) -> None:
        self.news.publish([task_id])
        for future in self._waiters.pop(task_id, []):
            if not future.done():
                future.set_result(None)

    # -- act on one task --------------------------------------------------------------------

    async def cancel(self, task_id: str) -> TaskRecord:
        """Cancel a pending task, or stop the instance running it: the task, cancelled. Raises
        TaskNotFound, InvalidTaskState while it is finishing, or NotCancelled when it is already
        final or its handler answered first (the race a cancel can lose)."""
        before = await self._queue.cancel_pending(task_id, time.time())
        if before is None:
            raise TaskNotFound(task_id)
        if before is TaskStatus.PROCESSING:
            if not self._dispatcher.cancel(task_id) and not await self._queue.cancel_elsewhere(
                task_id, time.time()
            ):
                raise InvalidTaskState(f"task {task_id} is finishing; try again")
            await self.wait_final(task_id, defaults.HANDLER_TERM_GRACE + defaults.HANDLER_EOF_GRACE)
        elif before.is_final:
            raise NotCancelled(task_id, before.value, f"task {task_id} is already {before.value}")
        self._resolve(task_id)
        record = await self.get(task_id)
        if record.status is not TaskStatus.CANCELLED:
            raise NotCancelled(task_id, record.status.value)
        return record

    def cancelled_elsewhere(self, task_id: str) -> None:
        """Another daemon cancelled (or deleted) a task this one holds: drop or stop it."""
        self._dispatcher.forget(task_id)
        self._resolve(task_id)

    async def delete(self, task_id: str) -> None:
        """Remove a task; one that is running is stopped first. Raises TaskNotFound."""
        before = await self._queue.delete(task_id)
        if before is None:
            raise TaskNotFound(task_id)
        if before is TaskStatus.PROCESSING:
            self._dispatcher.forget(task_id)
        self._resolve(task_id)

    async def redrive(self, task_id: str) -> TaskRecord:
        """Run a failed or interrupted task again. Raises TaskNotFound or NotRedrivable."""
        before = await self._queue.redrive(task_id, time.time())
        if before is None:
            raise TaskNotFound(task_id)
        if before not in REDRIVABLE_STATUSES:
            raise NotRedrivable(task_id, before)
        record = await self.get(task_id)
        self._dispatcher.notify(record.task_type)
        self.news.publish([task_id])
        return record

    async def redrive_failed(self, task_type: str) -> int:
        """Redrive every failed task of ``task_type``; how many. Pages through the failed tasks
        as they are now (a task redriven meanwhile by someone else is skipped)."""
        redriven = 0
        cursor: str | None = None
        while True:
            page = await self._queue.list(
                status=TaskStatus.FAILED, task_type=task_type, limit=defaults.MAX_PAGE_SIZE, cursor=cursor
            )
            for task in page.tasks:
                if await self._queue.redrive(task.id, time.time()) is TaskStatus.FAILED:
                    redriven += 1
                    self.news.publish([task.id])
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        if redriven:
            self._dispatcher.notify(task_type)
        return redriven

    # -- the daemon itself ------------------------------------------------------------------

    async def health(self) -> Health:
        """Liveness, queue depth and pool state: 503 while the queue cannot be reached."""
        pools = self._dispatcher.pool_states()
        about: dict[str, Any] = {
            "version": __version__,
            "daemon_id": self.daemon_id,
            "uptime_seconds": round(time.time() - self.started_at, 3),
            "queue": self._settings.queue,
        }
        if self._leases is not None:
            about |= {"leases_expired": self._leases.reclaimed, "lease_seconds": self._queue.lease_seconds}
        try:
            counts = await self._queue.counts()
        except QueueUnavailable as exc:  # the shared database is down: this daemon cannot work
            return Health(503, {"status": "unhealthy", "error": str(exc), **about, "pools": pools})
        degraded = any(p["crash_loop"] or p["idle"] + p["active"] == 0 for p in pools.values())
        return Health(
            200,
            {
                "status": "degraded" if degraded else "healthy",
                **about,
                # With a shared queue: pending tasks of every daemon.
                "queue_depth": counts[TaskStatus.PENDING],
                "tasks": counts,
                "recovered_at_start": self.recovered,
                "pools": pools,
            },
        )

    async def metrics_exposition(self) -> bytes:
        """Every metric in the Prometheus text format, queue and pool gauges brought up to date."""
        self._metrics.daemon_info.labels(self.daemon_id, self._settings.queue).set(1)
        with contextlib.suppress(QueueUnavailable):  # the queue gauges keep their last values
            self._metrics.update_queue(await self._queue.counts())
        self._metrics.update_pools(self._dispatcher.pool_states())
        return self._metrics.exposition()

    async def metrics_summary(self) -> dict[str, Any]:
        """The metrics as JSON (GET /api/metrics)."""
        counts = await self._queue.counts()
        return {
            "queue_size": counts[TaskStatus.PENDING],
            "tasks": counts,
            "by_type": self._metrics.summary(),
            "pools": {
                t: {k: p[k] for k in ("instances", "idle", "active", "restarting", "crash_loop")}
                for t, p in self._dispatcher.pool_states().items()
            },
        }

    async def overview(self) -> dict[str, Any]:
        """What the dashboard's overview shows: this daemon, the tasks by status, the queue depth
        and the last hour of it, the pools, and (on a shared queue) every daemon on the queue."""
        now = time.time()
        counts = await self._queue.counts()
        self.history.depth(counts[TaskStatus.PENDING], now)
        return {
            "daemon_id": self.daemon_id,
            "version": __version__,
            "queue": self._settings.queue,
            "uptime_seconds": round(now - self.started_at, 3),
            "queue_depth": counts[TaskStatus.PENDING],
            "tasks": counts,
            "history": self.history.series(now),
            "pools": self._dispatcher.pool_states(),
            "daemons": await self._queue.daemons(),
        }


def _none_left_due(wanted: int, answers: Sequence[tuple[str, bool]], claimed: Sequence[ClaimedTask]) -> bool:
    """Whether a submit that claimed ``claimed`` of the ``wanted`` it asked for left its claim
    loop nothing to look for: a short claim took every due task, and a full one may have taken
    every task the submit created (a lone task on an idle daemon, the everyday case). Else the
    loop would wake for a claim that finds nothing, once per task."""
    if not wanted:
        return False
    if len(claimed) < wanted:
        return True
    taken = {task.id for task in claimed}
    return all(task_id in taken for task_id, created in answers if created)
