"""The pool of one task type: selection strategies, restarts, the crash-loop guard, recycling."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from taskdaemond.config import HandlerConfig
from taskdaemond.defaults import CRASH_LOOP_THRESHOLD
from taskdaemond.pool import HandlerPool, restart_delay
from taskdaemond.queue.models import ClaimedTask
from taskdaemond.runtime import Crashed, Outcome, Succeeded
from tests.helpers import handler_command

T = TypeVar("T")


class Recorder:
    """A PoolFeed that feeds nothing ahead and records every outcome."""

    def __init__(self) -> None:
        self.outcomes: list[tuple[str, Outcome]] = []
        self.returned_ids: list[str] = []
        self.changed = asyncio.Event()

    def next_task(self, task_type: str) -> ClaimedTask | None:
        return None

    def finished(self, task: ClaimedTask, outcome: Outcome, duration: float) -> None:
        self.outcomes.append((task.id, outcome))
        self.changed.set()

    def event(self, task: ClaimedTask, message: dict[str, Any]) -> None:
        pass

    def freed(self, task_type: str) -> None:
        pass

    def returned(self, task_type: str, tasks: list[ClaimedTask]) -> None:
        self.returned_ids.extend(task.id for task in tasks)
        self.changed.set()

    async def wait_for(self, count: int, timeout: float = 20) -> None:
        async with asyncio.timeout(timeout):
            while len(self.outcomes) < count:
                self.changed.clear()
                await self.changed.wait()


def task(n: int, data: str = '{"pid": true}') -> ClaimedTask:
    return ClaimedTask(f"t{n}", "t", data, 0, 3, 50, n)


def with_pool(config: HandlerConfig, scenario: Callable[[HandlerPool, Recorder], Awaitable[T]]) -> T:
    async def main() -> T:
        recorder = Recorder()
        pool = HandlerPool(config, feed=recorder, daemon_id="test")
        await pool.start()
        try:
            return await scenario(pool, recorder)
        finally:
            await pool.stop()

    return asyncio.run(main())


def behave(**settings: Any) -> HandlerConfig:
    return HandlerConfig(task_type="t", command=tuple(handler_command("behave")), **settings)


async def run_in_turn(pool: HandlerPool, recorder: Recorder, count: int) -> list[int]:
    """Dispatch ``count`` tasks one after another; the pid that answered each."""
    for n in range(count):
        async with asyncio.timeout(20):
            while not pool.idle_count:
                await asyncio.sleep(0.01)
        assert pool.dispatch(task(n))
        await recorder.wait_for(n + 1)
    pids = []
    for _, outcome in recorder.outcomes:
        assert isinstance(outcome, Succeeded)
        pids.append(outcome.result["pid"])
    return pids


def test_pool_starts_every_instance_warm() -> None:
    async def scenario(pool: HandlerPool, _: Recorder) -> dict[str, Any]:
        return pool.state()

    state = with_pool(behave(instances=3), scenario)
    assert (state["instances"], state["idle"], state["active"]) == (3, 3, 0)
    assert len({slot["pid"] for slot in state["slots"]}) == 3


def test_round_robin_takes_each_instance_in_turn() -> None:
    pids = with_pool(behave(instances=3), lambda p, r: run_in_turn(p, r, 6))
    assert pids[:3] == pids[3:] and len(set(pids)) == 3


def test_first_available_keeps_using_the_first_free_instance() -> None:
    pids = with_pool(
        behave(instances=3, handler_selection="first-available"), lambda p, r: run_in_turn(p, r, 4)
    )
    assert len(set(pids)) == 1


def test_random_selection_uses_only_free_instances() -> None:
    pids = with_pool(behave(instances=2, handler_selection="random"), lambda p, r: run_in_turn(p, r, 8))
    assert len(pids) == 8 and len(set(pids)) <= 2


def test_dispatch_refuses_when_every_instance_is_busy() -> None:
    async def scenario(pool: HandlerPool, recorder: Recorder) -> tuple[bool, bool]:
        first = pool.dispatch(task(1, '{"sleep": 0.5}'))
        second = pool.dispatch(task(2))
        await recorder.wait_for(1)
        return first, second

    assert with_pool(behave(instances=1), scenario) == (True, False)


def test_prefetch_lets_each_instance_take_that_many_tasks_written_ahead() -> None:
    async def scenario(pool: HandlerPool, recorder: Recorder) -> tuple[list[bool], list[str], int]:
        taken = [pool.dispatch(task(n, '{"sleep": 0.3}')) for n in range(7)]
        held = pool.running_task_ids()
        await recorder.wait_for(6)
        return taken, held, pool.room

    taken, held, room = with_pool(behave(instances=2, prefetch=3), scenario)
    assert taken == [True] * 6 + [False]
    assert sorted(held) == [f"t{n}" for n in range(6)]  # written ahead: held, so leases cover them
    assert room == 6


def test_prefetch_1_writes_nothing_ahead() -> None:
    async def scenario(pool: HandlerPool, recorder: Recorder) -> tuple[list[bool], int]:
        taken = [pool.dispatch(task(n, '{"sleep": 0.3}')) for n in range(3)]
        room = pool.room
        await recorder.wait_for(2)
        return taken, room

    assert with_pool(behave(instances=2), scenario) == ([True, True, False], 0)


def test_crashed_instance_is_replaced_and_the_pool_says_so() -> None:
    async def scenario(pool: HandlerPool, recorder: Recorder) -> tuple[Outcome, dict[str, Any]]:
        pool.dispatch(task(1, '{"crash_on_attempt": 0}'))
        await recorder.wait_for(1)
        async with asyncio.timeout(20):
            while not pool.idle_count:
                await asyncio.sleep(0.02)
        return recorder.outcomes[0][1], pool.state()["slots"][0]

    outcome, slot = with_pool(behave(instances=1), scenario)
    assert isinstance(outcome, Crashed) and outcome.exit_code == 3
    assert (slot["restarts"], slot["last_exit_code"], slot["state"]) == (1, 3, "idle")


def test_handler_that_exits_at_start_is_restarted_ever_more_slowly() -> None:
    async def scenario(pool: HandlerPool, _: Recorder) -> dict[str, Any]:
        async with asyncio.timeout(20):
            while pool.slots[0].consecutive_failures < CRASH_LOOP_THRESHOLD:
                await asyncio.sleep(0.05)
        return pool.state()

    config = HandlerConfig(task_type="t", command=tuple(handler_command("exit_at_start")), instances=1)
    state = with_pool(config, scenario)
    assert state["crash_loop"] is True
    assert state["idle"] == 0
    assert state["slots"][0]["last_exit_code"] == 1
    assert state["slots"][0]["restarts"] <= CRASH_LOOP_THRESHOLD


def test_restart_delay_grows_exponentially_to_a_cap() -> None:
    delays = [restart_delay(n) for n in range(12)]
    assert delays[0] == 0.0 and delays[1] == 0.1 and delays[2] == 0.2 and delays[3] == 0.4
    assert delays == sorted(delays) and delays[-1] == 30.0


def test_instance_is_recycled_after_max_tasks_per_instance() -> None:
    pids = with_pool(behave(instances=1, max_tasks_per_instance=2), lambda p, r: run_in_turn(p, r, 5))
    assert pids[0] == pids[1] != pids[2] == pids[3] != pids[4]


def test_stop_interrupts_the_task_in_flight_and_leaves_no_process() -> None:
    from tests.helpers import pid_alive

    async def main() -> tuple[list[tuple[str, Outcome]], list[int]]:
        recorder = Recorder()
        config = HandlerConfig(task_type="t", command=tuple(handler_command("hang")), instances=2)
        pool = HandlerPool(config, feed=recorder, daemon_id="test")
        await pool.start()
        pids = [slot.instance.pid for slot in pool.slots if slot.instance and slot.instance.pid]
        pool.dispatch(task(1, "{}"))
        async with asyncio.timeout(20):  # the handler has the task in hand
            while not any(slot.instance and slot.instance.current_task_id == "t1" for slot in pool.slots):
                await asyncio.sleep(0.01)
        await pool.stop()
        return recorder.outcomes, pids

    outcomes, pids = asyncio.run(main())
    from taskdaemond.runtime import Aborted

    assert outcomes == [("t1", Aborted("interrupted"))]
    assert len(pids) == 2 and not any(pid_alive(pid) for pid in pids)
