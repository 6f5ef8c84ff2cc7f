"""SIGTERM and SIGINT: stop at once when idle, or after answering the task in hand.

Protocol section 9. A signal handler only sets a flag while a task runs; while the loop waits for
a line it raises `StopReading` to leave the blocking read, since nothing is in hand.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import TYPE_CHECKING, Any, Callable, Union

if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import FrameType

_SignalHandler = Union[Callable[[int, "FrameType | None"], Any], int, signal.Handlers, None]


class StopReading(BaseException):
    """Raised by the signal handler while the loop is waiting for a line.

    A BaseException, so that no `except Exception` can swallow it.
    """


class _Idle:
    """The context of `Shutdown.idle()`.

    A plain class: the loop enters it once per line, and a generator-based context manager costs
    more than the read itself for small tasks.
    """

    __slots__ = ("_shutdown",)

    def __init__(self, shutdown: Shutdown) -> None:
        """Mark `shutdown` idle while the context is entered."""
        self._shutdown = shutdown

    def __enter__(self) -> None:
        self._shutdown._enter_idle()  # noqa: SLF001 - the two classes are one mechanism

    def __exit__(self, *exc_info: object) -> None:
        self._shutdown._leave_idle()  # noqa: SLF001


class Shutdown:
    """Tracks whether a stop was requested and whether the loop is idle."""

    def __init__(self) -> None:
        """Start with no stop requested and the loop busy."""
        self.requested = False
        self._idle = False
        self._idle_context = _Idle(self)

    def request(self, signum: int, frame: FrameType | None) -> None:  # noqa: ARG002 - signal API
        """Signal handler: note the request; leave the read at once when idle."""
        self.requested = True
        if self._idle:
            raise StopReading

    def idle(self) -> _Idle:
        """Mark the time spent waiting for a line; a stop requested before it stops here."""
        return self._idle_context

    def _enter_idle(self) -> None:
        self._idle = True
        # Checked after marking idle: a signal before this line set `requested`, a signal
        # after it raises StopReading. Either way none is missed.
        if self.requested:
            self._idle = False
            raise StopReading

    def _leave_idle(self) -> None:
        self._idle = False

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """Install the handler for SIGTERM and SIGINT; put the previous handlers back after.

        Signal handlers can only be set from the main thread; elsewhere the signals keep their
        previous behaviour. SIGINT is left alone when it is ignored (a background job).
        """
        previous: dict[signal.Signals, _SignalHandler] = {}
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                current = signal.getsignal(signum)
                if signum == signal.SIGINT and current == signal.SIG_IGN:
                    continue
                previous[signum] = signal.signal(signum, self.request)
        try:
            yield
        finally:
            for signum, handler in previous.items():
                # None means the handler was set outside Python; the default is the best guess.
                signal.signal(signum, signal.SIG_DFL if handler is None else handler)
