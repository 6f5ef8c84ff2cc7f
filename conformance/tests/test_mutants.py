"""The suite discriminates: each deliberately broken handler fails a named case, the correct one passes.

The handlers are one small script, tests/broken/mutant.py, run in a mode that breaks one rule of
the protocol; its `correct` mode (and `omits-retryable-false`, which writes only what the spec
requires) must pass every case named here, so that each failure below is the mutation's doing.
"""

from __future__ import annotations

import sys

import pytest

from taskdaemon_conformance.exceptions import (
    CaseFailed,
    HandlerTimeout,
    InvalidResponse,
    Mismatch,
    StartupFailed,
    UnexpectedExit,
)
from taskdaemon_conformance.replay import Target, run_case
from taskdaemon_conformance.transcripts import Case

from support import BROKEN

#: Each mutation: the cases that must fail it, and how.
MUTANTS: dict[str, tuple[tuple[str, ...], type[CaseFailed]]] = {
    "no-task-id": (("echo-object", "task-type-missing", "events-per-task"), Mismatch),
    "answers-blank-line": (("blank-lines-skipped",), Mismatch),
    "dies-on-malformed-json": (("not-json-text", "malformed-burst"), StartupFailed),
    "prints-to-stdout": (("stdout-noise-goes-to-stderr",), InvalidResponse),
    "writes-nan": (("unserialisable-nan",), InvalidResponse),
    "writes-lone-surrogate": (("unserialisable-string",), InvalidResponse),
    "error-as-success": (("error-not-retryable",), Mismatch),
    "wrong-exit-status": (("eof-without-tasks", "eof-after-tasks"), UnexpectedExit),
    "ignores-sigterm": (("sigterm-idle",), HandlerTimeout),
    "drops-task-at-sigterm": (("sigterm-during-task", "sigterm-reads-no-more"), UnexpectedExit),
    "64kib-lines": (("payload-16mib-round-trip",), UnexpectedExit),
    "lenient-attempt": (
        ("attempt-string", "attempt-fraction", "attempt-negative", "attempt-boolean"),
        Mismatch,
    ),
    "rejects-attempt-spellings": (("attempt-any-spelling",), Mismatch),
    "accepts-trailing-garbage": (("trailing-garbage", "two-values"), Mismatch),
    "events-of-another-task": (("events-per-task",), Mismatch),
    "holds-result": (("answer-before-next-task",), HandlerTimeout),
    "drops-last-line-without-lf": (("last-line-without-lf",), UnexpectedExit),
    "first-name-wins": (("repeated-names-last-wins",), Mismatch),
}
#: Modes that follow the protocol.
CORRECT = ("correct", "omits-retryable-false")
NAMED_CASES = sorted({case_id for case_ids, _kind in MUTANTS.values() for case_id in case_ids})
#: Mutants fail fast or hang: a hung one is given up on after 20 % of the case's time limit.
QUICK = 0.2


def mutant(mode: str) -> Target:
    return Target(mode, (sys.executable, str(BROKEN / "mutant.py"), mode))


@pytest.mark.parametrize("mode", sorted(MUTANTS))
def test_each_broken_handler_fails_its_named_cases(cases_by_id: dict[str, Case], mode: str) -> None:
    case_ids, kind = MUTANTS[mode]
    for case_id in case_ids:
        failure = run_case(cases_by_id[case_id], mutant(mode), timeout_factor=QUICK).failure
        assert failure is not None, f"{mode} passed {case_id}"
        assert isinstance(failure, kind), f"{mode} / {case_id}: {failure.reason}"


@pytest.mark.parametrize("mode", CORRECT)
def test_the_correct_handler_passes_every_named_case(cases_by_id: dict[str, Case], mode: str) -> None:
    failed = {}
    for case_id in NAMED_CASES:
        failure = run_case(cases_by_id[case_id], mutant(mode)).failure
        if failure is not None:
            failed[case_id] = failure.reason
    assert failed == {}


def test_a_missing_task_id_is_explained(cases_by_id: dict[str, Case]) -> None:
    failure = run_case(cases_by_id["echo-object"], mutant("no-task-id")).failure
    assert isinstance(failure, Mismatch)
    assert failure.message == "message 1 of 1: task_id: missing"
    assert failure.hint.startswith("a result MUST echo the task's task_id (protocol section 7); expected ")


def test_a_lone_surrogate_on_stdout_is_refused(cases_by_id: dict[str, Case]) -> None:
    failure = run_case(cases_by_id["unserialisable-string"], mutant("writes-lone-surrogate")).failure
    assert isinstance(failure, InvalidResponse)
    assert failure.message == (
        "a stdout line holds the lone surrogate escape \\ud800, which is not Unicode text"
    )
    assert failure.line is not None
    assert "\\ud800" in failure.line


def test_a_handler_that_gives_up_on_a_long_line_is_not_reported_as_failing_to_start(
    cases_by_id: dict[str, Case],
) -> None:
    failure = run_case(cases_by_id["payload-16mib-round-trip"], mutant("64kib-lines")).failure
    assert isinstance(failure, UnexpectedExit)
    assert failure.message == "the handler exited with status 0 before its first answer"
    assert "the case sent a line of 16,777,287 bytes: lines of at least 64 MiB must be read" in failure.hint
