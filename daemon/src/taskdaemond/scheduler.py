"""The scheduler: one daemon's parts wired together, started, and stopped in order.

A task's path: the API calls the ``TaskService`` (service.py), which enqueues it; the
``Dispatcher`` (dispatch.py) claims it and hands it to a ``HandlerPool`` (pool.py), whose
``HandlerInstance`` (runtime/) runs it; the outcome comes back to the dispatcher, which asks
``retries.decide`` what follows and gives the transition to the ``GroupWriter`` (writer.py);
once committed, the scheduler passes the news on (metrics, the dispatcher's retries, the
service's waiters). Data flows down; each lower layer reports up through one interface.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

from taskdaemond.config import Config
from taskdaemond.dispatch import Dispatcher
from taskdaemond.leases import LeaseKeeper
from taskdaemond.metrics import DaemonMetrics
from taskdaemond.queue.base import QueueUnavailable, TaskQueue
from taskdaemond.queue.models import TaskEvent, TaskRecord, Transition
from taskdaemond.retention import Pruner, RetentionPolicy
from taskdaemond.schedule_runner import ScheduleRunner
from taskdaemond.service import TaskService
from taskdaemond.statuses import TaskStatus
from taskdaemond.writer import GroupWriter

log = logging.getLogger("taskdaemond.scheduler")


class Scheduler:
    """Queue, group writer, dispatcher (with its pools), leases and task service of one daemon."""

    def __init__(
        self, config: Config, queue: TaskQueue, metrics: DaemonMetrics, engine_executable: str | None = None
    ) -> None:
        self.config = config
        self.daemon_id = uuid.uuid4().hex[:8]
        self._queue = queue
        self.metrics = metrics
        # The writer waits for more outcomes to join a group only while tasks are running, and
        # the records of tasks that clients wait for are read with the commit.
        self._writer = GroupWriter(
            queue,
            self._committed,
            self._events_committed,
            in_flight=self._running,
            waited=self._waited,
            on_records=self._records_committed,
        )
        self.dispatcher = Dispatcher(
            config.daemon,
            config.handlers,
            queue,
            self._writer,
            metrics,
            daemon_id=self.daemon_id,
            engine_executable=engine_executable,
        )
        # A queue shared with other daemons: claims are leases, renewed while held.
        self._leases = (
            LeaseKeeper(queue, self.dispatcher.held_task_ids, self._reclaimed) if queue.shared else None
        )
        self.service = TaskService(
            config, queue, self.dispatcher, metrics, daemon_id=self.daemon_id, leases=self._leases
        )
        # Finished tasks older than their retention (or beyond the cap) are pruned in batches.
        self.pruner = Pruner(
            queue, RetentionPolicy.from_settings(config.daemon), metrics, config.daemon.prune_interval
        )
        # Periodic tasks: each due run enqueued once, whichever daemon gets there first.
        enabled = [schedule for schedule in config.schedules.values() if schedule.enabled]
        self.schedule_runner = (
            ScheduleRunner(
                enabled, queue, self.service.schedule_task, self.service.schedule_enqueued, metrics
            )
            if enabled
            else None
        )
        # New tasks and cancels arriving through other daemons are announced by the queue.
        queue.bind(self.daemon_id, self.dispatcher.notify, self.service.cancelled_elsewhere)
        queue.watch_changes(self.service.changed_elsewhere)
        # Dependents a commit released (their dependencies all completed) or ended.
        queue.watch_dependents(self.service.dependents_changed)

    def _running(self) -> int:
        return self.dispatcher.running_count()

    def _waited(self, transitions: Sequence[Transition]) -> Sequence[str]:
        return self.service.waited(transitions)

    def _records_committed(self, records: Sequence[TaskRecord]) -> None:
        self.service.records_committed(records)

    def _committed(self, transitions: Sequence[Transition]) -> None:
        self.metrics.count(transitions)
        self.dispatcher.committed(transitions)
        self.service.committed(transitions)

    def _events_committed(self, events: Sequence[TaskEvent]) -> None:
        self.service.events_committed(events)

    def _reclaimed(self, tasks: list[tuple[str, str]]) -> None:
        self.metrics.leases_expired.inc(len(tasks))
        for task_type in {task_type for _, task_type in tasks}:
            self.dispatcher.notify(task_type)

    async def start(self) -> None:
        """Open the queue (recovering tasks a stopped daemon left running), start the writer,
        the leases, the pools and the claim loops."""
        recovered = self.service.recovered = await self._queue.open()
        if recovered and self._queue.shared:
            log.warning("%d tasks held by daemons that stopped renewing their leases run again", recovered)
        elif recovered:
            log.warning("%d tasks were running when the daemon last stopped; they run again", recovered)
        self._writer.start()
        if self._leases is not None:
            log.info("daemon %s on a shared queue: leases of %g s", self.daemon_id, self._queue.lease_seconds)
            self._leases.start()
        await self.dispatcher.start()
        self.pruner.start()
        if self.schedule_runner is not None:
            self.schedule_runner.start()

    async def shutdown(self, grace: float | None = None) -> dict[str, int]:
        """Stop claiming, let tasks in flight finish within ``grace`` seconds, stop the
        handlers, requeue (or mark interrupted) what still ran, commit, close the queue."""
        grace = self.config.daemon.shutdown_grace if grace is None else grace
        # 1. Stop enqueuing periodic tasks (a run due now is left to the next start or another
        #    daemon) and claiming; tasks claimed but not started go back to pending.
        if self.schedule_runner is not None:
            await self.schedule_runner.stop()
        waiting = await self.dispatcher.stop_claiming()
        try:
            await self._queue.release(waiting)
        except QueueUnavailable as exc:  # a shared queue: the leases lapse and others take them
            log.warning("could not return %d unstarted tasks to pending: %s", len(waiting), exc)
        # 2. Tasks in flight may finish within the grace period.
        in_flight = self.dispatcher.running_count()
        await self.dispatcher.wait_idle(grace)
        still_held = self.dispatcher.running_count()
        # 3. Stop every handler: a task in hand is interrupted (requeued or `interrupted`); the
        # tasks written behind it never started and go back to pending, as if never claimed.
        returned = await self.dispatcher.stop_pools()
        interrupted = still_held - returned
        # 4. Commit every outcome, stop pruning, then close the queue.
        await self._writer.close()
        await self.pruner.stop()
        if self._leases is not None:
            await self._leases.stop()
        await self._queue.close()
        log.info(
            "stopped: %d tasks returned unstarted, %d finished in the grace period, %d interrupted",
            len(waiting) + returned,
            in_flight - still_held,
            interrupted,
        )
        return {
            "released": len(waiting) + returned,
            "finished": in_flight - still_held,
            TaskStatus.INTERRUPTED.value: interrupted,
        }
