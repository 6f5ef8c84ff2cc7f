"""Replay one case against one handler command over real pipes, and judge what came back.

A fresh handler process per case. Every wait is bounded by the case's time limit; the process is
always killed and reaped at the end (taskdaemon.testing.HandlerProcess does that on exit).
"""

from __future__ import annotations

import json
import math
import re
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
from taskdaemon_conformance.matching import message_difference, short
from taskdaemon_conformance.schemas import validator
from taskdaemon_conformance.transcripts import Case, CloseStdin, Send, Signal, Wait, WaitForResults

#: Characters of the handler's stderr quoted in a hint.
STDERR_HINT_CHARS = 300
#: Bytes of a line past which a handler that ends without answering is told about line lengths:
#: 64 KiB, the classic line reader's limit (protocol section 2 asks for at least 64 MiB).
LONG_LINE_BYTES = 64 * 1024

#: A surrogate code point in a decoded string: json.loads turns an escaped pair into one
#: character, so one left over was written as a lone `\u` escape.
_SURROGATE = re.compile("[\ud800-\udfff]")


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


def _lone_surrogate(value: Any) -> str | None:
    """The first lone surrogate in any string (key or value) of `value`, as an escape's text."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found = _SURROGATE.search(item)
            if found:
                return f"\\u{ord(found.group()):04x}"
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def _compact(message: Mapping[str, Any]) -> str:
    # surrogatepass-safe: ensure_ascii keeps a lone surrogate printable as its escape.
    return json.dumps(message, ensure_ascii=_lone_surrogate(message) is not None, separators=(",", ":"))


def check_message(message: dict[str, Any]) -> None:
    """Raise InvalidResponse unless `message` is a valid result or event."""
    line = _compact(message)
    if not _finite(message):
        raise InvalidResponse(
            "a stdout line holds NaN or Infinity, which are not JSON",
            line=line,
            hint="JSON encoders must refuse non-finite numbers (protocol section 2)",
        )
    surrogate = _lone_surrogate(message)
    if surrogate is not None:
        raise InvalidResponse(
            f"a stdout line holds the lone surrogate escape {surrogate}, which is not Unicode text",
            line=line,
            hint="writers never produce one: a result holding such a string is an UnserialisableResult "
            "error (protocol sections 2 and 7)",
        )
    if "status" in message:
        name, what = "result.schema.json", "a result"
    elif "event" in message:
        name, what = "event.schema.json", "an event"
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
            f"{what} breaks {name} at {where}: {error.message}",
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
            found = message_difference(expected[index], got)
            if found:
                hint = f"expected {short(_compact(expected[index]))}"
                if found == "task_id: missing":
                    hint = "a result MUST echo the task's task_id (protocol section 7); " + hint
                raise Mismatch(
                    f"message {index + 1} of {len(expected)}: {found}", line=_compact(got), hint=hint
                )

    def wait_for_results(self, count: int) -> None:
        """Read until `count` results have arrived in total."""
        while self.results < count:
            if not self.read_one(f"result number {self.results + 1}"):
                self.ended_early()

    def ended_early(self) -> None:
        """The handler closed stdout too soon: raise StartupFailed or UnexpectedExit.

        StartupFailed only for a failure exit before any answer, with no long line sent: that is a
        handler that cannot start (or dies on its first line). Exiting 0 is no failure to start but
        taking the input as ended; and a handler that ends on a long line has a line-length bug.
        """
        self.check_received()
        code = self.process.returncode
        status = "closed its stdout" if code is None else describe_exit(code)
        if not self.received and not self.process.stray_lines:
            longest = longest_line(self.case)
            if longest > LONG_LINE_BYTES:
                raise UnexpectedExit(
                    f"the handler {status} before its first answer",
                    hint=f"the case sent a line of {longest:,} bytes: lines of at least 64 MiB must be "
                    f"read (protocol section 2); {self.stderr_hint()}",
                )
            if code is None or code == 0:
                raise UnexpectedExit(
                    f"the handler {status} before its first answer",
                    hint="it took its input as ended: a line reader that gives up on a line it cannot "
                    f"read? {self.stderr_hint()}",
                )
            raise StartupFailed(
                f"the handler {status} before its first answer",
                hint=self.stderr_hint(),
            )
        raise UnexpectedExit(
            f"the handler {status} after {len(self.received)} of {len(self.case.expected)} expected messages",
            line=_compact(self.received[-1]) if self.received else None,
            hint=self.stderr_hint(),
        )


def longest_line(case: Case) -> int:
    """The length in bytes of the longest line the case sends (its LF not counted)."""
    return max(
        (len(line) for step in case.steps if isinstance(step, Send) for line in step.data.split(b"\n")),
        default=0,
    )


def perform(conversation: Conversation) -> None:
    """Carry out the case's input steps; stop sending when the handler is gone."""
    process = conversation.process
    for step in conversation.case.steps:
        if isinstance(step, Send):
            try:
                process.send_bytes(step.data)  # exact bytes: a last line may lack its LF
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
