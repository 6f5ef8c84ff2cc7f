"""Call the user's handler on a task and turn whatever happens into a result.

This is the one code path shared by `run()` and `taskdaemon.testing.call()`: dispatch by
task_type, sync or async handlers, exceptions, and what the handler returned.
"""

from __future__ import annotations

import inspect
import traceback as traceback_module
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Union

from taskdaemon._results import Error, HandlerResult, Success
from taskdaemon._task import Task

if TYPE_CHECKING:
    from types import TracebackType

#: A handler function: plain or `async def`, taking a Task and returning a result or None.
HandlerFunction = Callable[[Task], Union[HandlerResult, Awaitable[HandlerResult]]]

#: What `run()` accepts: one handler function, or a mapping from task_type to handler function.
Handler = Union[HandlerFunction, Mapping[str, HandlerFunction]]

#: Runs an awaitable to completion and returns its value (one event loop per `run()`).
AwaitableRunner = Callable[[Awaitable[Any]], Any]

#: What a sync handler returns: no need to ask whether it is awaitable.
_PLAIN_RETURNS = (Success, Error, type(None))

#: Exceptions that ask the whole program to stop: the task is answered, then they go on.
STOPPING_EXCEPTIONS = (SystemExit, KeyboardInterrupt)


@dataclass(frozen=True)
class Answer:
    """The result for a task, and an exception to re-raise once it is sent (or None)."""

    result: Success | Error
    stop: BaseException | None = None


class Dispatcher:
    """Resolve the handler for each task and call it, never letting an exception escape."""

    def __init__(self, handler: Handler) -> None:
        """Check the handler's shape now, so a mistake fails at start-up, not on a task."""
        self._single: HandlerFunction | None = None
        self._by_type: dict[str, HandlerFunction] = {}
        if isinstance(handler, Mapping):
            self._by_type = _checked_mapping(handler)
        elif callable(handler):
            self._single = handler
        else:
            msg = (
                "handler must be a function taking a Task, or a mapping from task_type to such "
                f"a function; got {type(handler).__name__}"
            )
            raise TypeError(msg)

    def answer(self, task: Task, run_awaitable: AwaitableRunner) -> Answer:
        """Run the handler for `task` and return its result, whatever the handler does."""
        function = self._single if self._single is not None else self._by_type.get(task.task_type)
        if function is None:
            return Answer(_unknown_type(task.task_type, sorted(self._by_type)))
        try:
            returned = function(task)
            # The type test first: inspect.isawaitable costs more than the rest of a no-op task.
            if type(returned) not in _PLAIN_RETURNS and inspect.isawaitable(returned):
                returned = run_awaitable(returned)
        except STOPPING_EXCEPTIONS as exc:
            return Answer(_error_from_exception(exc), stop=exc)
        except BaseException as exc:  # noqa: BLE001 - every failure of user code becomes an answer
            # Exception, plus asyncio.CancelledError and GeneratorExit: the loop goes on.
            return Answer(_error_from_exception(exc))
        return Answer(_result_from_return(returned))


def _checked_mapping(handlers: Mapping[Any, Any]) -> dict[str, HandlerFunction]:
    if not handlers:
        msg = "the handler mapping is empty: map at least one task_type to a function"
        raise ValueError(msg)
    checked: dict[str, HandlerFunction] = {}
    for task_type, function in handlers.items():
        if not isinstance(task_type, str) or not task_type:
            msg = f"handler mapping keys must be non-empty task_type strings, got {task_type!r}"
            raise TypeError(msg)
        if not callable(function):
            msg = (
                f"the handler for task_type {task_type!r} must be a function taking a Task, "
                f"got {type(function).__name__}"
            )
            raise TypeError(msg)
        checked[task_type] = function
    return checked


def _unknown_type(task_type: str, known: list[str]) -> Error:
    listed = ", ".join(repr(name) for name in known)
    return Error(
        f"no handler for task_type {task_type!r}; this handler serves: {listed}",
        retryable=False,
        error_type="UnknownTaskType",
    )


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
