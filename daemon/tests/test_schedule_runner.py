"""The schedule loop with its clock in the test's hands, on a real SQLite file (and the memory
queue): each due time enqueued once with its key, missed runs caught up once or skipped per
catch_up, changed definitions starting from now, two daemons never enqueuing one run twice, a
database error survived. Restarts are new runners on the same file."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from taskdaemond import defaults
from taskdaemond.metrics import DaemonMetrics
from taskdaemond.queue.base import TaskQueue
from taskdaemond.queue.memory import MemoryQueue
from taskdaemond.queue.models import NewTask
from taskdaemond.queue.schedule_state import ScheduleState
from taskdaemond.queue.sqlite import SqliteQueue
from taskdaemond.schedule_config import ScheduleConfig
from taskdaemond.schedule_runner import CATCH_UP, DUE, MISSED, START, ScheduleRunner, Step, plan
from taskdaemond.schedule_timing import Timing, run_key

T0 = 1_800_000_000.0  # a multiple of 60: every-minute due times fall on it
MINUTE = ScheduleConfig(name="minute", task_type="echo", timing=Timing(every=60), data={"n": 1})


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def runner(queue: TaskQueue, clock: Clock, *schedules: ScheduleConfig) -> ScheduleRunner:
    def make_task(schedule: ScheduleConfig, key: str) -> NewTask:
        return NewTask(schedule.task_type, '{"n":1}', 50, 3, idempotency_key=key)

    def enqueued(task: NewTask, task_id: str, now: float) -> None:
        return None

    return ScheduleRunner(
        list(schedules or [MINUTE]), queue, make_task, enqueued, DaemonMetrics(), clock=clock
    )


Factory = Callable[[], TaskQueue]


@pytest.fixture(params=["sqlite", "memory", "postgres"])
def make_queue(request: pytest.FixtureRequest, tmp_path: Path) -> Factory:
    """A new queue object on the test's one store at each call (the memory queue: the same one)."""
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else ""
    memory = MemoryQueue()

    def make() -> TaskQueue:
        if request.param == "memory":
            return memory
        if request.param == "postgres":
            from taskdaemond.queue.postgres import PostgresQueue

            return PostgresQueue(url)
        return SqliteQueue(tmp_path / "queue.db")

    return make


def run(make_queue: Factory, scenario: Callable[[TaskQueue], Awaitable[None]]) -> None:
    async def main() -> None:
        queue = make_queue()
        await queue.open()
        try:
            await scenario(queue)
        finally:
            await queue.close()

    asyncio.run(main())


async def run_keys(queue: TaskQueue) -> list[str]:
    page = await queue.list(status=None, task_type=None, limit=1000, cursor=None)
    return sorted(t.idempotency_key or "" for t in page.tasks)


def test_the_plan_starts_a_new_schedule_from_now() -> None:
    assert plan(MINUTE, None, T0 + 30, looking_since=T0) == Step(T0, enqueue=False, reason=START)


def test_the_plan_runs_each_due_time_after_the_daemon_started_looking() -> None:
    state = ScheduleState("minute", MINUTE.timing.key, T0)
    assert plan(MINUTE, state, T0 + 59, looking_since=T0) is None
    assert plan(MINUTE, state, T0 + 150, looking_since=T0) == Step(T0 + 60, enqueue=True, reason=DUE)
    # Missed before this daemon looked: the most recent missed run only, per catch_up.
    late = plan(MINUTE, state, T0 + 400, looking_since=T0 + 400)
    assert late == Step(T0 + 360, enqueue=True, reason=CATCH_UP)
    skip = ScheduleConfig(name="minute", task_type="echo", timing=Timing(every=60), catch_up=False)
    assert plan(skip, state, T0 + 400, looking_since=T0 + 400) == Step(T0 + 360, enqueue=False, reason=MISSED)


def test_each_due_time_is_enqueued_once_with_its_key(make_queue: Factory) -> None:
    async def scenario(queue: TaskQueue) -> None:
        clock = Clock(T0 + 10)
        loop = runner(queue, clock)
        await loop.run_once()  # starts from now: nothing yet
        assert await run_keys(queue) == []
        assert loop.pause() == defaults.SCHEDULE_MAX_SLEEP  # due in 50 s: the sleep is bounded
        clock.now = T0 + 45
        await loop.run_once()
        assert loop.pause() == pytest.approx(15)  # until the due time
        clock.now = T0 + 60.2
        await loop.run_once()
        await loop.run_once()  # again at the same moment: nothing new
        clock.now = T0 + 185  # the loop woke late: both due times are its own
        await loop.run_once()
        assert await run_keys(queue) == [run_key("minute", T0 + 60 * k) for k in (1, 2, 3)]
        state = (await queue.schedule_states())["minute"]
        assert (state.last_due, state.last_run_due, state.runs) == (T0 + 180, T0 + 180, 3)

    run(make_queue, scenario)


@pytest.mark.parametrize("catch_up", [True, False])
def test_a_restart_after_missed_runs_catches_up_once_or_skips(make_queue: Factory, catch_up: bool) -> None:
    async def scenario(queue: TaskQueue) -> None:
        schedule = ScheduleConfig(name="minute", task_type="echo", timing=Timing(every=60), catch_up=catch_up)
        clock = Clock(T0 + 10)
        first = runner(queue, clock, schedule)
        await first.run_once()
        clock.now = T0 + 60.1
        await first.run_once()
        before = (await queue.schedule_states())["minute"]
        # No daemon up for five due times; a new one (a restart) starts 20 s after the last.
        clock.now = T0 + 6 * 60 + 20
        await runner(queue, clock, schedule).run_once()
        after = (await queue.schedule_states())["minute"]
        assert after.last_due == T0 + 360
        if catch_up:
            assert await run_keys(queue) == [run_key("minute", T0 + 60), run_key("minute", T0 + 360)]
            assert (after.runs, after.last_run_due) == (2, T0 + 360)
        else:
            assert await run_keys(queue) == [run_key("minute", T0 + 60)]
            assert (after.runs, after.last_task_id) == (1, before.last_task_id)

    run(make_queue, scenario)


def test_a_changed_definition_starts_from_now(make_queue: Factory) -> None:
    async def scenario(queue: TaskQueue) -> None:
        clock = Clock(T0 + 10)
        await runner(queue, clock).run_once()
        clock.now = T0 + 60.1
        await runner(queue, clock).run_once()
        hourly = ScheduleConfig(name="minute", task_type="echo", timing=Timing(cron="0 * * * *"))
        clock.now = T0 + 3 * 3600
        await runner(queue, clock, hourly).run_once()  # no catch-up for the old definition's ticks
        assert await run_keys(queue) == [run_key("minute", T0 + 60)]
        state = (await queue.schedule_states())["minute"]
        assert state.timing == hourly.timing.key and state.last_due <= clock.now

    run(make_queue, scenario)


def test_two_daemons_enqueue_each_due_time_once(make_queue: Factory) -> None:
    async def main() -> None:
        one, two = make_queue(), make_queue()
        await one.open()
        if two is not one:
            await two.open()
        try:
            clock = Clock(T0 + 10)
            a, b = runner(one, clock), runner(two, clock)
            for step in range(1, 30):
                clock.now = T0 + 10 + step * 20
                await asyncio.gather(a.run_once(), b.run_once())
            keys = await run_keys(one)
            assert keys == [run_key("minute", T0 + 60 * k) for k in range(1, 10)]
            assert (await one.schedule_states())["minute"].runs == 9
        finally:
            await one.close()
            if two is not one:
                await two.close()

    asyncio.run(main())


def test_a_removed_schedule_leaves_its_row_harmless(make_queue: Factory) -> None:
    async def scenario(queue: TaskQueue) -> None:
        clock = Clock(T0 + 10)
        await runner(queue, clock).run_once()
        other = ScheduleConfig(name="other", task_type="echo", timing=Timing(every=60))
        clock.now = T0 + 600.5
        await runner(queue, clock, other).run_once()
        assert set(await queue.schedule_states()) == {"minute", "other"}
        assert await run_keys(queue) == []

    run(make_queue, scenario)


def test_the_loop_survives_a_database_error_and_goes_on(tmp_path: Path, caplog: Any) -> None:
    path = tmp_path / "queue.db"

    async def main() -> None:
        queue = SqliteQueue(path)
        await queue.open()
        try:
            clock = Clock(T0 + 10)
            loop = runner(queue, clock)
            await loop.run_once()
            with sqlite3.connect(path) as db:  # the table is gone: every pass fails
                db.execute("ALTER TABLE schedules RENAME TO schedules_away")
            clock.now = T0 + 60.1
            await loop.run_once()
            assert loop.last_error is not None and "cannot enqueue periodic tasks" in caplog.text
            assert loop.pause() == pytest.approx(defaults.SCHEDULE_RETRY_DELAY)
            with sqlite3.connect(path) as db:
                db.execute("ALTER TABLE schedules_away RENAME TO schedules")
            clock.now = T0 + 62
            await loop.run_once()
            assert loop.last_error is None
            # The run due during the outage counts as missed: caught up once (catch_up is true).
            assert await run_keys(queue) == [run_key("minute", T0 + 60)]
        finally:
            await queue.close()

    asyncio.run(main())


def test_the_loop_sleeps_until_the_next_due_time_and_stops_cleanly(make_queue: Factory) -> None:
    async def scenario(queue: TaskQueue) -> None:
        clock = Clock(T0 + 10)
        loop = runner(queue, clock)
        loop.start()
        await asyncio.wait_for(_until_started(queue), 10)
        assert loop.pause() == pytest.approx(defaults.SCHEDULE_MAX_SLEEP)  # next due in 50 s: bounded
        await asyncio.wait_for(loop.stop(), 5)

    run(make_queue, scenario)


async def _until_started(queue: TaskQueue) -> None:
    for _ in range(500):
        if "minute" in await queue.schedule_states():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the loop's first pass did not start the schedule")
