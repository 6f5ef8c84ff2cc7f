"""One running handler: start it, feed it one task at a time, read its answer, stop it.

Reads stdout and stderr with no practical line limit (asyncio's default 64 KiB limit is
raised), runs each handler in its own session so that stopping it stops its children too,
and turns every way an attempt can end into an Outcome.
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


def launch_spec(handler: HandlerConfig, index: int, daemon_id: str, engine_executable: str | None = None) -> LaunchSpec:
    """The LaunchSpec of instance ``index`` of ``handler``, process or container."""
    if handler.command is not None:
        return process_launch(handler, f"{handler.task_type}-{index}")
    return container_launch(handler, container_name(handler.task_type, index, daemon_id), engine_executable)


class HandlerInstance:
    """One handler process (or container client) and its pipes."""

    def __init__(self, spec: LaunchSpec, task_type: str) -> None:
        self.spec = spec
        self.task_type = task_type
        self.name = spec.name
        self.current_task_id: str | None = None
        self.tasks_answered = 0
        self._process: asyncio.subprocess.Process | None = None
        self._stderr_tail: deque[str] = deque(maxlen=defaults.STDERR_TAIL_LINES)
        self._stderr_reader: asyncio.Task[None] | None = None
        self._abort_reason: str | None = None
        self._type_json = json.dumps(task_type)
        self._sent_ahead: str | None = None  # id of a task line already written by send_ahead()
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
        self._process = await asyncio.create_subprocess_exec(
            *self.spec.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=self.spec.cwd,
            env=self.spec.env,
            limit=defaults.MAX_LINE_BYTES,
            start_new_session=True,  # its own process group: stopping it stops its children
        )
        self._stderr_reader = asyncio.create_task(self._read_stderr(), name=f"stderr-{self.name}")

    async def wait(self) -> int:
        """Wait until the handler exits; its exit code."""
        assert self._process is not None
        return await self._process.wait()

    async def stderr_tail(self) -> list[str]:
        """The last lines the handler wrote to stderr; once it has exited, read to the end
        (a container engine that refused to start says why there)."""
        if self.returncode is not None:
            await self._finish_stderr()
        return list(self._stderr_tail)

    async def run(self, task_id: str, data_json: str, attempt: int, timeout: float, on_event: EventCallback) -> Outcome:
        """Run one attempt of a task and return how it ended. Never raises for handler faults."""
        process = self._process
        assert process is not None
        assert process.stdin is not None
        assert process.stdout is not None
        self.current_task_id = task_id
        self._abort_reason = None
        sent, self._sent_ahead = self._sent_ahead == task_id, None
        # A plain timer rather than asyncio.timeout(): it is set and cancelled for every task,
        # and the cancellation machinery showed in the profile. On expiry it stops the handler;
        # the read then ends and reports the timeout.
        self._timed_out = None
        loop = asyncio.get_running_loop()
        timer = loop.call_at(loop.time() + timeout, self._time_out, task_id, timeout)
        outcome: Outcome | None = None  # None: stdout closed (or stdin broke) before an answer
        try:
            try:
                if not sent:
                    process.stdin.write(task_line(task_id, self._type_json, data_json, attempt))
                await process.stdin.drain()
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
        log.warning("%s: task %s ran past its timeout of %ss; stopping the handler", self.name, task_id, timeout)
        self._timed_out = f"Timeout: the handler did not answer within {timeout:g} s and was stopped"
        self._signal(signal.SIGTERM)
        asyncio.get_running_loop().call_later(defaults.HANDLER_TERM_GRACE, self._signal, signal.SIGKILL)

    def send_ahead(self, task_id: str, data_json: str, attempt: int) -> None:
        """Write the next task line now (the previous task is answered), so the handler starts
        on it while the daemon records the previous outcome; run() for it then only reads."""
        process = self._process
        assert process is not None
        assert process.stdin is not None
        if process.stdin.is_closing():
            return  # run() will find the broken pipe and report it
        process.stdin.write(task_line(task_id, self._type_json, data_json, attempt))
        self._sent_ahead = task_id

    async def _read_answer(self, task_id: str, stdout: asyncio.StreamReader, on_event: EventCallback) -> Outcome | None:
        while True:
            raw = await stdout.readline()
            if not raw:
                return None
            line = classify_line(raw)
            if line is None:
                continue
            if isinstance(line, ResultLine):
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
        try:
            await asyncio.wait_for(process.wait(), defaults.HANDLER_EOF_GRACE)
        except TimeoutError:
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
        assert self._process is not None
        assert self._process.stderr is not None
        stderr = self._process.stderr
        while True:
            raw = await stderr.readline()
            if not raw:
                return
            text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            self._stderr_tail.append(text)
            log.info("[%s %s task=%s] %s", self.task_type, self.name, self.current_task_id or "-", text)

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
        if self._process is None or self._process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, sig)

    async def kill(self, grace: float) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds; waits for the exit."""
        process = self._process
        if process is None:
            return
        self._signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), grace)
        except TimeoutError:
            self._signal(signal.SIGKILL)
            await process.wait()
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
            try:
                await asyncio.wait_for(process.wait(), eof_grace)
            except TimeoutError:
                await self.kill(term_grace)
        # The process group may hold children that outlived the handler itself.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        await self._cleanup()
        await self._finish_stderr()
        if self._stderr_reader is not None and not self._stderr_reader.done():
            self._stderr_reader.cancel()

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
