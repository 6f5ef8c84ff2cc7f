"""`run(handler)`: the loop that reads tasks from stdin and answers each on the protocol channel."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, BinaryIO

from taskdaemon._channel import ChannelClosedError, ProtocolChannel, protected_stdio
from taskdaemon._dispatch import Dispatcher, Handler
from taskdaemon._encode import encode_result
from taskdaemon._execute import EventLoopRunner, execute
from taskdaemon._parse import Malformed, parse_line
from taskdaemon._shutdown import Shutdown, StopReading

if TYPE_CHECKING:
    from taskdaemon._execute import LineWriter


def run(handler: Handler) -> None:
    """Serve tasks from stdin until EOF or SIGTERM, answering each on stdout; then return.

    `handler` is a function taking a `Task` and returning `Success`, `Error` or None (for
    `Success(None)`), an `async def` of the same shape, or a mapping from task_type to such
    functions. Tasks are handled one at a time, in order.

    While it runs, fd 1 and `sys.stdout` point at stderr, so print() and child processes can
    never write into the protocol stream; results and events go through a private copy of the
    real stdout. Likewise fd 0 points at /dev/null and tasks are read from a private copy of
    the real stdin, so a child process cannot swallow them. Everything is restored when run()
    returns.

    Returns at EOF on stdin, and on SIGTERM or SIGINT: at once when idle, or after answering
    the task in hand. A handler that raises SystemExit or KeyboardInterrupt gets its task
    answered with an error first; then the exception goes on, so `sys.exit(3)` exits with 3.
    """
    dispatcher = Dispatcher(handler)  # a malformed handler fails here, before any task
    shutdown = Shutdown()
    runner = EventLoopRunner()
    stop: BaseException | None = None
    with protected_stdio() as (stdin, channel), shutdown.installed():
        try:
            stop = _serve(dispatcher, stdin, channel, shutdown, runner)
        except ChannelClosedError as exc:
            sys.stderr.write(f"taskdaemon: stopping: {exc}\n")
        finally:
            runner.close()
    if stop is not None:
        raise stop


def _serve(
    dispatcher: Dispatcher,
    stdin: BinaryIO,
    channel: ProtocolChannel,
    shutdown: Shutdown,
    runner: EventLoopRunner,
) -> BaseException | None:
    """Answer lines until EOF or a stop; return an exception to re-raise, if any."""
    while True:
        try:
            with shutdown.idle():
                raw = stdin.readline()  # no length limit: a 64 MiB line is one line
        except StopReading:
            return None
        if not raw:
            return None  # EOF
        stop = _answer_line(raw, dispatcher, channel.write_line, runner)
        if stop is not None:
            return stop
        if shutdown.requested:
            return None  # the task in hand is answered: stop without reading another line


def _answer_line(
    raw: bytes,
    dispatcher: Dispatcher,
    write: LineWriter,
    runner: EventLoopRunner,
) -> BaseException | None:
    parsed = parse_line(raw)
    if parsed is None:
        return None  # a blank line gets no answer
    if isinstance(parsed, Malformed):
        line, _ = encode_result(parsed.error, parsed.task_id)
        write(line)
        return None
    executed = execute(dispatcher, parsed, write, runner)
    write(executed.line)
    return executed.stop
