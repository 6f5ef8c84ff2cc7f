"""Why a case failed: one exception per kind of failure, each holding the offending line and a hint.

A case is a conversation; each way it can go wrong raises one of these:

- the handler cannot be started, or ends before its first answer: `StartupFailed`;
- a line, a result or the exit is awaited longer than the case allows: `HandlerTimeout`;
- the handler exits (or is killed) too early, or with the wrong status: `UnexpectedExit`;
- it writes a line that is not a valid result or event: `InvalidResponse`;
- it writes valid messages, but not the ones expected (wrong value, task id, order, count): `Mismatch`.
"""

from __future__ import annotations

#: Characters of an offending line kept in a failure.
LINE_CHARS = 200


def shorten(line: str | None) -> str | None:
    """`line` cut to LINE_CHARS characters, saying how long it was."""
    if line is None or len(line) <= LINE_CHARS:
        return line
    return f"{line[:LINE_CHARS]}... ({len(line)} chars)"


class CaseFailed(Exception):  # noqa: N818 - each subclass is named for what happened
    """Base class: a case did not pass. `kind` names the subclass in reports."""

    kind = "CaseFailed"

    def __init__(self, message: str, *, line: str | None = None, hint: str = "") -> None:
        """Keep the one-line `message`, the offending stdout `line` (shortened) and a `hint`."""
        super().__init__(message)
        self.message = message
        self.line = shorten(line)
        self.hint = hint

    @property
    def reason(self) -> str:
        """The one-line reason shown in the matrix."""
        return f"{self.kind}: {self.message}"


class StartupFailed(CaseFailed):
    """The handler could not be started, or ended before its first answer."""

    kind = "StartupFailed"


class HandlerTimeout(CaseFailed):
    """Something awaited from the handler did not come within the case's time limit."""

    kind = "HandlerTimeout"


class UnexpectedExit(CaseFailed):
    """The handler exited before the expected output was complete, or with the wrong status."""

    kind = "UnexpectedExit"


class InvalidResponse(CaseFailed):
    """The handler wrote a stdout line that is not a valid result or event."""

    kind = "InvalidResponse"


class Mismatch(CaseFailed):
    """The handler's messages are valid but differ from the expected ones (or stderr lacks a text)."""

    kind = "Mismatch"


#: Every failure kind, by name (the report's `kind` values).
FAILURE_KINDS = {
    cls.kind: cls for cls in (StartupFailed, HandlerTimeout, UnexpectedExit, InvalidResponse, Mismatch)
}
