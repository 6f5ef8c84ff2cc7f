"""Test handlers without a daemon.

- `call(handler, task_data, ...)` runs a handler in-process on one task, exactly as `run()`
  would, and returns an `Outcome` (result, wire message, events, printed output).
- `HandlerProcess(argv)` starts a handler command over real pipes and talks the protocol to it:
  `send()`, `send_line()`, `send_bytes()`, `read_result()`, `terminate()`, `wait()`..., with a
  timeout on every wait.
- `task(task_type, task_data)` builds a task message to send.
"""

from __future__ import annotations

from taskdaemon._call import Outcome, call
from taskdaemon._process import HandlerProcess, task
from taskdaemon.exceptions import HandlerExited, HandlerTimeout

__all__ = ["HandlerExited", "HandlerProcess", "HandlerTimeout", "Outcome", "call", "task"]
