"""The schedule loop: enqueues each periodic task's due runs, once each, on any number of daemons.

Each pass reads every schedule's stored progress, asks the pure ``plan`` what comes next, and
moves the schedule on with the queue's compare-and-set, enqueuing the run in the same
transaction (``TaskQueue.advance_schedule``). Between passes the loop sleeps until the next
due time, at most ``SCHEDULE_MAX_SLEEP``; a pass that cannot reach the database is logged and
tried again after ``SCHEDULE_RETRY_DELAY``.

A daemon is *looking* from its first successful pass (after it started, or after a database
outage). For a schedule whose next due time N (after the last one handled) has come:
- a schedule never seen (or whose cron or interval changed) starts from now: the latest due
  time is recorded, not run, and the first run is the next one;
- N at or after the moment this daemon started looking (less ``SCHEDULE_MISFIRE_GRACE``): it
  is this daemon's to run, however late the loop woke: enqueued, and so is every due time
  after it up to now: no gaps while a daemon is up;
- N before that: no daemon enqueued it in time (none was up, or none could reach the
  database): it was *missed*. Of the missed runs only the most recent counts: with
  ``catch_up = true`` it is enqueued once, with ``catch_up = false`` it is skipped. A long
  outage costs at most one run, never one per tick.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from taskdaemond import defaults
from taskdaemond.metrics import DaemonMetrics
from taskdaemond.periodic import Periodic
from taskdaemond.queue.base import TaskQueue
from taskdaemond.queue.models import NewTask, iso
from taskdaemond.queue.schedule_state import ScheduleState
from taskdaemond.schedule_config import ScheduleConfig
from taskdaemond.schedule_timing import due_iso, run_key

log = logging.getLogger("taskdaemond.schedules")

#: Why a due time was handled, as the log says it.
START, DUE, CATCH_UP, MISSED = "start", "due", "catch-up", "missed"


@dataclass(frozen=True, slots=True)
class Step:
    """What to do next with a schedule: record ``due`` as handled, enqueuing its run or not."""

    due: float
    enqueue: bool
    reason: str


def plan(
    schedule: ScheduleConfig,
    state: ScheduleState | None,
    now: float,
    looking_since: float,
    grace: float = defaults.SCHEDULE_MISFIRE_GRACE,
) -> Step | None:
    """The next step for ``schedule``, whose stored progress is ``state``, at ``now``, for a
    daemon looking since ``looking_since``; None when nothing is due. Pure: the loop and the
    tests call it with any clock."""
    timing = schedule.timing
    if state is None or state.timing != timing.key:
        return Step(timing.latest_at_or_before(now), enqueue=False, reason=START)
    upcoming = timing.next_after(state.last_due)
    if upcoming > now:
        return None
    cutoff = looking_since - grace
    if upcoming >= cutoff:
        return Step(upcoming, enqueue=True, reason=DUE)
    missed = timing.latest_at_or_before(min(cutoff, now))
    return Step(missed, enqueue=schedule.catch_up, reason=CATCH_UP if schedule.catch_up else MISSED)


def next_due(schedule: ScheduleConfig, state: ScheduleState | None, now: float) -> float:
    """When ``schedule`` is next due (in the past when no daemon has enqueued it yet)."""
    if state is None or state.timing != schedule.timing.key:
        return schedule.timing.next_after(now)
    return schedule.timing.next_after(state.last_due)


def listing_entry(
    schedule: ScheduleConfig, state: ScheduleState | None, last_status: str | None, now: float
) -> dict[str, Any]:
    """A schedule as GET /api/schedules, the CLI and the dashboard show it."""
    timing = schedule.timing
    last_run_due = state.last_run_due if state is not None else None
    return {
        "name": schedule.name,
        "task_type": schedule.task_type,
        "cron": timing.cron,
        "every": timing.every,
        "timezone": timing.timezone,
        "catch_up": schedule.catch_up,
        "enabled": schedule.enabled,
        "next_due": due_iso(next_due(schedule, state, now)) if schedule.enabled else None,
        "last_due": due_iso(last_run_due) if last_run_due is not None else None,
        "last_task_id": state.last_task_id if state is not None else None,
        "last_task_status": last_status,
        "runs": state.runs if state is not None else 0,
        "updated_at": iso(state.updated_at) if state is not None else None,
    }


class ScheduleRunner(Periodic):
    """Enqueues the due runs of ``schedules`` (the enabled ones) until stopped."""

    name = "schedules"
    eager = True

    def __init__(
        self,
        schedules: Sequence[ScheduleConfig],
        queue: TaskQueue,
        make_task: Callable[[ScheduleConfig, str], NewTask],
        enqueued: Callable[[NewTask, str, float], None],
        metrics: DaemonMetrics,
        *,
        clock: Callable[[], float] = time.time,
        grace: float = defaults.SCHEDULE_MISFIRE_GRACE,
    ) -> None:
        self._schedules = [schedule for schedule in schedules if schedule.enabled]
        self._queue = queue
        self._make_task = make_task
        self._enqueued = enqueued
        self._metrics = metrics
        self._clock = clock
        self._grace = grace
        self._wake = 0.0
        #: When this daemon's first successful pass (since it started or its database came
        #: back) began: due times before it, less the grace, were missed.
        self._looking_since: float | None = None
        #: Why the last pass failed (the database is unreachable), or None.
        self.last_error: str | None = None

    def pause(self) -> float:
        """Until the next due time, bounded so that the loop follows other daemons and the
        wall clock; never zero (a pass that found nothing to do does not spin)."""
        return min(max(self._wake - self._clock(), defaults.SCHEDULE_MIN_PAUSE), defaults.SCHEDULE_MAX_SLEEP)

    async def run_once(self) -> None:
        """One pass; a failure is logged (once per outage) and tried again soon."""
        try:
            self._wake = await self._pass()
        except Exception as exc:
            if self.last_error is None:
                log.warning(
                    "cannot enqueue periodic tasks: %s; trying again every %g s",
                    exc,
                    defaults.SCHEDULE_RETRY_DELAY,
                )
            self.last_error = str(exc) or type(exc).__name__
            # Runs due while the database was out of reach count as missed (see catch_up).
            self._looking_since = None
            self._wake = self._clock() + defaults.SCHEDULE_RETRY_DELAY
            return
        if self.last_error is not None:
            log.info("periodic tasks are enqueued again")
            self.last_error = None

    async def _pass(self) -> float:
        """Move every schedule on; the next time one is due."""
        states = await self._queue.schedule_states()
        if self._looking_since is None:
            self._looking_since = self._clock()
        wake = self._clock() + defaults.SCHEDULE_MAX_SLEEP
        for schedule in self._schedules:
            state = await self._advance(schedule, states.get(schedule.name), self._looking_since)
            wake = min(wake, next_due(schedule, state, self._clock()))
        return wake

    async def _advance(
        self, schedule: ScheduleConfig, state: ScheduleState | None, looking_since: float
    ) -> ScheduleState | None:
        """Take the steps due for one schedule; its state afterwards, as far as this daemon knows."""
        for _ in range(defaults.SCHEDULE_STEPS_PER_PASS):
            now = self._clock()
            step = plan(schedule, state, now, looking_since, self._grace)
            if step is None:
                break
            task = self._make_task(schedule, run_key(schedule.name, step.due)) if step.enqueue else None
            advance = await self._queue.advance_schedule(
                state, name=schedule.name, timing=schedule.timing.key, due=step.due, task=task, now=now
            )
            if not advance.won:  # another daemon moved it first: go on from where it is now
                state = (await self._queue.schedule_states()).get(schedule.name)
                continue
            self._report(schedule, step, task, advance.task_id, created=advance.created, now=now)
            runs = (state.runs if state else 0) + (1 if task is not None else 0)
            state = ScheduleState(schedule.name, schedule.timing.key, step.due, runs=runs, updated_at=now)
        return state

    def _report(
        self,
        schedule: ScheduleConfig,
        step: Step,
        task: NewTask | None,
        task_id: str | None,
        *,
        created: bool,
        now: float,
    ) -> None:
        due = due_iso(step.due)
        if task is not None and task_id is not None:
            self._metrics.schedule_runs.labels(schedule.name).inc()
            if created:
                self._enqueued(task, task_id, now)
        if step.reason == START:
            log.info(
                "schedule %s (%s) starts from now: first run at %s",
                schedule.name,
                schedule.timing.key,
                due_iso(schedule.timing.next_after(step.due)),
            )
        elif step.reason == CATCH_UP:
            log.info(
                "schedule %s: the run due at %s was missed; enqueued now (catch_up) as %s",
                schedule.name,
                due,
                task_id,
            )
        elif step.reason == MISSED:
            log.info(
                "schedule %s: the run due at %s was missed; skipped (catch_up = false)", schedule.name, due
            )
        else:
            log.debug("schedule %s: enqueued the run due at %s as %s", schedule.name, due, task_id)
