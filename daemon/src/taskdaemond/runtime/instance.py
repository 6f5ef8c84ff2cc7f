"""One running handler: start it, write its task lines, read each answer in turn, stop it.

Reads stdout with no practical line limit (asyncio's default 64 KiB limit is raised) and
stderr in chunks, keeping only a bounded tail of it; runs each handler in its own session so
that stopping it stops its children too; never waits for an end of file that a child holding
the pipes may never give; and turns every way an attempt can end into an Outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from taskdaemond import defaults
from taskdaemond.config import HandlerConfig
from taskdaemond.protocol import (
    EventLine,
    InvalidResultLine,
    ResultLine,
    SkippedLine,
    classify_line,
    task_line,
)
from taskdaemond.runtime import outcomes
from taskdaemond.runtime.container import container_launch, container_name, describe_exit
from taskdaemond.runtime.outcomes import Outcome
from taskdaemond.runtime.process import process_launch
from taskdaemond.runtime.spec import LaunchSpec

log = logging.getLogger("taskdaemond.handler")

EventCallback = Callable[[dict[str, Any]], None]


def launch_spec(
    handler: HandlerConfig, index: int, daemon_id: str, engine_executable: str | None = None
) -> LaunchSpec:
    """The LaunchSpec of instance ``index`` of ``handler``, process or container."""
    if handler.command is not None:
        spec = process_launch(handler, f"{handler.task_type}-{index}")
    else:
        spec = container_launch(
            handler, container_name(handler.task_type, index, daemon_id), engine_executable
        )
    return replace(spec, stderr_tail_bytes=handler.stderr_tail_bytes)


class _HandlerProtocol(asyncio.subprocess.SubprocessStreamProtocol):
    """asyncio's subprocess stream protocol, which also tells when the process itself has exited
    and when its stdout and stderr have closed. ``Process.wait()`` waits for the pipes as well,
    and a child that inherited them may hold them open for ever: the instance needs both apart."""

    def __init__(self, limit: int, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(limit=limit, loop=loop)
        self._stream_loop = loop
        self.exited = asyncio.Event()
        self.outputs_closed = asyncio.Event()
        self.transport: asyncio.SubprocessTransport | None = None
        self._open_outputs = {1, 2}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        assert isinstance(transport, asyncio.SubprocessTransport)
        self.transport = transport
        # stderr gets a reader with a small limit: the limit is also where the pipe stops being
        # read until the reader catches up, so a flood of stderr never piles up in memory.
        stderr_pipe = transport.get_pipe_transport(2)
        if stderr_pipe is not None:
            self.stderr = asyncio.StreamReader(limit=defaults.STDERR_READ_CHUNK, loop=self._stream_loop)
            self.stderr.set_transport(stderr_pipe)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        super().pipe_connection_lost(fd, exc)
        self._open_outputs.discard(fd)
        if not self._open_outputs:
            self.outputs_closed.set()

    def process_exited(self) -> None:
        super().process_exited()
        self.exited.set()


async def _within(event: asyncio.Event, seconds: float) -> bool:
    """Wait for ``event`` at most ``seconds``; True if it is set."""
    if not event.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), seconds)
    return event.is_set()


class HandlerInstance:
    """One handler process (or container client) and its pipes."""

    def __init__(self, spec: LaunchSpec, task_type: str) -> None:
        self.spec = spec
        self.task_type = task_type
        self.name = spec.name
        self.current_task_id: str | None = None
        self.tasks_answered = 0
        self._process: asyncio.subprocess.Process | None = None
        self._protocol: _HandlerProtocol | None = None
        self._stderr_tail: deque[str] = deque()
        self._stderr_tail_size = 0  # bytes in _stderr_tail
        self._stderr_reader: asyncio.Task[None] | None = None
        self._pipe_guard: asyncio.Task[None] | None = None
        #: True once the process group is known to be gone (or the instance stopped): from then on
        #: no signal goes to its id, which the system may give to another process.
        self._released = False
        self._abort_reason: str | None = None
        self._type_json = json.dumps(task_type)
        #: Task lines written by write_task() and not yet run, oldest first: (task id, loop time
        #: written). The handler reads them in order; run() for each then only reads the answer.
        self._written: deque[tuple[str, float]] = deque()
        #: Lines of tasks written behind one in hand, gathered during one turn of the event loop
        #: and written together at its end (None: no write is pending).
        self._pending_lines: list[bytes] | None = None
        self._answered_at = 0.0  # loop time the last result line was read
        self._timed_out: str | None = None  # why the attempt in hand was stopped at its timeout

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    @property
    def returncode(self) -> int | None:
        return self._process.returncode if self._process is not None else None

    async def start(self) -> None:
        """Start the handler. Raises OSError when the command cannot be run at all."""
        loop = asyncio.get_running_loop()
        # asyncio.create_subprocess_exec, with a protocol that tells the exit apart from EOF.
        transport, protocol = await loop.subprocess_exec(
            lambda: _HandlerProtocol(defaults.MAX_LINE_BYTES, loop),
            *self.spec.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=self.spec.cwd,
            env=self.spec.env,
            start_new_session=True,  # its own process group: stopping it stops its children
        )
        self._protocol = protocol
        self._process = asyncio.subprocess.Process(transport, protocol, loop)
        self._stderr_reader = asyncio.create_task(self._read_stderr(), name=f"stderr-{self.name}")
        self._pipe_guard = asyncio.create_task(self._guard_pipes(), name=f"pipes-{self.name}")

    async def wait(self) -> int:
        """Wait until the handler itself exits (not its pipes: a child may hold them); its exit code."""
        assert self._protocol is not None
        await self._protocol.exited.wait()
        code = self.returncode
        assert code is not None
        return code

    async def _exited_within(self, seconds: float) -> bool:
        assert self._protocol is not None
        return await _within(self._protocol.exited, seconds)

    async def _guard_pipes(self) -> None:
        """Once the handler has exited, see that its stdout and stderr close, within bounds.

        A child that inherited them can keep them open after the handler is gone, and the
        reader would wait for an end of file for ever: the child goes with the handler's
        process group. A process outside the group (a grandchild that called setsid) cannot be
        stopped that way: the daemon closes its own ends of the pipes and says so.
        """
        protocol = self._protocol
        assert protocol is not None
        await protocol.exited.wait()
        if await _within(protocol.outputs_closed, defaults.PIPE_CLOSE_GRACE):
            self._probe_group()
            return
        self._signal(signal.SIGKILL)
        if await _within(protocol.outputs_closed, defaults.PIPE_CLOSE_GRACE):
            self._probe_group()
            return
        log.warning(
            "%s: the handler has exited but its stdout or stderr is still held open by another "
            "process, outside its process group (a grandchild that called setsid?); the daemon "
            "closes its ends of the pipes, but cannot stop that process",
            self.name,
        )
        if protocol.transport is not None:
            protocol.transport.close()
        await _within(protocol.outputs_closed, defaults.PIPE_CLOSE_GRACE)

    def _probe_group(self) -> None:
        """Note whether the handler's process group is gone (then it is never signalled again)."""
        self._signal(0)

    async def _pipes_closed(self) -> None:
        """Wait (bounded) until _guard_pipes has seen the pipes closed, or closed them."""
        if self._pipe_guard is not None and not self._pipe_guard.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._pipe_guard), 3 * defaults.PIPE_CLOSE_GRACE + 1)

    async def stderr_tail(self) -> list[str]:
        """The last lines the handler wrote to stderr; once it has exited, read to the end
        (a container engine that refused to start says why there)."""
        if self.returncode is not None:
            await self._finish_stderr()
        return list(self._stderr_tail)

    async def run(
        self,
        task_id: str,
        data_json: str,
        attempt: int,
        timeout: float,
        on_event: EventCallback,
        *,
        tags_json: str | None = None,
        dependencies_json: str | None = None,
    ) -> Outcome:
        """Run one attempt of a task and return how it ended. Never raises for handler faults.

        When write_task() wrote the task's line already, only reads the answer. Its timeout
        clock starts when the handler can start it: when the previous result arrived, or when
        the line was written if that came later (protocol section 10.2)."""
        process = self._process
        assert process is not None
        assert process.stdin is not None
        assert process.stdout is not None
        self.current_task_id = task_id
        loop = asyncio.get_running_loop()
        written_at = self._take_written(task_id)
        # A plain timer rather than asyncio.timeout(): it is set and cancelled for every task,
        # and the cancellation machinery showed in the profile. On expiry it stops the handler;
        # the read then ends and reports the timeout.
        self._timed_out = None
        started = loop.time() if written_at is None else max(written_at, self._answered_at)
        timer = loop.call_at(started + timeout, self._time_out, task_id, timeout)
        outcome: Outcome | None = None  # None: stdout closed (or stdin broke) before an answer
        try:
            try:
                if written_at is None:
                    process.stdin.write(
                        task_line(
                            task_id,
                            self._type_json,
                            data_json,
                            attempt,
                            tags_json,
                            dependencies_json=dependencies_json,
                        )
                    )
                    await process.stdin.drain()
                # A line written ahead is not drained here: the handler reads it only after
                # answering the task in hand, whose answer must be read meanwhile.
            except (BrokenPipeError, ConnectionResetError):
                pass
            else:
                outcome = await self._read_answer(task_id, process.stdout, on_event)
        finally:
            timer.cancel()
        try:
            if self._timed_out is not None:
                # Even an answer that came after the SIGTERM is past the timeout; the handler
                # is on its way out either way.
                await self.kill(grace=defaults.HANDLER_TERM_GRACE)
                return outcomes.TimedOut(self._timed_out)
            if outcome is None:
                return await self._ended_early(task_id)
            return outcome
        finally:
            self.current_task_id = None

    def _time_out(self, task_id: str, timeout: float) -> None:
        """The attempt ran past its timeout: SIGTERM now, SIGKILL after a short grace."""
        log.warning(
            "%s: task %s ran past its timeout of %ss; stopping the handler", self.name, task_id, timeout
        )
        self._timed_out = f"Timeout: the handler did not answer within {timeout:g} s and was stopped"
        self._signal(signal.SIGTERM)
        asyncio.get_running_loop().call_later(defaults.HANDLER_TERM_GRACE, self._signal, signal.SIGKILL)

    def write_task(
        self,
        task_id: str,
        data_json: str,
        attempt: int,
        tags_json: str | None = None,
        dependencies_json: str | None = None,
    ) -> None:
        """Write a task line now, behind those already written: the handler reads it once it
        has answered them (or at once when it has nothing in hand). run() for it only reads."""
        process = self._process
        assert process is not None
        assert process.stdin is not None
        loop = asyncio.get_running_loop()
        self._written.append((task_id, loop.time()))
        if process.stdin.is_closing():
            return  # the handler is gone: the run of the task in hand reports it
        line = task_line(
            task_id, self._type_json, data_json, attempt, tags_json, dependencies_json=dependencies_json
        )
        if self._pending_lines is not None:
            self._pending_lines.append(line)
        elif self.current_task_id is not None or len(self._written) > 1:
            # The handler reads this line only once it has answered the task in hand or those
            # written before it: the lines written in this turn of the loop go in one write, one
            # wake-up of the handler instead of one per line (the pipe write, and the handler
            # taking the core from the daemon inside it, was the daemon's largest cost).
            self._pending_lines = [line]
            loop.call_soon(self._write_pending)
        else:  # the handler may be waiting for it: at once
            process.stdin.write(line)

    def _write_pending(self) -> None:
        lines, self._pending_lines = self._pending_lines, None
        process = self._process
        if lines and process is not None and process.stdin is not None and not process.stdin.is_closing():
            process.stdin.write(b"".join(lines))

    def _take_written(self, task_id: str) -> float | None:
        """When ``task_id``'s line was written by write_task() (loop time), or None if it was
        not: it must be the oldest line written and not yet run."""
        if not self._written:
            return None
        written_id, written_at = self._written[0]
        if written_id != task_id:
            raise RuntimeError(
                f"task {task_id} run out of the order its line was written in ({written_id} first)"
            )
        self._written.popleft()
        return written_at

    async def _read_answer(
        self, task_id: str, stdout: asyncio.StreamReader, on_event: EventCallback
    ) -> Outcome | None:
        while True:
            raw = await stdout.readline()
            if not raw:
                return None
            line = classify_line(raw)
            if line is None:
                continue
            if isinstance(line, ResultLine):
                self._answered_at = asyncio.get_running_loop().time()
                return self._answer(task_id, line.message)
            if isinstance(line, EventLine):
                if line.message.get("task_id") != task_id:
                    log.warning(
                        "%s: skipped an event for task %s while running %s",
                        self.name,
                        line.message.get("task_id"),
                        task_id,
                    )
                    continue
                on_event(line.message)
            elif isinstance(line, InvalidResultLine):
                self._answered_at = asyncio.get_running_loop().time()
                self.tasks_answered += 1
                return outcomes.ProtocolViolation(f"ProtocolError: {line.problem} (line: {line.text})")
            elif isinstance(line, SkippedLine):
                log.info("[%s %s task=%s] %s: %s", self.task_type, self.name, task_id, line.reason, line.text)

    def _answer(self, task_id: str, message: dict[str, Any]) -> Outcome:
        self.tasks_answered += 1
        answered_id = message.get("task_id")
        if answered_id is not None and answered_id != task_id:
            return outcomes.ProtocolViolation(
                f"ProtocolError: the result names task {answered_id!r} but the task in hand is "
                f"{task_id!r}; the handler is out of step and was restarted",
                restart=True,
            )
        metadata = message.get("metadata")
        if message["status"] == "success":
            return outcomes.Succeeded(message.get("result"), metadata)
        retry_after = message.get("retry_after")
        return outcomes.HandlerFailed(
            error=message["error"],
            retryable=bool(message.get("retryable", False)),
            error_type=message.get("error_type"),
            retry_after=float(retry_after) if retry_after is not None else None,
            traceback=message.get("traceback"),
            metadata=metadata,
        )

    async def _ended_early(self, task_id: str) -> Outcome:
        """stdout closed (or stdin broke) with the task in hand: a crash, unless we stopped it."""
        process = self._process
        assert process is not None
        if not await self._exited_within(defaults.HANDLER_EOF_GRACE):
            # It closed stdout but lives on: it can no longer answer, so it goes.
            await self.kill(grace=defaults.HANDLER_TERM_GRACE)
        await self._finish_stderr()
        if self._abort_reason is not None:
            return outcomes.Aborted(self._abort_reason)
        code = process.returncode
        tail = list(self._stderr_tail)
        what = (
            describe_exit(code, [], container=self.spec.container)
            if code is not None
            else "the handler closed its stdout"
        )
        message = f"HandlerCrashed: {what} while running task {task_id}"
        if tail:
            message += "; last stderr lines:\n" + "\n".join(tail)
        return outcomes.Crashed(message, exit_code=code, stderr_tail=tail)

    async def _read_stderr(self) -> None:
        """Read stderr in chunks (never a whole line: a handler may write gigabytes without a
        newline), log each line cut to STDERR_LINE_BYTES, and keep the tail for crash reports."""
        assert self._process is not None
        assert self._process.stderr is not None
        stderr = self._process.stderr
        limit = defaults.STDERR_LINE_BYTES
        line = bytearray()
        dropped = 0  # bytes of the current line beyond the limit
        while True:
            chunk = await stderr.read(defaults.STDERR_READ_CHUNK)
            if not chunk:
                if line or dropped:
                    self._stderr_line(bytes(line), dropped)
                return
            start = 0
            while start < len(chunk):
                end = chunk.find(b"\n", start)
                stop = len(chunk) if end < 0 else end
                room = limit - len(line)
                if stop - start <= room:
                    line += chunk[start:stop]
                else:
                    line += chunk[start : start + room]
                    dropped += stop - start - room
                if end < 0:
                    break
                self._stderr_line(bytes(line), dropped)
                line.clear()
                dropped = 0
                start = end + 1

    def _stderr_line(self, raw: bytes, dropped: int) -> None:
        text = raw.decode("utf-8", errors="replace").rstrip("\r")
        if dropped:
            text += f" [... {dropped} more bytes of this line dropped]"
        log.info("[%s %s task=%s] %s", self.task_type, self.name, self.current_task_id or "-", text)
        self._keep_stderr(text)

    def _keep_stderr(self, text: str) -> None:
        """Keep ``text`` in the tail: at most STDERR_TAIL_LINES lines and the spec's
        stderr_tail_bytes bytes, the oldest lines dropped first."""
        budget = self.spec.stderr_tail_bytes
        size = len(text.encode("utf-8", errors="replace"))
        if size > budget:
            text = text.encode("utf-8", errors="replace")[:budget].decode("utf-8", errors="ignore") + " [cut]"
            size = len(text.encode("utf-8", errors="replace"))
        self._stderr_tail.append(text)
        self._stderr_tail_size += size
        while len(self._stderr_tail) > 1 and (
            self._stderr_tail_size > budget or len(self._stderr_tail) > defaults.STDERR_TAIL_LINES
        ):
            self._stderr_tail_size -= len(self._stderr_tail.popleft().encode("utf-8", errors="replace"))

    async def _finish_stderr(self) -> None:
        if self._stderr_reader is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._stderr_reader), defaults.STDERR_DRAIN_TIMEOUT)

    def abort(self, reason: str, term_grace: float | None = None) -> None:
        """Stop the handler because the daemon wants it (cancel, shutdown); run() then returns
        outcomes.Aborted(reason). With ``term_grace``: SIGTERM first (a handler may still answer the
        task in hand), SIGKILL after that many seconds; without: SIGKILL at once."""
        self._abort_reason = reason
        if term_grace is None:
            self._signal(signal.SIGKILL)
            return
        self._signal(signal.SIGTERM)
        asyncio.get_running_loop().call_later(term_grace, self._signal, signal.SIGKILL)

    def _signal(self, sig: int) -> None:
        """Send ``sig`` to the handler's whole process group: the handler and the children it
        started, which may outlive it (the group lives on as long as any of them does)."""
        if self._process is None or self._released:
            return
        try:
            os.killpg(self._process.pid, sig)
        except ProcessLookupError:
            if self._process.returncode is not None:
                self._released = True  # the handler and its whole group are gone
        except PermissionError:
            pass

    async def kill(self, grace: float) -> None:
        """SIGTERM to the process group, SIGKILL after ``grace`` seconds (to what is left of the
        group as well); waits, bounded, for the exit and for the pipes to close."""
        if self._process is None:
            return
        self._signal(signal.SIGTERM)
        if not await self._exited_within(grace):
            self._signal(signal.SIGKILL)
            if not await self._exited_within(defaults.HANDLER_KILL_WAIT):
                log.warning("%s: still running %g s after SIGKILL", self.name, defaults.HANDLER_KILL_WAIT)
        # Children that ignored SIGTERM outlive the handler: they go too.
        self._signal(signal.SIGKILL)
        await self._pipes_closed()
        await self._cleanup()

    async def stop(
        self, eof_grace: float = defaults.HANDLER_EOF_GRACE, term_grace: float = defaults.HANDLER_TERM_GRACE
    ) -> None:
        """Stop politely: EOF on stdin, then SIGTERM, then SIGKILL; never leaves it behind."""
        process = self._process
        if process is None:
            return
        if process.returncode is None and process.stdin is not None:
            with contextlib.suppress(OSError, RuntimeError):
                process.stdin.close()
            if not await self._exited_within(eof_grace):
                await self.kill(term_grace)
        # The process group may hold children that outlived the handler itself.
        self._signal(signal.SIGKILL)
        await self._pipes_closed()
        self._released = True
        await self._cleanup()
        await self._finish_stderr()
        for task in (self._stderr_reader, self._pipe_guard):
            if task is not None and not task.done():
                task.cancel()

    async def _cleanup(self) -> None:
        """Remove what the runtime may leave behind (a container whose client was killed)."""
        if self.spec.cleanup_argv is None:
            return
        try:
            cleanup = await asyncio.create_subprocess_exec(
                *self.spec.cleanup_argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
        except OSError as exc:
            log.warning("%s: could not run %s: %s", self.name, self.spec.cleanup_argv[0], exc)
            return
        try:
            await asyncio.wait_for(cleanup.wait(), defaults.CONTAINER_CLEANUP_TIMEOUT)
        except TimeoutError:
            cleanup.kill()
            await cleanup.wait()
