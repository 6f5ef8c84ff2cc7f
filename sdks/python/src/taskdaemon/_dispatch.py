"""Which function serves a task: the handler given to `run()` or `call()`, checked once.

A handler is one function, or a mapping from task_type to functions. Its shape is checked when
`run()` or `call()` starts, so a mistake fails before any task; then each task's function is a
lookup. Calling it, and everything after, is `_execute`'s job.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any, Callable, Union

from taskdaemon._results import Error, HandlerResult
from taskdaemon._task import Task

#: A handler function: plain or `async def`, taking a Task and returning a result or None.
HandlerFunction = Callable[[Task], Union[HandlerResult, Awaitable[HandlerResult]]]

#: What `run()` accepts: one handler function, or a mapping from task_type to handler function.
Handler = Union[HandlerFunction, Mapping[str, HandlerFunction]]


class Dispatcher:
    """The handler, checked: gives the function for each task_type, or the error to answer."""

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

    def function_for(self, task_type: str) -> HandlerFunction | Error:
        """Return the function that serves `task_type`, or the UnknownTaskType error to answer."""
        if self._single is not None:
            return self._single
        function = self._by_type.get(task_type)
        if function is None:
            return _unknown_type(task_type, sorted(self._by_type))
        return function


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
