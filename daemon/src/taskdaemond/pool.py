"""A warm pool of handler instances for one task type.

Each instance has a slot with its own worker coroutine. A task handed to the pool is written
at once to an instance with room, chosen by the selection strategy: an idle one first, else
(with ``prefetch`` above 1) behind the tasks another already holds. The worker runs the
instance's tasks in the order they were written, reports each outcome, and replaces the
instance when it crashed, timed out, fell out of step, or answered ``max_tasks_per_instance``
tasks; the tasks written behind the one in hand then never started, and go back to the queue
unchanged. Restarts after failures wait longer each time (the crash-loop guard), so a broken
handler cannot spin the CPU.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from taskdaemond import defaults
from taskdaemond.config import HandlerConfig, command_warning
from taskdaemond.queue.models import ClaimedTask
from taskdaemond.runtime import Crashed, HandlerInstance, InstanceFate, Outcome, launch_spec
from taskdaemond.runtime.container import describe_exit
from taskdaemond.runtime.outcomes import CANCELLED, INTERRUPTED, Aborted

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

    def returned(self, task_type: str, tasks: list[ClaimedTask]) -> None:
        """Tasks written to an instance behind the one in hand never started (the instance
        crashed, timed out, was replaced or stopped): back to the queue, unchanged."""


class SlotState(StrEnum):
    STARTING = "starting"
    IDLE = "idle"
    BUSY = "busy"
    RESTARTING = "restarting"
    STOPPED = "stopped"


class _Restart:
    """Mailbox item: the idle instance died, replace it."""


class _Wake:
    """Mailbox item: tasks were written to the idle instance, run them."""


_RESTART = _Restart()
_WAKE = _Wake()


@dataclass
class Slot:
    index: int
    state: SlotState = SlotState.STARTING
    instance: HandlerInstance | None = None
    mailbox: asyncio.Queue[_Wake | _Restart | None] = field(default_factory=asyncio.Queue)
    worker: asyncio.Task[None] | None = None
    #: Tasks written to the instance and not yet answered, in the order written: the first is
    #: the task in hand, the others wait behind it in the pipe (at most ``prefetch`` in all).
    written: deque[ClaimedTask] = field(default_factory=deque)
    #: Tasks of ``written`` cancelled (or deleted) while waiting behind: already recorded, and
    #: when one's turn comes the instance is stopped before it gets far.
    dropped: set[str] = field(default_factory=set)
    #: Task lines written to the current instance (``max_tasks_per_instance`` bounds them).
    lines_written: int = 0
    #: The instance is being stopped (a cancel, shutdown): it takes no more tasks.
    closing: bool = False
    consecutive_failures: int = 0
    restarts: int = 0
    tasks_run: int = 0
    last_exit_code: int | None = None
    last_error: str | None = None  # why the last instance ended or failed to start, stderr included
    next_start_at: float | None = None

    @property
    def task(self) -> ClaimedTask | None:
        """The task in hand, if any."""
        return self.written[0] if self.written else None


def restart_delay(consecutive_failures: int) -> float:
    """Seconds before restarting an instance that failed this many times in a row."""
    if consecutive_failures <= 0:
        return 0.0
    exponent = min(consecutive_failures - 1, 32)
    return float(min(defaults.RESTART_DELAY_INITIAL * 2**exponent, defaults.RESTART_DELAY_MAX))


class HandlerPool:
    """``handler.instances`` instances of one handler: one task in hand each, and up to
    ``handler.prefetch - 1`` more written behind it."""

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
        #: Room at which a busy instance is written more tasks (see _top_up): half its prefetch.
        self._refill_at = max(1, handler.prefetch // 2)
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
        slot.lines_written = 0
        slot.closing = False
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

    @property
    def room(self) -> int:
        """How many more tasks the pool's instances can be written now (each up to prefetch)."""
        return sum(self._room(slot) for slot in self.slots)

    def _room(self, slot: Slot) -> int:
        """How many more task lines ``slot``'s instance takes now: up to ``prefetch`` unanswered,
        and no more than its ``max_tasks_per_instance`` allows before it is recycled."""
        if slot.state not in (SlotState.IDLE, SlotState.BUSY) or slot.closing or self._stopping:
            return 0
        room = self.handler.prefetch - len(slot.written)
        limit = self.handler.max_tasks_per_instance
        if limit is not None:
            room = min(room, limit - slot.lines_written)
        return max(0, room)

    def _pick(self) -> Slot | None:
        """An idle instance by the selection strategy; else, every one busy, the one holding
        the fewest tasks among those with room (only with prefetch above 1)."""
        idle = self._pick_idle()
        if idle is not None or self.handler.prefetch == 1:
            return idle
        roomy = [slot for slot in self.slots if self._room(slot)]
        return min(roomy, key=lambda slot: len(slot.written)) if roomy else None

    def _pick_idle(self) -> Slot | None:
        strategy = self.handler.handler_selection
        if strategy == "random":
            idle = [slot for slot in self.slots if slot.state is SlotState.IDLE and self._room(slot)]
            return random.choice(idle) if idle else None
        start = self._next if strategy == "round-robin" else 0
        for offset in range(self.size):
            slot = self.slots[(start + offset) % self.size]
            if slot.state is SlotState.IDLE and self._room(slot):
                self._next = (slot.index + 1) % self.size
                return slot
        return None

    def dispatch(self, task: ClaimedTask) -> bool:
        """Write ``task`` to an instance with room picked by the selection strategy; False if none."""
        slot = self._pick()
        if slot is None:
            return False
        self._write(slot, task)
        if slot.state is SlotState.IDLE:
            slot.state = SlotState.BUSY
            slot.mailbox.put_nowait(_WAKE)
        return True

    def _write(self, slot: Slot, task: ClaimedTask) -> None:
        instance = slot.instance
        assert instance is not None
        slot.written.append(task)
        slot.lines_written += 1
        instance.write_task(task.id, task.data_json, task.attempt, task.tags_json, task.dependencies_json)

    def abort(self, task_id: str, reason: str) -> bool:
        """Stop ``task_id``. In hand: its instance is stopped and its outcome becomes
        Aborted(reason). Written behind another: its line cannot be taken back, so it is
        reported Aborted(reason) now, and the instance is stopped when its turn comes."""
        for slot in self.slots:
            for position, task in enumerate(slot.written):
                if task.id != task_id or task_id in slot.dropped:
                    continue
                if position == 0:
                    if slot.instance is None:
                        return False
                    slot.closing = True
                    slot.instance.abort(reason)
                else:
                    slot.dropped.add(task_id)
                    self._feed.finished(task, Aborted(reason), 0.0)
                return True
        return False

    def running_task_ids(self) -> list[str]:
        """The tasks this pool holds: in hand, or written behind (not those dropped)."""
        return [task.id for slot in self.slots for task in slot.written if task.id not in slot.dropped]

    def in_hand_count(self) -> int:
        """How many instances have a task in hand."""
        return sum(1 for slot in self.slots if slot.written)

    # -- the worker of one slot ------------------------------------------------------

    async def _work(self, slot: Slot) -> None:
        while True:
            item = await slot.mailbox.get()
            if item is None:
                return
            if isinstance(item, _Restart):
                await self._replace(slot, failed=True)
                continue
            while slot.written and await self._run_next(slot):
                pass

    async def _run_next(self, slot: Slot) -> bool:
        """Run the task in hand (the oldest written) to its outcome; True while the instance
        goes on with the tasks written behind it, False once it is idle or being replaced."""
        instance = slot.instance
        assert instance is not None
        task = slot.written[0]
        if task.id in slot.dropped:
            # Cancelled while it waited behind: the handler has just read it. Stop the instance
            # before it gets far; the cancel is recorded already.
            slot.written.popleft()
            slot.dropped.discard(task.id)
            slot.closing = True
            instance.abort(CANCELLED)
            self._return_behind(slot)
            await self._replace(slot, failed=False)
            return False
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
        slot.written.popleft()
        goes_on = outcome.fate is InstanceFate.KEEP and not slot.closing and not self._stopping
        if goes_on:
            # The handler starts on the next task while this outcome is recorded.
            self._top_up(slot)
        self._feed.finished(task, outcome, time.monotonic() - started)
        if outcome.answered:
            slot.consecutive_failures = 0
        if goes_on and slot.written:
            return True
        # The tasks behind never started: they go back (a crash, a timeout, a replacement, shutdown).
        self._return_behind(slot)
        if outcome.fate is InstanceFate.REPLACE_AFTER_FAILURE:
            if isinstance(outcome, Crashed):
                slot.last_exit_code = outcome.exit_code
            slot.last_error = outcome.message
            slot.consecutive_failures += 1
            await self._replace(slot, failed=True)
        elif outcome.fate is InstanceFate.REPLACE or slot.closing:
            await self._replace(slot, failed=False)
        elif self._due_for_recycling(instance):
            log.info("%s: answered %d tasks; recycling it", instance.name, instance.tasks_answered)
            await self._replace(slot, failed=False)
        else:
            slot.state = SlotState.IDLE
            self._freed()
        return False

    def _return_behind(self, slot: Slot) -> None:
        """Give back the tasks written behind the task in hand: they never started."""
        behind = [task for task in slot.written if task.id not in slot.dropped]
        slot.written.clear()
        slot.dropped.clear()
        if behind:
            log.info(
                "%s-%d: %d tasks written behind the one in hand never started; back to the queue",
                self.task_type,
                slot.index,
                len(behind),
            )
            self._feed.returned(self.task_type, behind)

    def _due_for_recycling(self, instance: HandlerInstance) -> bool:
        limit = self.handler.max_tasks_per_instance
        return limit is not None and instance.tasks_answered >= limit

    def _top_up(self, slot: Slot) -> None:
        """After an answer, write the next tasks to this instance until it holds ``prefetch``
        of them: only while no instance is idle (an idle one is fed first, by the selection
        strategy, through the dispatcher), so this is the instance any strategy would pick
        (no round trip through the dispatcher).

        An instance still holding half its prefetch is left alone: refilled later, several lines
        at once, they go to the handler in one write instead of one write per answer."""
        if slot.written and self._room(slot) < self._refill_at:
            return
        while self._room(slot) and not self.idle_count:
            following = self._feed.next_task(self.task_type)
            if following is None:
                if slot.written:
                    # Room left but nothing buffered: the claim loop fills it (an idle
                    # instance would wake it by freeing itself; this one is still busy).
                    self._feed.freed(self.task_type)
                return
            self._write(slot, following)

    async def _replace(self, slot: Slot, *, failed: bool) -> None:
        """Stop the slot's instance and start a new one, after the crash-loop delay if failed."""
        slot.state = SlotState.RESTARTING
        self._return_behind(slot)
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
        """Interrupt the tasks in hand, stop every instance, end every worker. The tasks written
        behind those in hand never started: they go back to the queue unchanged."""
        self._stopping = True
        self._stop_event.set()
        for slot in self.slots:
            if slot.task is not None and slot.instance is not None:
                slot.closing = True
                slot.instance.abort(INTERRUPTED, term_grace=defaults.HANDLER_TERM_GRACE)
        for slot in self.slots:
            slot.mailbox.put_nowait(None)
        workers = [slot.worker for slot in self.slots if slot.worker is not None]
        await asyncio.gather(*workers, return_exceptions=True)
        await asyncio.gather(*(slot.instance.stop() for slot in self.slots if slot.instance is not None))
        for slot in self.slots:
            self._return_behind(slot)  # a worker that ended before its instance answered
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
            "prefetch": self.handler.prefetch,
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
                    "written_ahead": max(0, len(s.written) - 1),
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
