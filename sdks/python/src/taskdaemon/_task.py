"""The task a handler receives, the checks on its fields, and the events it can emit."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, NamedTuple

#: Log levels of a `log` event, lowest first (protocol section 5).
LOG_LEVELS = ("debug", "info", "warning", "error")

#: Where a task's events go: a function given each event message as a dict.
EventSink = Callable[[dict[str, Any]], None]


class Problem(NamedTuple):
    """What is wrong with a field: the exception class a constructor raises, and the message."""

    kind: type[Exception]
    message: str


def json_type_name(value: object) -> str:
    """Name the JSON type of a decoded value ("array", not "list"), for error messages."""
    names: list[tuple[type, str]] = [
        (bool, "boolean"),  # before int: bool is a subclass of int
        (int, "integer"),
        (float, "number"),
        (str, "string"),
        (list, "array"),
        (tuple, "array"),
        (dict, "object"),
    ]
    if value is None:
        return "null"
    for python_type, name in names:
        if isinstance(value, python_type):
            return name
    return type(value).__name__


def _text_problem(name: str, value: object) -> Problem | None:
    if not isinstance(value, str):
        return Problem(TypeError, f"{name} must be a string, got {json_type_name(value)}")
    if not value:
        return Problem(ValueError, f"{name} must not be empty")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        # A JSON "\ud800" escape decodes to a lone surrogate: not text, and impossible to echo.
        return Problem(ValueError, f"{name} must be valid Unicode text, got a lone surrogate")
    return None


def task_id_problem(value: object) -> Problem | None:
    """Say what is wrong with a task_id (a non-empty string of valid Unicode), or None."""
    return _text_problem("task_id", value)


def task_type_problem(value: object) -> Problem | None:
    """Say what is wrong with a task_type (a non-empty string of valid Unicode), or None."""
    return _text_problem("task_type", value)


def task_data_problem(value: object) -> Problem | None:
    """Say what is wrong with task_data (an object), or None."""
    if not isinstance(value, dict):
        return Problem(TypeError, f"task_data must be an object, got {json_type_name(value)}")
    return None


def tags_problem(value: object) -> Problem | None:
    """Say what is wrong with tags (an object whose values are strings), or None."""
    if not isinstance(value, dict):
        return Problem(TypeError, f"tags must be an object, got {json_type_name(value)}")
    for key, tag in value.items():
        if not isinstance(tag, str):
            return Problem(TypeError, f"tags[{key!r}] must be a string, got {json_type_name(tag)}")
    return None


def dependencies_problem(value: object) -> Problem | None:
    """Say what is wrong with a task line's dependencies, or None (protocol section 3.1).

    An object of name to an object with task_id, task_type and result.
    """
    if not isinstance(value, dict):
        return Problem(TypeError, f"dependencies must be an object, got {json_type_name(value)}")
    for name, entry in value.items():
        where = f"dependencies[{name!r}]"
        if not isinstance(entry, dict):
            return Problem(TypeError, f"{where} must be an object, got {json_type_name(entry)}")
        for member in ("task_id", "task_type", "result"):
            if member not in entry:
                return Problem(TypeError, f"{where}.{member} is missing")
        problem = _text_problem(f"{where}.task_id", entry["task_id"]) or _text_problem(
            f"{where}.task_type", entry["task_type"]
        )
        if problem is not None:
            return problem
    return None


def dependencies_from_value(value: dict[str, Any]) -> dict[str, Dependency]:
    """Build the dependencies of a Task from a task line's checked `dependencies` object."""
    return {
        name: Dependency(entry["task_id"], entry["task_type"], entry["result"])
        for name, entry in value.items()
    }


def attempt_problem(value: object) -> Problem | None:
    """Say what is wrong with an attempt (an integer >= 0, never a boolean), or None."""
    if isinstance(value, bool) or not isinstance(value, int):
        shown = f" {value!r}" if isinstance(value, float) else ""
        return Problem(TypeError, f"attempt must be an integer, got {json_type_name(value)}{shown}")
    if value < 0:
        return Problem(ValueError, f"attempt must be >= 0, got {value}")
    return None


def _raise_if(problem: Problem | None) -> None:
    if problem is not None:
        raise problem.kind(problem.message)


@dataclass(frozen=True)
class Dependency:
    """A task this task waited for, and the result it completed with (protocol section 3.1).

    `result` is the `result` of the dependency's success, any JSON value (None when its handler
    returned nothing).
    """

    task_id: str
    task_type: str
    result: Any = None

    def __post_init__(self) -> None:
        """Reject fields the protocol does not allow."""
        _raise_if(task_id_problem(self.task_id))
        _raise_if(task_type_problem(self.task_type))


#: The dependencies of a task that has none: one shared, read-only, empty mapping.
NO_DEPENDENCIES: Mapping[str, Dependency] = MappingProxyType({})


def _freeze_dependencies(value: object) -> Mapping[str, Dependency]:
    """Check the dependencies given to Task (names to Dependency objects); return a read-only copy."""
    if not isinstance(value, Mapping):
        msg = f"dependencies must be a mapping of name to Dependency, got {type(value).__name__}"
        raise TypeError(msg)
    for name, dependency in value.items():
        if not isinstance(name, str):
            msg = f"dependencies names must be strings, got {type(name).__name__}"
            raise TypeError(msg)
        if not isinstance(dependency, Dependency):
            msg = f"dependencies[{name!r}] must be a Dependency, got {type(dependency).__name__}"
            raise TypeError(msg)
    return MappingProxyType(dict(value))


@dataclass(frozen=True)
class Task:
    """One unit of work, as the daemon sent it.

    `attempt` is zero-based: the first run is 0, the first retry 1. `tags` are the submitter's
    labels for the task (string to string; empty when it has none). `dependencies` are the tasks
    this one waited for, by name (a workflow step's name, else the dependency's task_id), each a
    `Dependency` holding its result; a read-only mapping, empty when the task has none.

    `log()` and `progress()` send events to the daemon while the handler works. A Task built by
    hand (in a unit test), or copied with `dataclasses.replace()`, has nowhere to send them: its
    events are checked, then dropped. Use `taskdaemon.testing.call()` to run a handler and see
    its events.
    """

    task_id: str
    task_type: str
    task_data: dict[str, Any]
    attempt: int = 0
    tags: dict[str, str] = field(default_factory=dict)
    dependencies: Mapping[str, Dependency] = field(default_factory=lambda: NO_DEPENDENCIES)
    # Where events go: set by connect_events() for the task being executed, never by the caller.
    _emit: EventSink | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Reject fields the protocol does not allow."""
        if self.dependencies is not NO_DEPENDENCIES:
            # The one write to a frozen Task's own field: a read-only copy of what the caller gave.
            object.__setattr__(self, "dependencies", _freeze_dependencies(self.dependencies))
        if _plainly_valid(self.task_id, self.task_type, self.task_data, self.attempt) and not self.tags:
            return
        _raise_if(task_id_problem(self.task_id))
        _raise_if(task_type_problem(self.task_type))
        _raise_if(task_data_problem(self.task_data))
        _raise_if(attempt_problem(self.attempt))
        _raise_if(tags_problem(self.tags))

    def log(self, message: str, level: str = "info") -> None:
        """Send a log line about this task to the daemon, at once (before the result).

        `level` is one of "debug", "info", "warning", "error".
        """
        if not isinstance(message, str):
            msg = f"message must be a str, got {type(message).__name__}"
            raise TypeError(msg)
        if level not in LOG_LEVELS:
            msg = f"level must be one of {', '.join(LOG_LEVELS)}; got {level!r}"
            raise ValueError(msg)
        self._send({"event": "log", "task_id": self.task_id, "level": level, "message": message})

    def progress(self, fraction: float, message: str | None = None) -> None:
        """Tell the daemon how far this task has got: `fraction` from 0 (nothing) to 1 (all)."""
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)):
            msg = f"fraction must be a number from 0 to 1, got {type(fraction).__name__}"
            raise TypeError(msg)
        if not (math.isfinite(fraction) and 0 <= fraction <= 1):
            msg = f"fraction must be a number from 0 to 1, got {fraction!r}"
            raise ValueError(msg)
        if message is not None and not isinstance(message, str):
            msg = f"message must be a str or None, got {type(message).__name__}"
            raise TypeError(msg)
        event: dict[str, Any] = {"event": "progress", "task_id": self.task_id, "progress": fraction}
        if message is not None:
            event["message"] = message
        self._send(event)

    def _send(self, event: dict[str, Any]) -> None:
        if self._emit is not None:
            self._emit(event)


def _plainly_valid(task_id: object, task_type: object, task_data: object, attempt: object) -> bool:
    """Accept the everyday task in a few cheap tests; anything else goes through the full checks.

    Every task run() reads is built here, so this is on the per-task path. ASCII text can hold no
    lone surrogate (and `str.isascii()` costs nothing on CPython); exact types leave out bool.
    """
    return (
        type(task_id) is str
        and task_id != ""
        and task_id.isascii()
        and type(task_type) is str
        and task_type != ""
        and task_type.isascii()
        and type(task_data) is dict
        and type(attempt) is int
        and attempt >= 0
    )


def connect_events(task: Task, sink: EventSink) -> None:
    """Send the events of `task` to `sink` from now on (run() and call() do, for the task in hand).

    Not a constructor parameter: whoever builds a Task gives only the protocol's fields; the
    executor connects the task it is about to hand to a handler.
    """
    # The one write to a frozen Task, to a field outside its equality, hash and repr.
    object.__setattr__(task, "_emit", sink)
