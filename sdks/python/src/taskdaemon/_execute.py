"""Execute one task: call its handler, make a result of whatever happens, encode the line.

The one path shared by `run()` (for each task line) and `taskdaemon.testing.call()`: sync and
async handlers, the task's events while it is in hand, exceptions, odd return values, and
results JSON cannot carry. Which function serves the task is `_dispatch`'s answer.
"""

from __future__ import annotations

import asyncio
import inspect
import sys
import threading
import traceback as traceback_module
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from taskdaemon._encode import encode_event, encode_result
from taskdaemon._results import Error, Success
from taskdaemon._task import connect_events

if TYPE_CHECKING:
    from types import TracebackType

    from taskdaemon._dispatch import Dispatcher, HandlerFunction
    from taskdaemon._task import Task

#: Receives each encoded line (an event or a result) for the protocol channel.
LineWriter = Callable[[bytes], None]

#: Runs an awaitable to completion and returns its value (one event loop per `run()`).
AwaitableRunner = Callable[[Awaitable[Any]], Any]

#: What a sync handler returns: no need to ask whether it is awaitable.
_PLAIN_RETURNS = (Success, Error, type(None))

#: Exceptions that ask the whole program to stop: the task is answered, then they go on.
STOPPING_EXCEPTIONS = (SystemExit, KeyboardInterrupt)


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
    run_awaitable: AwaitableRunner,
) -> Executed:
    """Call the handler on `task`, sending its events to `write_event`; return the result line.

    Never raises for anything the handler does: every outcome becomes a result. SystemExit and
    KeyboardInterrupt are answered too, and handed back in `Executed.stop` for the caller.
    """
    function = dispatcher.function_for(task.task_type)
    if isinstance(function, Error):
        result: Success | Error = function
        stop: BaseException | None = None
    else:
        gate = _EventGate(write_event, task.task_id)
        connect_events(task, gate.emit)
        try:
            result, stop = _call(function, task, run_awaitable)
        finally:
            gate.close()
    line, carried = encode_result(result, task.task_id)
    return Executed(line, carried, stop)


def _call(
    function: HandlerFunction,
    task: Task,
    run_awaitable: AwaitableRunner,
) -> tuple[Success | Error, BaseException | None]:
    """Return the handler's result for `task`, and the stopping exception it raised (or None)."""
    try:
        returned = function(task)
        # The type test first: inspect.isawaitable costs more than the rest of a no-op task.
        if type(returned) not in _PLAIN_RETURNS and inspect.isawaitable(returned):
            returned = run_awaitable(returned)
    except STOPPING_EXCEPTIONS as exc:
        return _error_from_exception(exc), exc
    except BaseException as exc:  # noqa: BLE001 - every failure of user code becomes an answer
        # Exception, plus asyncio.CancelledError and GeneratorExit: the loop goes on.
        return _error_from_exception(exc), None
    return _result_from_return(returned), None


def _error_from_exception(exc: BaseException) -> Error:
    message = str(exc) or type(exc).__name__
    formatted = "".join(
        traceback_module.format_exception(type(exc), exc, _user_frames(exc.__traceback__)),
    )
    return Error(
        _as_text(message),
        retryable=False,
        error_type=type(exc).__name__,
        traceback=_as_text(formatted),
    )


def _user_frames(tb: TracebackType | None) -> TracebackType | None:
    """Skip the frames of this package and of asyncio that lead to the handler's code."""
    while tb is not None and tb.tb_next is not None:
        module = tb.tb_frame.f_globals.get("__name__", "")
        if not module.startswith(("taskdaemon.", "asyncio.")):
            break
        tb = tb.tb_next
    return tb


def _as_text(text: str) -> str:
    # An exception's message may hold lone surrogates, which UTF-8 cannot carry; escape them
    # so the error still reaches the daemon with its message and traceback.
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _result_from_return(returned: object) -> Success | Error:
    if isinstance(returned, (Success, Error)):
        return returned
    if returned is None:
        return Success(None)
    return Error(
        f"the handler returned {type(returned).__name__}; return Success(...), Error(...) or None",
        retryable=False,
        error_type="InvalidReturn",
    )


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
