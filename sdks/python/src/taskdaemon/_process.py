"""`HandlerProcess`: drive a handler command over real pipes, with a deadline on every wait."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import threading
import time
import uuid
from typing import IO, TYPE_CHECKING, Any

from taskdaemon.exceptions import HandlerExited, HandlerTimeout

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from types import TracebackType

    from typing_extensions import Self

    from taskdaemon._task import Dependency

#: Seconds a write to the handler's stdin may block before HandlerTimeout.
DEFAULT_WRITE_TIMEOUT = 30.0
#: Characters of stderr quoted in HandlerTimeout and HandlerExited.
STDERR_TAIL_CHARS = 4000
#: Seconds to wait for the exit status after stdout closed, and for reader threads at the end.
_SETTLE_SECONDS = 5.0

_CLOSE = object()  # asks the writer thread to close stdin
_STOP = object()  # asks the writer thread to end


def task(
    task_type: str,
    task_data: Mapping[str, Any] | None = None,
    *,
    task_id: str | None = None,
    attempt: int = 0,
    dependencies: Mapping[str, Dependency] | None = None,
) -> dict[str, Any]:
    """Build a task message; `task_id` defaults to a fresh UUID.

    `dependencies` (by name) become the message's `dependencies` field, left out when there are
    none, as a daemon does.
    """
    message = {
        "task_id": str(uuid.uuid4()) if task_id is None else task_id,
        "task_type": task_type,
        "task_data": {} if task_data is None else dict(task_data),
        "attempt": attempt,
    }
    if dependencies:
        message["dependencies"] = {
            name: {"task_id": d.task_id, "task_type": d.task_type, "result": d.result}
            for name, d in dependencies.items()
        }
    return message


class _Write:
    """One request to the writer thread, and how it went."""

    def __init__(self, data: object) -> None:
        self.data = data
        self.done = threading.Event()
        self.error: BaseException | None = None


class HandlerProcess:
    """A handler command started with pipes on stdin, stdout and stderr.

    A thread reads each output stream and another writes stdin, so every method waits at most
    its `timeout` and then raises `HandlerTimeout`; a handler that exits (or closes stdout)
    while a line is awaited raises `HandlerExited`. Both carry the tail of the handler's stderr.
    Use it as a context manager: on exit the process is killed if it still runs, and reaped.

    Stdout lines that are not JSON objects are kept in `stray_lines` (as text), as are JSON
    objects with neither `status` nor `event` met by `read_result()`.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        cwd: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        write_timeout: float = DEFAULT_WRITE_TIMEOUT,
    ) -> None:
        """Start `argv` (no shell) in `cwd` with `env` (default: this process's environment)."""
        if isinstance(argv, (str, bytes)) or not argv:
            msg = f"argv must be a non-empty sequence of strings, got {argv!r}"
            raise ValueError(msg)
        self.argv = list(argv)
        self.write_timeout = write_timeout
        self.stray_lines: list[str] = []
        self._process = subprocess.Popen(
            self.argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=None if env is None else dict(env),
        )
        self._stdout_lines: queue.Queue[bytes | None] = queue.Queue()
        self._stdout_closed = False
        self._stderr = bytearray()
        self._stderr_lock = threading.Lock()
        self._writes: queue.Queue[_Write] = queue.Queue()
        self._stdin_closed = False
        self._threads = [
            threading.Thread(target=self._read_stdout, name="handler-stdout", daemon=True),
            threading.Thread(target=self._read_stderr, name="handler-stderr", daemon=True),
            threading.Thread(target=self._write_stdin, name="handler-stdin", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    # -- the process ---------------------------------------------------------------------

    @property
    def pid(self) -> int:
        """The handler's process id."""
        return self._process.pid

    @property
    def returncode(self) -> int | None:
        """The exit status once the process has ended (negative: killed by that signal)."""
        return self._process.poll()

    @property
    def stderr_text(self) -> str:
        """Everything the handler wrote to stderr so far, decoded (bad bytes replaced)."""
        with self._stderr_lock:
            return self._stderr.decode("utf-8", "replace")

    def _stderr_tail(self) -> str:
        return self.stderr_text[-STDERR_TAIL_CHARS:]

    def terminate(self) -> None:
        """Send SIGTERM (the handler should answer the task in hand, then exit 0)."""
        if self._process.poll() is None:
            self._process.terminate()

    def send_signal(self, signum: int) -> None:
        """Send `signum` (e.g. signal.SIGINT) if the process still runs."""
        if self._process.poll() is None:
            self._process.send_signal(signum)

    def kill(self) -> None:
        """Send SIGKILL."""
        if self._process.poll() is None:
            self._process.kill()

    def wait(self, timeout: float) -> int:
        """Wait for the process to exit and return its status; HandlerTimeout after `timeout`."""
        try:
            code = self._process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            waited_for = "the handler to exit"
            raise HandlerTimeout(waited_for, timeout, self._stderr_tail()) from None
        self._join_readers()
        return code

    # -- writing -------------------------------------------------------------------------

    def send(self, task_message: Mapping[str, Any]) -> None:
        """Write a task message (any mapping) as one compact JSON line."""
        text = json.dumps(
            dict(task_message),
            ensure_ascii=False,
            allow_nan=False,
            separators=(",", ":"),
        )
        self._request(text.encode("utf-8") + b"\n", "the handler to read its stdin")

    def send_line(self, line: bytes | str) -> None:
        """Write a raw line as is (a str is UTF-8 encoded); a missing line feed is added."""
        data = line.encode("utf-8") if isinstance(line, str) else bytes(line)
        if not data.endswith(b"\n"):
            data += b"\n"
        self._request(data, "the handler to read its stdin")

    def send_bytes(self, data: bytes) -> None:
        """Write `data` exactly as given, no line feed added (e.g. a last line without one)."""
        self._request(bytes(data), "the handler to read its stdin")

    def close_stdin(self) -> None:
        """Close the handler's stdin: it sees EOF and should exit 0."""
        self._request(_CLOSE, "stdin to close")

    def _request(self, data: bytes | object, waited_for: str) -> None:
        if self._stdin_closed:
            msg = "the handler's stdin was closed by close_stdin(): nothing more can be sent"
            raise ValueError(msg)
        if data is _CLOSE:
            self._stdin_closed = True
        write = _Write(data)
        self._writes.put(write)
        if not write.done.wait(self.write_timeout):
            raise HandlerTimeout(waited_for, self.write_timeout, self._stderr_tail())
        if isinstance(write.error, BrokenPipeError):
            raise HandlerExited(waited_for, self._settled_returncode(), self._stderr_tail())
        if write.error is not None:
            raise write.error

    def _write_stdin(self) -> None:
        stdin = self._process.stdin
        assert stdin is not None  # noqa: S101 - Popen was given stdin=PIPE
        while True:
            write = self._writes.get()
            if write.data is _STOP:
                return
            try:
                if write.data is _CLOSE:
                    stdin.close()
                elif isinstance(write.data, bytes):
                    stdin.write(write.data)
                    stdin.flush()
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting caller
                write.error = exc
            finally:
                write.done.set()

    # -- reading -------------------------------------------------------------------------

    def _read_stdout(self) -> None:
        self._pump(self._process.stdout, self._stdout_lines.put)
        self._stdout_lines.put(None)

    def _read_stderr(self) -> None:
        def keep(chunk: bytes) -> None:
            with self._stderr_lock:
                self._stderr.extend(chunk)

        stream = self._process.stderr
        if stream is None:
            return
        try:
            fd = stream.fileno()
            # os.read returns what is there: stderr_text is current even mid-line.
            for chunk in iter(lambda: os.read(fd, 65536), b""):
                keep(chunk)
        except (OSError, ValueError):  # closed under us by __exit__
            return

    @staticmethod
    def _pump(stream: IO[bytes] | None, put: Callable[[bytes], None]) -> None:
        if stream is None:
            return
        try:
            for line in iter(stream.readline, b""):
                put(line)
        except (OSError, ValueError):  # closed under us by __exit__
            return

    def _settled_returncode(self) -> int | None:
        try:
            return self._process.wait(timeout=_SETTLE_SECONDS)
        except subprocess.TimeoutExpired:
            return None

    def _next_line(self, deadline: float, timeout: float, waited_for: str) -> bytes:
        if self._stdout_closed:
            raise HandlerExited(waited_for, self._settled_returncode(), self._stderr_tail())
        remaining = max(0.0, deadline - time.monotonic())
        try:
            line = self._stdout_lines.get(timeout=remaining)
        except queue.Empty:
            raise HandlerTimeout(waited_for, timeout, self._stderr_tail()) from None
        if line is None:
            self._stdout_closed = True
            raise HandlerExited(waited_for, self._settled_returncode(), self._stderr_tail())
        return line

    def _next_object(
        self,
        deadline: float,
        timeout: float,
        waited_for: str,
    ) -> tuple[bytes, dict[str, Any]]:
        while True:
            line = self._next_line(deadline, timeout, waited_for)
            try:
                value = json.loads(line)
            except ValueError:
                value = None
            if isinstance(value, dict):
                return line, value
            self.stray_lines.append(_as_text(line))

    def read_message(self, timeout: float) -> dict[str, Any]:
        """Return the next stdout line that is a JSON object (a result, an event, or other)."""
        deadline = time.monotonic() + timeout
        return self._next_object(deadline, timeout, "a JSON message on stdout")[1]

    def read_result(self, timeout: float) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Return the next result and the events written before it (all within `timeout`)."""
        deadline = time.monotonic() + timeout
        events: list[dict[str, Any]] = []
        while True:
            line, message = self._next_object(deadline, timeout, "a result on stdout")
            if "status" in message:
                return message, events
            if "event" in message:
                events.append(message)
            else:
                self.stray_lines.append(_as_text(line))

    # -- lifecycle -----------------------------------------------------------------------

    def _join_readers(self) -> None:
        deadline = time.monotonic() + _SETTLE_SECONDS
        for thread in self._threads[:2]:
            thread.join(max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> Self:
        """Return the running handler."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Kill the process if it still runs, reap it, and close the pipes."""
        self.kill()
        self._process.wait()  # SIGKILL cannot be ignored: this returns
        self._writes.put(_Write(_STOP))
        self._join_readers()
        for stream in (self._process.stdin, self._process.stdout, self._process.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


def _as_text(line: bytes) -> str:
    return line.decode("utf-8", "replace").rstrip("\r\n")
