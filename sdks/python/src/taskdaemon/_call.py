"""`call()`: run a handler on one task in-process, exactly as `run()` would, for unit tests."""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from taskdaemon._dispatch import Dispatcher, Handler
from taskdaemon._execute import EventLoopRunner, execute
from taskdaemon._results import Error, Success
from taskdaemon._task import NO_DEPENDENCIES, Dependency, Task

if TYPE_CHECKING:
    from collections.abc import Mapping


@dataclass(frozen=True)
class Outcome:
    """What a handler did with one task.

    `result` is the answer sent (an UnserialisableResult `Error` when the handler's own result
    could not be encoded), `message` the result message exactly as `run()` writes it (decoded),
    `events` the log and progress events in order (decoded), `output` what the handler printed
    to `sys.stdout` during the call.
    """

    result: Success | Error
    message: dict[str, Any]
    events: list[dict[str, Any]]
    output: str

    @property
    def ok(self) -> bool:
        """True when the answer is a success."""
        return isinstance(self.result, Success)


def call(  # noqa: PLR0913 - the task's fields, keywords all but the data
    handler: Handler,
    task_data: dict[str, Any] | None = None,
    *,
    task_type: str = "test",
    task_id: str = "test-task",
    attempt: int = 0,
    tags: dict[str, str] | None = None,
    dependencies: Mapping[str, Dependency] | None = None,
) -> Outcome:
    """Run `handler` on one task built from the arguments; return what it answered.

    The same code as `run()` dispatches the task (mappings by `task_type`, `async def`
    handlers on an event loop), turns exceptions and odd return values into errors, and encodes
    the result, so the Outcome is what a daemon would receive. Differences: output printed to
    `sys.stdout` is captured into `Outcome.output` (output written straight to file descriptor 1
    is not), and a handler that raises SystemExit or KeyboardInterrupt gets its error Outcome
    instead of stopping the caller. Call it from synchronous code: an async handler gets its own
    event loop, which cannot run inside another.

    `dependencies` are what the task receives from the tasks it waited for, by name:
    `call(step, dependencies={"load": Dependency("t1", "fetch", {"rows": 42})})`.

    Invalid arguments (an empty task_id, task_data that is not a dict, a negative attempt) raise
    TypeError or ValueError, as `Task` does.
    """
    dispatcher = Dispatcher(handler)
    task = Task(
        task_id,
        task_type,
        {} if task_data is None else task_data,
        attempt,
        dict(tags or {}),
        NO_DEPENDENCIES if dependencies is None else dependencies,
    )
    events: list[dict[str, Any]] = []
    captured = io.StringIO()
    runner = EventLoopRunner()
    try:
        with contextlib.redirect_stdout(captured):
            executed = execute(
                dispatcher,
                task,
                lambda line: events.append(json.loads(line)),
                runner,
            )
    finally:
        runner.close()
    return Outcome(
        result=executed.result,
        message=json.loads(executed.line),
        events=events,
        output=captured.getvalue(),
    )
