"""Group commits: outcomes and events gathered while the previous commit runs, written in one
transaction. A task counts as done only once its group is committed.

Under load a group also waits out the rest of a short window after the previous commit, so that
more outcomes join it; but only while more outcomes are on their way (tasks are running). The
last outcome of a burst, or a lone task on an idle daemon, is committed at once: the window was
once applied to it too, and held a one-task-at-a-time client's every result for about a
millisecond (half the submit-to-result latency)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

from taskdaemond import defaults
from taskdaemond.queue.base import TaskQueue
from taskdaemond.queue.models import TaskEvent, TaskRecord, Transition

log = logging.getLogger("taskdaemond.writer")


class GroupWriter:
    """Feeds TaskQueue.record with everything that piled up since its last call."""

    def __init__(
        self,
        queue: TaskQueue,
        on_committed: Callable[[Sequence[Transition]], None],
        on_events: Callable[[Sequence[TaskEvent]], None] | None = None,
        *,
        in_flight: Callable[[], int] | None = None,
        waited: Callable[[Sequence[Transition]], Sequence[str]] | None = None,
        on_records: Callable[[Sequence[TaskRecord]], None] | None = None,
    ) -> None:
        """``in_flight``: how many tasks are running now, whose outcomes may join the next group
        (none: commit at once, never wait out the window). ``waited``: the ids among a group's
        transitions that clients wait for; the queue reads their records right after the commit
        where that is cheap, and they go to ``on_records`` before ``on_committed`` is called."""
        self._queue = queue
        self._in_flight = in_flight
        self._waited = waited
        self._on_records = on_records
        self._on_committed = on_committed
        self._on_events = on_events
        self._transitions: list[Transition] = []
        self._events: list[TaskEvent] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._closing = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="group-writer")

    def add(self, transition: Transition) -> None:
        self._transitions.append(transition)
        self._idle.clear()
        self._wake.set()

    def add_event(self, event: TaskEvent) -> None:
        self._events.append(event)
        self._idle.clear()
        self._wake.set()

    async def _run(self) -> None:
        last_commit = -defaults.GROUP_COMMIT_WINDOW
        while True:
            await self._wake.wait()
            # Under load (the previous commit ended less than a window ago, and tasks are still
            # running) outcomes gather for the rest of the window; after a quiet spell, or when
            # nothing else is running, what is here is committed at once.
            pause = last_commit + defaults.GROUP_COMMIT_WINDOW - time.monotonic()
            if pause > 0 and not self._closing and self._more_coming():
                await asyncio.sleep(pause)
            self._wake.clear()
            if not self._transitions and not self._events:
                self._idle.set()
                if self._closing:
                    return
                continue
            transitions, self._transitions = self._transitions, []
            events, self._events = self._events, []
            wanted = self._waited(transitions) if self._waited is not None else ()
            records: Sequence[TaskRecord] = ()
            try:
                if wanted:
                    records = await self._queue.record_and_get(transitions, events, time.time(), wanted)
                else:
                    await self._queue.record(transitions, events, time.time())
                last_commit = time.monotonic()
            except Exception:
                # Nothing is lost: the tasks stay "processing" and run again, at the next start (SQLite)
                # or when their lease lapses (PostgreSQL).
                log.exception(
                    "could not record %d outcomes; they will run again "
                    "(after a restart, or once their lease lapses)",
                    len(transitions),
                )
                continue
            finally:
                self._wake.set()  # look again: more may have arrived meanwhile
            if records and self._on_records is not None:
                self._on_records(records)
            self._on_committed(transitions)
            if events and self._on_events is not None:
                self._on_events(events)

    def _more_coming(self) -> bool:
        """True while running tasks may add outcomes to the next group."""
        return self._in_flight is not None and self._in_flight() > 0

    async def flush(self) -> None:
        """Wait until everything added so far is committed."""
        if self._task is None:
            return
        self._wake.set()
        await self._idle.wait()

    async def close(self) -> None:
        """Commit what is left and stop."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
