"""Run one task through a handler and encode its result: shared by run() and testing.call()."""

from __future__ import annotations

import asyncio
import sys
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from taskdaemon._encode import encode_event, encode_result
from taskdaemon._task import checked_task

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from taskdaemon._dispatch import Dispatcher
    from taskdaemon._results import Error, Success
    from taskdaemon._task import Task

#: Receives each encoded line (an event or a result) for the protocol channel.
LineWriter = Callable[[bytes], None]


@dataclass(frozen=True)
class Executed:
    """A task's encoded result line, the result it carries, and an exception to re-raise after."""

    line: bytes
    result: Success | Error
    stop: BaseException | None


class _EventGate:
    """Passes a task's events to the channel while the task is in hand, and drops them after.

    The protocol forbids events for a task that was already answered (section 5); a thread the
    handler left running could still call task.log().
    """

    def __init__(self, write: LineWriter, task_id: str) -> None:
        self._write = write
        self._task_id = task_id
        self._open = True
        self._lock = threading.Lock()

    def emit(self, event: dict[str, Any]) -> None:
        line = encode_event(event)
        with self._lock:
            if self._open:
                self._write(line)
                return
        sys.stderr.write(
            f"taskdaemon: dropped an event for task {self._task_id!r}, already answered\n",
        )

    def close(self) -> None:
        with self._lock:
            self._open = False


def execute(
    dispatcher: Dispatcher,
    task: Task,
    write_event: LineWriter,
    run_awaitable: Callable[[Awaitable[Any]], Any],
) -> Executed:
    """Call the handler on `task`, sending its events to `write_event`; return the result line."""
    gate = _EventGate(write_event, task.task_id)
    # The task's fields were checked when it was built: bind the events without checking again.
    bound = checked_task(task.task_id, task.task_type, task.task_data, task.attempt, gate.emit)
    answer = dispatcher.answer(bound, run_awaitable)
    gate.close()
    line, carried = encode_result(answer.result, task.task_id)
    return Executed(line, carried, answer.stop)


class EventLoopRunner:
    """Runs the awaitables of async handlers on one event loop, created when first needed.

    One loop for the life of `run()`, so that an async handler may keep loop-bound resources
    (client sessions, pools) between tasks. Tasks still run strictly one at a time.
    """

    def __init__(self) -> None:
        """Create no loop yet: a sync handler never needs one."""
        self._loop: asyncio.AbstractEventLoop | None = None

    def __call__(self, awaitable: Awaitable[Any]) -> Any:
        """Run `awaitable` to completion on the loop and return its value."""
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        return self._loop.run_until_complete(awaitable)

    def close(self) -> None:
        """Cancel what the handlers left running, then close the loop (as asyncio.run does)."""
        loop, self._loop = self._loop, None
        if loop is None:
            return
        try:
            leftovers = asyncio.all_tasks(loop)
            for leftover in leftovers:
                leftover.cancel()
            if leftovers:
                loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()
