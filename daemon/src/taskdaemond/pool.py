"""A warm pool of handler instances for one task type.

Each instance has a slot with its own worker coroutine: the scheduler hands a task to a
free slot chosen by the selection strategy; the worker runs it, reports the outcome, and
replaces the instance when it crashed, timed out, fell out of step, or answered
``max_tasks_per_instance`` tasks. Restarts after failures wait longer each time (the
crash-loop guard), so a broken handler cannot spin the CPU.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from taskdaemond import defaults
from taskdaemond.config import HandlerConfig, command_warning
from taskdaemond.queue.models import ClaimedTask
from taskdaemond.runtime import Crashed, HandlerInstance, InstanceFate, Outcome, launch_spec
from taskdaemond.runtime.container import describe_exit
from taskdaemond.runtime.outcomes import INTERRUPTED

log = logging.getLogger("taskdaemond.pool")


class PoolFeed(Protocol):
    """How a pool reports up to whoever feeds it (the dispatcher): its one interface."""

    def next_task(self, task_type: str) -> ClaimedTask | None:
        """A task for an instance that just answered, when one is ready; else None."""

    def finished(self, task: ClaimedTask, outcome: Outcome, duration: float) -> None:
        """An attempt ended (``duration`` in seconds)."""

    def event(self, task: ClaimedTask, message: dict[str, Any]) -> None:
        """The handler sent a log or progress event for the task in hand."""

    def freed(self, task_type: str) -> None:
        """An instance became free for a task."""


class SlotState(StrEnum):
    STARTING = "starting"
    IDLE = "idle"
    BUSY = "busy"
    RESTARTING = "restarting"
    STOPPED = "stopped"


class _Restart:
    """Mailbox item: the idle instance died, replace it."""


_RESTART = _Restart()


@dataclass
class Slot:
    index: int
    state: SlotState = SlotState.STARTING
    instance: HandlerInstance | None = None
    mailbox: asyncio.Queue[ClaimedTask | _Restart | None] = field(default_factory=asyncio.Queue)
    worker: asyncio.Task[None] | None = None
    task: ClaimedTask | None = None
    consecutive_failures: int = 0
    restarts: int = 0
    tasks_run: int = 0
    last_exit_code: int | None = None
    last_error: str | None = None  # why the last instance ended or failed to start, stderr included
    next_start_at: float | None = None


def restart_delay(consecutive_failures: int) -> float:
    """Seconds before restarting an instance that failed this many times in a row."""
    if consecutive_failures <= 0:
        return 0.0
    exponent = min(consecutive_failures - 1, 32)
    return float(min(defaults.RESTART_DELAY_INITIAL * 2**exponent, defaults.RESTART_DELAY_MAX))


class HandlerPool:
    """``handler.instances`` instances of one handler, one task in flight each."""

    def __init__(
        self,
        handler: HandlerConfig,
        *,
        feed: PoolFeed,
        daemon_id: str,
        engine_executable: str | None = None,
    ) -> None:
        self.handler = handler
        self.task_type = handler.task_type
        self._feed = feed
        self._daemon_id = daemon_id
        self._engine_executable = engine_executable
        self.slots = [Slot(index) for index in range(handler.instances)]
        self._next = 0  # round-robin position
        self._stopping = False
        self._stop_event = asyncio.Event()
        self._changed = asyncio.Event()
        self._watchers: set[asyncio.Task[None]] = set()

    @property
    def size(self) -> int:
        return len(self.slots)

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Start every instance (concurrently) and its worker. A handler that cannot start
        leaves its slot restarting with the crash-loop delay; start itself does not fail."""
        warning = command_warning(self.handler)
        if warning is not None:
            log.warning("%s", warning)
        await asyncio.gather(*(self._start_instance(slot) for slot in self.slots))
        for slot in self.slots:
            slot.worker = asyncio.create_task(self._work(slot), name=f"worker-{self.task_type}-{slot.index}")

    async def _start_instance(self, slot: Slot) -> bool:
        spec = launch_spec(self.handler, slot.index, self._daemon_id, self._engine_executable)
        instance = HandlerInstance(spec, self.task_type)
        slot.state = SlotState.STARTING
        try:
            await instance.start()
        except OSError as exc:
            log.error("%s: cannot start handler %s: %s", spec.name, spec.argv, exc)
            slot.last_error = f"cannot start {spec.argv[0]!r}: {exc}"
            slot.consecutive_failures += 1
            slot.state = SlotState.RESTARTING
            slot.mailbox.put_nowait(_RESTART)
            return False
        slot.instance = instance
        slot.state = SlotState.IDLE
        watcher = asyncio.create_task(self._watch(slot, instance), name=f"watch-{spec.name}")
        self._watchers.add(watcher)
        watcher.add_done_callback(self._watchers.discard)
        self._freed()
        return True

    async def _watch(self, slot: Slot, instance: HandlerInstance) -> None:
        """Notice an idle instance that exits (e.g. a handler that dies at start)."""
        code = await instance.wait()
        if slot.instance is instance and slot.state is SlotState.IDLE and not self._stopping:
            slot.last_exit_code = code
            slot.consecutive_failures += 1
            slot.state = SlotState.RESTARTING  # before the await below: no task is dispatched to it
            # A container engine that refused to start the container exits here: its stderr says why.
            why = describe_exit(code, await instance.stderr_tail(), container=instance.spec.container)
            log.warning("%s: %s, while idle; restarting", instance.name, why)
            slot.last_error = why
            slot.mailbox.put_nowait(_RESTART)

    def _freed(self) -> None:
        self._changed.set()
        self._feed.freed(self.task_type)

    # -- dispatch --------------------------------------------------------------------

    @property
    def idle_count(self) -> int:
        return sum(1 for slot in self.slots if slot.state is SlotState.IDLE)

    def _pick(self) -> Slot | None:
        strategy = self.handler.handler_selection
        if strategy == "random":
            idle = [slot for slot in self.slots if slot.state is SlotState.IDLE]
            return random.choice(idle) if idle else None
        start = self._next if strategy == "round-robin" else 0
        for offset in range(self.size):
            slot = self.slots[(start + offset) % self.size]
            if slot.state is SlotState.IDLE:
                self._next = (slot.index + 1) % self.size
                return slot
        return None

    def dispatch(self, task: ClaimedTask) -> bool:
        """Hand ``task`` to a free instance picked by the selection strategy; False if none."""
        slot = self._pick()
        if slot is None:
            return False
        slot.state = SlotState.BUSY
        slot.task = task
        slot.mailbox.put_nowait(task)
        return True

    def abort(self, task_id: str, reason: str) -> bool:
        """Stop the instance running ``task_id``; its outcome becomes Aborted(reason)."""
        for slot in self.slots:
            if slot.task is not None and slot.task.id == task_id and slot.instance is not None:
                slot.instance.abort(reason)
                return True
        return False

    def running_task_ids(self) -> list[str]:
        return [slot.task.id for slot in self.slots if slot.task is not None]

    # -- the worker of one slot ------------------------------------------------------

    async def _work(self, slot: Slot) -> None:
        while True:
            item = await slot.mailbox.get()
            if item is None:
                return
            if isinstance(item, _Restart):
                await self._replace(slot, failed=True)
                continue
            task: ClaimedTask | None = item
            while task is not None:
                task = await self._run(slot, task)

    async def _run(self, slot: Slot, task: ClaimedTask) -> ClaimedTask | None:
        """Run ``task``; return the next task this instance should run at once, if any."""
        instance = slot.instance
        assert instance is not None
        started = time.monotonic()
        outcome: Outcome
        try:
            outcome = await instance.run(
                task.id,
                task.data_json,
                task.attempt,
                self.handler.timeout,
                lambda message: self._feed.event(task, message),
                tags_json=task.tags_json,
                dependencies_json=task.dependencies_json,
            )
        except Exception as exc:  # a bug of ours must not lose the task: it is retried
            log.exception("%s: running task %s failed", instance.name, task.id)
            outcome = Crashed(f"HandlerCrashed: the daemon could not run the task: {exc!r}")
            instance.abort("crashed")
        slot.tasks_run += 1
        slot.task = None
        following = self._following(instance, outcome)
        if following is not None:
            # The handler starts on the next task while this outcome is recorded.
            slot.task = following
            instance.send_ahead(
                following.id,
                following.data_json,
                following.attempt,
                following.tags_json,
                following.dependencies_json,
            )
        self._feed.finished(task, outcome, time.monotonic() - started)
        if outcome.answered:
            slot.consecutive_failures = 0
        if following is not None:
            return following
        if outcome.fate is InstanceFate.REPLACE_AFTER_FAILURE:
            if isinstance(outcome, Crashed):
                slot.last_exit_code = outcome.exit_code
            slot.last_error = outcome.message
            slot.consecutive_failures += 1
            await self._replace(slot, failed=True)
        elif outcome.fate is InstanceFate.REPLACE:
            await self._replace(slot, failed=False)
        elif self._due_for_recycling(instance):
            log.info("%s: answered %d tasks; recycling it", instance.name, instance.tasks_answered)
            await self._replace(slot, failed=False)
        else:
            slot.state = SlotState.IDLE
            self._freed()
        return None

    def _due_for_recycling(self, instance: HandlerInstance) -> bool:
        limit = self.handler.max_tasks_per_instance
        return limit is not None and instance.tasks_answered >= limit

    def _following(self, instance: HandlerInstance, outcome: Outcome) -> ClaimedTask | None:
        """The task this instance takes at once after ``outcome``: only when the instance is
        healthy, not due for recycling, and every other instance is busy, so that it is the
        one any selection strategy would pick (no round trip through the dispatcher)."""
        if (
            outcome.fate is not InstanceFate.KEEP
            or self._stopping
            or self.idle_count
            or self._due_for_recycling(instance)
        ):
            return None
        return self._feed.next_task(self.task_type)

    async def _replace(self, slot: Slot, *, failed: bool) -> None:
        """Stop the slot's instance and start a new one, after the crash-loop delay if failed."""
        slot.state = SlotState.RESTARTING
        old, slot.instance = slot.instance, None
        if old is not None:
            await old.stop()
        if self._stopping:
            slot.state = SlotState.STOPPED
            return
        delay = restart_delay(slot.consecutive_failures) if failed else 0.0
        if delay:
            log.warning(
                "%s-%d: restarting in %.1f s (%d failures in a row)",
                self.task_type,
                slot.index,
                delay,
                slot.consecutive_failures,
            )
            slot.next_start_at = time.time() + delay
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop_event.wait(), delay)
            slot.next_start_at = None
            if self._stopping:
                slot.state = SlotState.STOPPED
                return
        slot.restarts += 1
        await self._start_instance(slot)

    # -- shutdown --------------------------------------------------------------------

    async def wait_idle(self, timeout: float) -> bool:
        """Wait until no task is in flight, at most ``timeout`` seconds; True if none is."""
        deadline = time.monotonic() + timeout
        while any(slot.task is not None for slot in self.slots):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, defaults.SHUTDOWN_POLL_INTERVAL))
        return True

    async def stop(self) -> None:
        """Interrupt tasks still in flight, stop every instance, end every worker."""
        self._stopping = True
        self._stop_event.set()
        for slot in self.slots:
            if slot.task is not None and slot.instance is not None:
                slot.instance.abort(INTERRUPTED, term_grace=defaults.HANDLER_TERM_GRACE)
        for slot in self.slots:
            slot.mailbox.put_nowait(None)
        workers = [slot.worker for slot in self.slots if slot.worker is not None]
        await asyncio.gather(*workers, return_exceptions=True)
        await asyncio.gather(*(slot.instance.stop() for slot in self.slots if slot.instance is not None))
        for slot in self.slots:
            slot.instance = None
            slot.state = SlotState.STOPPED
        for watcher in list(self._watchers):
            watcher.cancel()
        await asyncio.gather(*self._watchers, return_exceptions=True)

    # -- state -----------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """The pool as /health shows it."""
        crash_looping = any(s.consecutive_failures >= defaults.CRASH_LOOP_THRESHOLD for s in self.slots)
        return {
            "instances": self.size,
            "idle": sum(1 for s in self.slots if s.state is SlotState.IDLE),
            "active": sum(1 for s in self.slots if s.state is SlotState.BUSY),
            "restarting": sum(1 for s in self.slots if s.state in (SlotState.RESTARTING, SlotState.STARTING)),
            "crash_loop": crash_looping,
            "slots": [
                {
                    "index": s.index,
                    "state": s.state.value,
                    "pid": s.instance.pid if s.instance is not None else None,
                    "name": s.instance.name if s.instance is not None else None,
                    "task_id": s.task.id if s.task is not None else None,
                    "tasks_run": s.tasks_run,
                    "restarts": s.restarts,
                    "consecutive_failures": s.consecutive_failures,
                    "last_exit_code": s.last_exit_code,
                    "last_error": s.last_error,
                    "next_start_in": (
                        round(max(0.0, s.next_start_at - time.time()), 3)
                        if s.next_start_at is not None
                        else None
                    ),
                }
                for s in self.slots
            ],
        }
