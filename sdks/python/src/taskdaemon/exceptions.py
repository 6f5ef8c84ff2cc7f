"""Exceptions raised by taskdaemon's own tools (never by a handler's result: see `Error`).

The handler process driver in `taskdaemon.testing` raises them while it talks to a handler:

- it waits for a line, or for the process to exit, longer than allowed: `HandlerTimeout`;
- the process exits (or closes its stdout) while a line is awaited: `HandlerExited`.
"""

from __future__ import annotations


class TaskDaemonError(Exception):
    """Base class of every exception taskdaemon raises (distinct from the `Error` result)."""


class HandlerTimeout(TaskDaemonError):  # noqa: N818 - named for what happened, like TimeoutError
    """Raised when a handler process does not answer or exit in time.

    `waited_for` says what was awaited, `timeout` for how long (seconds), and `stderr_tail` the
    end of what the handler wrote to stderr.
    """

    def __init__(self, waited_for: str, timeout: float, stderr_tail: str) -> None:
        """Keep what was awaited, how long, and the handler's last stderr output."""
        self.waited_for = waited_for
        self.timeout = timeout
        self.stderr_tail = stderr_tail
        super().__init__(
            f"timed out after {timeout:g} s waiting for {waited_for}; "
            f"handler stderr (tail):\n{stderr_tail or '(empty)'}",
        )


class HandlerExited(TaskDaemonError):  # noqa: N818 - named for what happened
    """Raised when a handler process exits, or closes its stdout, while a line is awaited.

    `returncode` is the exit status (None when the process still runs but closed its stdout;
    negative: killed by that signal), `stderr_tail` the end of its stderr.
    """

    def __init__(self, waited_for: str, returncode: int | None, stderr_tail: str) -> None:
        """Keep what was awaited, the exit status, and the handler's last stderr output."""
        self.waited_for = waited_for
        self.returncode = returncode
        self.stderr_tail = stderr_tail
        how = "closed its stdout" if returncode is None else f"exited with status {returncode}"
        super().__init__(
            f"the handler {how} while waiting for {waited_for}; "
            f"handler stderr (tail):\n{stderr_tail or '(empty)'}",
        )
