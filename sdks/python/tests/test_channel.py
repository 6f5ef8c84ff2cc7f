"""The protocol channel is set up by run() and fully restored when run() returns."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pysdk_support import ANSWER_TIMEOUT, CheckedHandlerProcess
from taskdaemon.testing import HandlerExited, task

if TYPE_CHECKING:
    from collections.abc import Callable

import pytest


def test_stdout_signals_and_stdin_are_restored_after_run(
    start_handler: Callable[..., CheckedHandlerProcess],
) -> None:
    handler = start_handler("restores.py")
    assert handler.answer(task("any", task_id="t")) == {
        "status": "success",
        "result": None,
        "task_id": "t",
    }
    handler.close_stdin()
    assert handler.wait(ANSWER_TIMEOUT) == 0
    with pytest.raises(HandlerExited):
        handler.read_message(ANSWER_TIMEOUT)
    assert handler.stray_lines == [
        "before run",
        "after run",
        "after run, fd 1",
        "SIGTERM handler restored: True",
        "stdin is the real one again: True",
    ]
    assert "during t" in handler.stderr_text
    assert "before run" not in handler.stderr_text
