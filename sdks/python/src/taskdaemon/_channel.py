"""The protocol channels: private copies of stdin and stdout that only the SDK uses.

At start-up `run()` duplicates file descriptors 0 and 1 for itself, points fd 1 (and `sys.stdout`)
at stderr and fd 0 at /dev/null. From then on print(), C extensions and child processes all write
to stderr, so nothing but the SDK can write a line the daemon would read as a result (protocol
section 6); and no child process that reads its stdin can swallow the next task.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from collections.abc import Iterator

STDIN_FD = 0
STDOUT_FD = 1
STDERR_FD = 2


class ChannelClosedError(Exception):
    """Raised when the reader of the protocol channel has gone (a broken pipe)."""


class ProtocolChannel:
    """Writes whole lines to a file descriptor, one writer at a time, unbuffered."""

    def __init__(self, fd: int) -> None:
        """Write to `fd`; the caller owns it and closes it."""
        self._fd = fd
        # Events may come from a handler's own threads: a line is never interleaved with another.
        self._lock = threading.Lock()

    def write_line(self, line: bytes) -> None:
        """Write `line` completely (looping over partial writes); nothing is buffered."""
        with self._lock:
            try:
                written = os.write(self._fd, line)
                if written == len(line):
                    return  # the everyday case: one write took the whole line
                view = memoryview(line)[written:]
                while view:
                    written = os.write(self._fd, view)
                    view = view[written:]
            except BrokenPipeError as exc:
                msg = "the protocol channel (stdout) was closed by its reader"
                raise ChannelClosedError(msg) from exc


def _flush(stream: object) -> None:
    flush = getattr(stream, "flush", None)
    if flush is not None:
        with contextlib.suppress(Exception):
            flush()


@contextlib.contextmanager
def protected_stdio() -> Iterator[tuple[BinaryIO, ProtocolChannel]]:
    """Give a reader of the real stdin and a channel on the real stdout, hidden from all else.

    Meanwhile fd 1 and `sys.stdout` point at stderr, and fd 0 at /dev/null. Everything is
    restored on exit: fds 0 and 1 are the real ones again, `sys.stdout` the object it was.
    """
    original_stdout = sys.stdout
    _flush(original_stdout)  # what was printed before run() belongs to the real stdout
    # os.dup gives non-inheritable descriptors: child processes never get the private copies.
    protocol_in = os.dup(STDIN_FD)
    protocol_out = os.dup(STDOUT_FD)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, STDIN_FD)
    os.close(devnull)
    os.dup2(STDERR_FD, STDOUT_FD)
    if sys.stderr is not None:
        sys.stdout = sys.stderr
    reader = os.fdopen(protocol_in, "rb", closefd=False)
    try:
        yield reader, ProtocolChannel(protocol_out)
    finally:
        # Anything still buffered was written while fd 1 was stderr: it goes to stderr.
        _flush(sys.stdout)
        _flush(original_stdout)
        sys.stdout = original_stdout
        reader.close()
        os.dup2(protocol_in, STDIN_FD)
        os.close(protocol_in)
        os.dup2(protocol_out, STDOUT_FD)
        os.close(protocol_out)
