"""Replay one case against one handler command over real pipes, and judge what came back.

A fresh handler process per case. Every wait is bounded by the case's time limit; the process is
always killed and reaped at the end (taskdaemon.testing.HandlerProcess does that on exit).
"""

from __future__ import annotations

import json
import math
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from taskdaemon import exceptions as driver_errors
from taskdaemon.testing import HandlerProcess

from taskdaemon_conformance.exceptions import (
    CaseFailed,
    HandlerTimeout,
    InvalidResponse,
    Mismatch,
    StartupFailed,
    UnexpectedExit,
)
from taskdaemon_conformance.matching import difference, short
from taskdaemon_conformance.schemas import validator
from taskdaemon_conformance.transcripts import Case, CloseStdin, Send, Signal, Wait, WaitForResults

#: Characters of the handler's stderr quoted in a hint.
STDERR_HINT_CHARS = 300


@dataclass(frozen=True)
class Target:
    """A handler to test: its name in the matrix and how to start it."""

    name: str
    argv: tuple[str, ...]
    cwd: Path | None = None
    env: Mapping[str, str] | None = None
    #: Why this target cannot run (e.g. its SDK is not built): every case fails with StartupFailed.
    unavailable: str | None = None


@dataclass(frozen=True)
class CaseResult:
    """How one case went against one target."""

    target: str
    case_id: str
    failure: CaseFailed | None
    seconds: float

    @property
    def passed(self) -> bool:
        """True when the case passed."""
        return self.failure is None


def describe_exit(code: int) -> str:
    """How a process ended, from its status (negative: killed by that signal)."""
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with status {code}"


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(item) for item in value.values())
    if isinstance(value, list):
        return all(_finite(item) for item in value)
    return True


def _compact(message: Mapping[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"))


def check_message(message: dict[str, Any]) -> None:
    """Raise InvalidResponse unless `message` is a valid result or event."""
    line = _compact(message)
    if not _finite(message):
        raise InvalidResponse(
            "a stdout line holds NaN or Infinity, which are not JSON",
            line=line,
            hint="JSON encoders must refuse non-finite numbers (protocol section 2)",
        )
    if "status" in message:
        name, what = "result.schema.json", "result"
    elif "event" in message:
        name, what = "event.schema.json", "event"
    else:
        raise InvalidResponse(
            "a JSON object on stdout has neither `status` nor `event`",
            line=line,
            hint="only results and events may reach stdout; ordinary output belongs on stderr",
        )
    error = next(iter(validator(name).iter_errors(message)), None)
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "(top)"
        raise InvalidResponse(
            f"a {what} breaks {name} at {where}: {error.message}",
            line=line,
            hint=f"see protocol/schema/{name}",
        )


class Conversation:
    """The running handler, what it has written so far, and the case's deadline."""

    def __init__(self, process: HandlerProcess, case: Case, deadline: float, *, compare: bool = True) -> None:
        """Follow `process` through `case` until `deadline` (monotonic); `compare` off to record."""
        self.process = process
        self.compare = compare
        self.case = case
        self.deadline = deadline
        self.received: list[dict[str, Any]] = []
        self.results = 0
        self.stdout_closed = False
        self.limit_seconds = deadline - time.monotonic()
        self._strays_checked = 0

    def remaining(self) -> float:
        """Seconds left before the deadline."""
        return max(0.0, self.deadline - time.monotonic())

    def stderr_hint(self) -> str:
        """The end of the handler's stderr, as a hint."""
        tail = self.process.stderr_text[-STDERR_HINT_CHARS:].strip()
        return f"handler stderr (tail): {tail}" if tail else "the handler wrote nothing to stderr"

    def _check_strays(self) -> None:
        strays = self.process.stray_lines
        if len(strays) > self._strays_checked:
            line = strays[self._strays_checked]
            self._strays_checked = len(strays)
            raise InvalidResponse(
                "a stdout line is not a JSON object",
                line=line,
                hint="only results and events may reach stdout; ordinary output belongs on stderr",
            )

    def read_one(self, waited_for: str) -> bool:
        """Read the next message; False when stdout closed. Raises on invalid lines and timeouts."""
        try:
            message = self.process.read_message(self.remaining())
        except driver_errors.HandlerExited:
            self._check_strays()
            self.stdout_closed = True
            return False
        except driver_errors.HandlerTimeout:
            self._check_strays()
            self.check_received()
            raise HandlerTimeout(
                f"no {waited_for} within the case's time limit ({self.limit_seconds:.1f} s); "
                f"{len(self.received)} message(s) received",
                line=_compact(self.received[-1]) if self.received else None,
                hint=self.stderr_hint(),
            ) from None
        self._check_strays()
        check_message(message)
        self.received.append(message)
        if "status" in message:
            self.results += 1
        return True

    def check_received(self) -> None:
        """Raise Mismatch at the first received message that differs from the expected one."""
        if not self.compare:
            return
        expected = self.case.expected
        for index, got in enumerate(self.received):
            if index >= len(expected):
                raise Mismatch(
                    f"{len(self.received) - len(expected)} message(s) more than the {len(expected)} expected",
                    line=_compact(got),
                    hint="one result per task line, and nothing after it (was a task answered twice?)",
                )
            found = difference(expected[index], got)
            if found:
                raise Mismatch(
                    f"message {index + 1} of {len(expected)}: {found}",
                    line=_compact(got),
                    hint=f"expected {short(_compact(expected[index]))}",
                )

    def wait_for_results(self, count: int) -> None:
        """Read until `count` results have arrived in total."""
        while self.results < count:
            if not self.read_one(f"result number {self.results + 1}"):
                self.ended_early()

    def ended_early(self) -> None:
        """The handler closed stdout too soon: raise StartupFailed or UnexpectedExit."""
        self.check_received()
        code = self.process.returncode
        status = "closed its stdout" if code is None else describe_exit(code)
        if not self.received and not self.process.stray_lines:
            raise StartupFailed(
                f"the handler {status} before its first answer",
                hint=self.stderr_hint(),
            )
        raise UnexpectedExit(
            f"the handler {status} after {len(self.received)} of {len(self.case.expected)} expected messages",
            line=_compact(self.received[-1]) if self.received else None,
            hint=self.stderr_hint(),
        )


def perform(conversation: Conversation) -> None:
    """Carry out the case's input steps; stop sending when the handler is gone."""
    process = conversation.process
    for step in conversation.case.steps:
        if isinstance(step, Send):
            try:
                process.send_line(step.data)
            except driver_errors.HandlerExited:
                return  # the handler is gone; what it wrote is judged below
            except driver_errors.HandlerTimeout:
                raise HandlerTimeout(
                    "the handler stopped reading its stdin",
                    hint=conversation.stderr_hint(),
                ) from None
        elif isinstance(step, WaitForResults):
            conversation.wait_for_results(step.count)
        elif isinstance(step, Wait):
            time.sleep(min(step.ms / 1000, conversation.remaining()))
        elif isinstance(step, Signal):
            process.send_signal(signal.Signals[step.name])
        elif isinstance(step, CloseStdin):
            try:
                process.close_stdin()
            except driver_errors.HandlerExited:
                return


def _judge_end(conversation: Conversation) -> None:
    while conversation.read_one("further output, or the end of stdout"):
        pass
    conversation.check_received()
    if len(conversation.received) < len(conversation.case.expected):
        conversation.ended_early()
    try:
        code = conversation.process.wait(conversation.remaining())
    except driver_errors.HandlerTimeout:
        raise HandlerTimeout(
            "the handler closed its stdout but did not exit",
            hint=conversation.stderr_hint(),
        ) from None
    expected_code = conversation.case.exit_code
    if code != expected_code:
        raise UnexpectedExit(
            f"the handler {describe_exit(code)}, expected status {expected_code}",
            hint=conversation.stderr_hint(),
        )
    stderr = conversation.process.stderr_text
    for text in conversation.case.stderr_includes:
        if text not in stderr:
            raise Mismatch(
                f"stderr lacks {short(text)}",
                hint=conversation.stderr_hint(),
            )


def run_case(case: Case, target: Target, *, timeout_factor: float = 1.0) -> CaseResult:
    """Run `case` against a fresh process of `target` and return how it went."""
    started = time.monotonic()
    limit = case.time_limit_ms / 1000 * timeout_factor
    failure: CaseFailed | None = None
    try:
        process = start(target, limit)
    except StartupFailed as exc:
        failure = exc
    else:
        with process:
            conversation = Conversation(process, case, started + limit)
            try:
                perform(conversation)
                _judge_end(conversation)
            except CaseFailed as exc:
                failure = exc
    return CaseResult(target.name, case.id, failure, time.monotonic() - started)


def start(target: Target, write_timeout: float) -> HandlerProcess:
    """Start `target`; StartupFailed when it cannot be executed."""
    if target.unavailable is not None:
        raise StartupFailed(target.unavailable, hint="set up the handler, then run again")
    try:
        return HandlerProcess(
            target.argv,
            cwd=target.cwd,
            env=target.env,
            write_timeout=write_timeout,
        )
    except OSError as exc:
        raise StartupFailed(
            f"cannot start {' '.join(target.argv)!r}: {exc.strerror or exc}",
            hint="check the command, its working directory and that it is executable",
        ) from None


def run_cases(cases: Sequence[Case], target: Target, *, timeout_factor: float = 1.0) -> list[CaseResult]:
    """Run every case against `target`, one fresh process each, in order."""
    return [run_case(case, target, timeout_factor=timeout_factor) for case in cases]
