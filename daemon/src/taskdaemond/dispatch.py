"""Claiming tasks and feeding the pools.

One dispatcher loop per task type claims due tasks in batches sized to the recent throughput,
holds them in a buffer, and hands them to free instances. An instance that just answered takes
the next buffered task itself (send-ahead: no round trip through the loop). Every attempt's
outcome comes back here through the ``PoolFeed`` interface and leaves as a ``Transition`` to
the group writer, decided by ``retries.decide``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from taskdaemond import defaults
from taskdaemond.config import DaemonSettings, HandlerConfig
from taskdaemond.metrics import DaemonMetrics
from taskdaemond.pool import HandlerPool
from taskdaemond.queue.base import QueueUnavailable, TaskQueue
from taskdaemond.queue.models import ClaimedTask, TaskEvent, Transition
from taskdaemond.retries import RetryPolicy, decide
from taskdaemond.runtime.outcomes import CANCELLED, Outcome
from taskdaemond.statuses import TaskStatus
from taskdaemond.writer import GroupWriter

log = logging.getLogger("taskdaemond.dispatch")


# -- claim sizing: pure arithmetic ---------------------------------------------------------


def claim_limit(rate: float, idle: int, batch_size: int) -> int:
    """Tasks to hold ready: one per idle instance plus ``CLAIM_AHEAD_SECONDS`` of recent work
    at ``rate`` tasks/s, at least 1 and at most ``batch_size``."""
    ahead = int(rate * defaults.CLAIM_AHEAD_SECONDS)
    return max(1, min(batch_size, idle + ahead))


def needs_claim(buffered: int, limit: int) -> bool:
    """True when the buffer has run below half of what it should hold."""
    return buffered < max(1, limit // 2)


def next_rate(rate: float, taken: int, elapsed: float) -> float:
    """The recent throughput after ``taken`` tasks started in ``elapsed`` seconds: an even
    blend of the old rate and the new measurement (unchanged when there is none)."""
    if elapsed <= 0 or not taken:
        return rate
    return 0.5 * rate + 0.5 * taken / elapsed


# -- the dispatcher ------------------------------------------------------------------------


class _TypeState:
    """The dispatcher's state for one task type."""

    def __init__(self, pool: HandlerPool, policy: RetryPolicy) -> None:
        self.pool = pool
        self.policy = policy
        self.buffer: deque[ClaimedTask] = deque()
        self.changed = asyncio.Event()
        self.due = 0.0  # claim no sooner than this (unless woken)
        self.rate = 0.0  # tasks/s, recent
        self.taken = 0  # tasks started since the last claim
        #: Submits claiming for this type in their own transaction, their tasks not yet taken:
        #: the claim loop waits for them (see Dispatcher.reserve).
        self.handovers = 0


class Dispatcher:
    """Claims tasks for every configured type and runs them in the pools (a ``PoolFeed``)."""

    def __init__(
        self,
        settings: DaemonSettings,
        handlers: Mapping[str, HandlerConfig],
        queue: TaskQueue,
        writer: GroupWriter,
        metrics: DaemonMetrics,
        *,
        daemon_id: str,
        engine_executable: str | None = None,
    ) -> None:
        self._settings = settings
        self._queue = queue
        self._writer = writer
        self._metrics = metrics
        self._types = {
            task_type: _TypeState(
                HandlerPool(handler, feed=self, daemon_id=daemon_id, engine_executable=engine_executable),
                RetryPolicy(handler.backoff, handler.requeue_on_interrupt),
            )
            for task_type, handler in handlers.items()
        }
        self.pools = {task_type: state.pool for task_type, state in self._types.items()}
        self._loops: list[asyncio.Task[None]] = []
        self._releases: set[asyncio.Task[None]] = set()  # returned tasks on their way to pending
        self._stopping = False
        self._queue_down = False

    async def start(self) -> None:
        """Start every pool, then a claim loop per task type."""
        await asyncio.gather(*(pool.start() for pool in self.pools.values()))
        for task_type in self._types:
            self._loops.append(asyncio.create_task(self._claim_loop(task_type), name=f"dispatch-{task_type}"))

    # -- telling the dispatcher about work ------------------------------------------------

    def due(self, task_type: str, at: float) -> None:
        """Tasks of ``task_type`` may be claimable from ``at`` (a Unix time): look by then."""
        state = self._types.get(task_type)
        if state is not None:
            state.due = min(state.due, at)
            state.changed.set()

    def notify(self, task_type: str) -> None:
        """New work for ``task_type`` may be due: look at the queue now."""
        self.due(task_type, 0.0)

    def reserve(self, task_type: str) -> int:
        """How many tasks of ``task_type`` a submit should claim in its own transaction for this
        daemon to start at once: its idle instances (within the worker bound) that no buffered
        task is waiting for. A new task on an idle daemon then skips a trip through the claim
        loop and a claim of its own. When not 0, the submit must call ``take`` (with what it
        claimed, or nothing if it failed): until then the claim loop of the type does not claim,
        so that the tasks it would find behind the submit's never reach an instance first."""
        state = self._types.get(task_type)
        if state is None or self._stopping:
            return 0
        free = min(state.pool.idle_count, self._worker_bound() - self._busy())
        wanted = max(0, int(free) - len(state.buffer))
        if wanted:
            state.handovers += 1
        return wanted

    def take(self, task_type: str, tasks: Sequence[ClaimedTask]) -> list[ClaimedTask]:
        """Tasks a submit claimed for ``task_type`` after ``reserve``: started on idle instances
        at once (the rest buffered); the claim loop goes on. Returns those it cannot take because
        the dispatcher is stopping: the caller gives them back to the queue."""
        state = self._types[task_type]
        state.handovers -= 1
        state.changed.set()
        if self._stopping:
            return list(tasks)
        state.buffer.extend(tasks)
        self._start_buffered(state)
        return []

    def committed(self, transitions: Sequence[Transition]) -> None:
        """A retry is claimable only once its transition is committed: look for it then."""
        for transition in transitions:
            if transition.status is TaskStatus.PENDING and transition.task_type is not None:
                self.due(transition.task_type, transition.run_at or 0.0)

    # -- stopping one task ----------------------------------------------------------------

    def cancel(self, task_id: str) -> bool:
        """Cancel a task this daemon holds: one still buffered is recorded cancelled, one running
        has its instance stopped. False when this daemon does not hold it."""
        if self._take_buffered(task_id) is not None:
            self._writer.add(Transition(task_id, TaskStatus.CANCELLED))
            return True
        return self._abort(task_id, CANCELLED)

    def forget(self, task_id: str) -> None:
        """The task was deleted: drop it from a buffer, or stop the instance running it."""
        if self._take_buffered(task_id) is None:
            self._abort(task_id, CANCELLED)

    def _take_buffered(self, task_id: str) -> ClaimedTask | None:
        for state in self._types.values():
            for task in state.buffer:
                if task.id == task_id:
                    state.buffer.remove(task)
                    return task
        return None

    def _abort(self, task_id: str, reason: str) -> bool:
        return any(pool.abort(task_id, reason) for pool in self.pools.values())

    def held_task_ids(self) -> list[str]:
        """Tasks this daemon has claimed and not finished: buffered or running."""
        held = [task.id for state in self._types.values() for task in state.buffer]
        for pool in self.pools.values():
            held.extend(pool.running_task_ids())
        return held

    def pool_states(self) -> dict[str, dict[str, Any]]:
        return {task_type: pool.state() for task_type, pool in self.pools.items()}

    # -- PoolFeed: what the pools report ----------------------------------------------------

    def next_task(self, task_type: str) -> ClaimedTask | None:
        """The next claimed task, for an instance that just finished one (no round trip through
        the claim loop); wakes the loop when the buffer runs low."""
        state = self._types[task_type]
        # This instance is still counted busy, so the worker bound allows one more than "<".
        if self._stopping or not state.buffer or self._busy() > self._worker_bound():
            return None
        state.taken += 1
        task = state.buffer.popleft()
        if needs_claim(len(state.buffer), self._limit(state)):
            state.changed.set()
        return task

    def finished(self, task: ClaimedTask, outcome: Outcome, duration: float) -> None:
        """One attempt ended: observe its duration, decide what follows, hand it to the writer."""
        state = self._types[task.task_type]
        if outcome.measured:
            self._metrics.for_type(task.task_type).duration.observe(duration)
        transition = decide(task, outcome, state.policy, time.time())
        if transition.status is TaskStatus.PENDING and transition.run_at is not None:
            state.due = min(state.due, transition.run_at)
            state.changed.set()
        self._writer.add(transition)

    def event(self, task: ClaimedTask, message: dict[str, Any]) -> None:
        """A log or progress event, kept with the attempt it came from (the text logs' retry
        separators are drawn from it)."""
        self._writer.add_event(TaskEvent(task.id, time.time(), {**message, "attempt": task.attempt}))

    def freed(self, task_type: str) -> None:
        """An instance of ``task_type`` became free."""
        if self._settings.workers is None:
            self._types[task_type].changed.set()
        else:  # a freed worker may be the one another task type was waiting for
            for state in self._types.values():
                state.changed.set()

    def returned(self, task_type: str, tasks: list[ClaimedTask]) -> None:
        """Tasks written behind one in hand never started: pending again with the attempt they
        were claimed with uncounted and no error, as if never claimed (protocol section 10.2)."""
        release = asyncio.create_task(self._release(task_type, [task.id for task in tasks]))
        self._releases.add(release)
        release.add_done_callback(self._releases.discard)

    async def _release(self, task_type: str, task_ids: list[str]) -> None:
        try:
            await self._queue.release(task_ids)
        except QueueUnavailable as exc:  # a shared queue: the leases lapse and others take them
            log.warning("could not return %d unstarted tasks to pending: %s", len(task_ids), exc)
        except Exception:  # they are recovered at the next start
            log.exception("could not return %d unstarted tasks to pending", len(task_ids))
        self.notify(task_type)

    # -- the claim loop of one task type ----------------------------------------------------

    def _busy(self) -> int:
        return sum(pool.size - pool.idle_count for pool in self.pools.values())

    def _worker_bound(self) -> float:
        workers = self._settings.workers
        return float("inf") if workers is None else workers

    def _limit(self, state: _TypeState) -> int:
        # room: a task per idle instance, and per task an instance can take written ahead (prefetch)
        return claim_limit(state.rate, state.pool.room, self._settings.batch_size)

    def _start_buffered(self, state: _TypeState) -> None:
        """Hand buffered tasks to instances with room (idle ones first, then, with prefetch,
        behind the task in hand), within the worker bound."""
        while state.buffer and state.pool.room and not self._stopping and self._busy() < self._worker_bound():
            state.pool.dispatch(state.buffer.popleft())
            state.taken += 1

    async def _claim_loop(self, task_type: str) -> None:
        state = self._types[task_type]
        pool = state.pool
        last_claim = time.monotonic()
        while not self._stopping:
            self._start_buffered(state)
            if self._stopping:
                break
            now = time.time()
            limit = self._limit(state)
            if needs_claim(len(state.buffer), limit) and now >= state.due and not state.handovers:
                state.rate = next_rate(state.rate, state.taken, time.monotonic() - last_claim)
                last_claim, state.taken = time.monotonic(), 0
                state.changed.clear()
                wanted = limit - len(state.buffer)
                claimed = await self._claim(task_type, wanted, now)
                if claimed:
                    state.buffer.extend(claimed)
                    if len(claimed) < wanted and not state.changed.is_set():
                        # A short claim took every due task: the next one comes with a notify
                        # (a submit, a retry) or the poll, not from claiming again at once for
                        # nothing (that wasted claim delayed a lone task's result read).
                        state.due = max(state.due, now + defaults.QUEUE_POLL_INTERVAL)
                    continue
                state.rate = 0.0
                if not state.changed.is_set():  # else a submit during the claim brought tasks it did not see
                    state.due = max(state.due, now + defaults.QUEUE_POLL_INTERVAL)
            if state.buffer or not pool.room:
                timeout = defaults.QUEUE_POLL_INTERVAL  # a freed instance or a low buffer wakes us sooner
            else:
                timeout = max(0.001, state.due - time.time())  # or a notify
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(state.changed.wait(), timeout)
            state.changed.clear()

    async def _claim(self, task_type: str, wanted: int, now: float) -> list[ClaimedTask]:
        """Claim up to ``wanted`` tasks; none while the queue fails (said once per outage)."""
        try:
            claimed = await self._queue.claim(task_type, wanted, now)
        except QueueUnavailable as exc:
            if not self._queue_down:
                log.warning("claiming %s tasks failed; trying again shortly: %s", task_type, exc)
            self._queue_down = True
            return []
        except Exception:
            log.exception("claiming %s tasks failed; trying again shortly", task_type)
            return []
        self._queue_down = False
        self._metrics.claims.labels(task_type, "tasks" if claimed else "none").inc()
        return claimed

    # -- shutdown -----------------------------------------------------------------------------

    async def stop_claiming(self) -> list[str]:
        """Stop every claim loop; take back the tasks claimed but not started (their ids)."""
        self._stopping = True
        for state in self._types.values():
            state.changed.set()
        await asyncio.gather(*self._loops, return_exceptions=True)
        waiting = [task.id for state in self._types.values() for task in state.buffer]
        for state in self._types.values():
            state.buffer.clear()
        return waiting

    def running_count(self) -> int:
        """Tasks written to handlers and not answered: in hand or behind."""
        return sum(len(pool.running_task_ids()) for pool in self.pools.values())

    async def wait_idle(self, grace: float) -> None:
        """Let the tasks in flight finish, for at most ``grace`` seconds in all."""
        deadline = time.monotonic() + grace
        for pool in self.pools.values():
            await pool.wait_idle(max(0.0, deadline - time.monotonic()))

    async def stop_pools(self) -> int:
        """Stop every handler: a task in hand ends as interrupted, the tasks written behind it go
        back to pending. How many went back."""
        in_hand = sum(pool.in_hand_count() for pool in self.pools.values())
        held = self.running_count()
        await asyncio.gather(*(pool.stop() for pool in self.pools.values()))
        await asyncio.gather(*self._releases, return_exceptions=True)
        return held - in_hand
