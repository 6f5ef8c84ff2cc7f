"""Broken handlers (3-line shell scripts in tests/broken/) are each caught with the right reason."""

from __future__ import annotations

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

from support import broken

# A short time limit (10 s scaled by 0.05) keeps the hanging handler's test quick.
QUICK = 0.05


def _failure(case: Case, target: Target, timeout_factor: float = 1.0) -> CaseFailed:
    result = run_case(case, target, timeout_factor=timeout_factor)
    assert result.failure is not None, f"{target.name} passed {case.id}"
    return result.failure


def test_it_handles_handlers_that_exit_at_once(cases_by_id: dict[str, Case]) -> None:
    failure = _failure(cases_by_id["echo-object"], broken("exits_at_once"))
    assert isinstance(failure, StartupFailed)
    assert failure.message == "the handler exited with status 1 before its first answer"
    assert "cannot start: missing config" in failure.hint


def test_it_handles_handlers_that_exit_0_without_answering(cases_by_id: dict[str, Case]) -> None:
    failure = _failure(cases_by_id["echo-object"], broken("exits_0_at_once"))
    assert isinstance(failure, UnexpectedExit)
    assert failure.message == "the handler exited with status 0 before its first answer"
    assert failure.hint.startswith("it took its input as ended")


def test_it_handles_commands_that_cannot_start(cases_by_id: dict[str, Case]) -> None:
    failure = _failure(cases_by_id["echo-object"], Target("missing", ("/nonexistent/handler",)))
    assert isinstance(failure, StartupFailed)
    assert failure.message.startswith("cannot start '/nonexistent/handler'")


def test_it_handles_sdks_that_are_not_set_up(cases_by_id: dict[str, Case]) -> None:
    target = Target("typescript", (), unavailable="node_modules/taskdaemon is missing")
    failure = _failure(cases_by_id["echo-object"], target)
    assert isinstance(failure, StartupFailed)
    assert failure.message == "node_modules/taskdaemon is missing"


def test_it_handles_handlers_that_print_non_json(cases_by_id: dict[str, Case]) -> None:
    failure = _failure(cases_by_id["echo-object"], broken("prints_non_json"))
    assert isinstance(failure, InvalidResponse)
    assert failure.message == "a stdout line is not a JSON object"
    assert failure.line == "hello from the handler"


def test_it_handles_handlers_that_answer_twice(cases_by_id: dict[str, Case]) -> None:
    failure = _failure(cases_by_id["echo-object"], broken("answers_twice"))
    assert isinstance(failure, Mismatch)
    assert failure.message == "1 message(s) more than the 1 expected"


def test_it_handles_handlers_that_echo_the_wrong_id(cases_by_id: dict[str, Case]) -> None:
    failure = _failure(cases_by_id["echo-object"], broken("wrong_id"))
    assert isinstance(failure, Mismatch)
    assert failure.message == "message 1 of 1: task_id: expected 'e1', got 'not-e1'"
    assert failure.line is not None
    assert '"task_id":"not-e1"' in failure.line


def test_it_handles_handlers_that_hang(cases_by_id: dict[str, Case]) -> None:
    failure = _failure(cases_by_id["echo-object"], broken("hangs"), timeout_factor=QUICK)
    assert isinstance(failure, HandlerTimeout)
    assert failure.message.startswith("no further output, or the end of stdout within the case's time limit")


def test_it_handles_results_that_break_the_schema(cases_by_id: dict[str, Case]) -> None:
    failure = _failure(cases_by_id["echo-object"], broken("breaks_schema"))
    assert isinstance(failure, InvalidResponse)
    assert failure.message == "a result breaks result.schema.json at (top): 'error' is a required property"


def test_it_handles_results_holding_nan(cases_by_id: dict[str, Case]) -> None:
    failure = _failure(cases_by_id["echo-object"], broken("writes_nan"))
    assert isinstance(failure, InvalidResponse)
    assert failure.message == "a stdout line holds NaN or Infinity, which are not JSON"


def test_it_handles_objects_that_are_neither_result_nor_event(cases_by_id: dict[str, Case]) -> None:
    failure = _failure(cases_by_id["echo-object"], broken("writes_neither"))
    assert isinstance(failure, InvalidResponse)
    assert failure.line == '{"hello":"world"}'


def test_it_handles_the_wrong_exit_status(cases_by_id: dict[str, Case]) -> None:
    failure = _failure(cases_by_id["echo-object"], broken("wrong_exit_status"))
    assert isinstance(failure, UnexpectedExit)
    assert failure.message == "the handler exited with status 4, expected status 0"


def test_it_handles_handlers_that_stop_after_some_answers(cases_by_id: dict[str, Case]) -> None:
    # wrong_exit_status answers every line with e1's result: the second task of a two-task case differs.
    failure = _failure(cases_by_id["result-booleans"], broken("wrong_exit_status"))
    assert isinstance(failure, Mismatch)
    assert failure.message.startswith("message 1 of 2: result: expected True, got ")


@pytest.mark.parametrize("name", ["exits_at_once", "hangs", "answers_twice"])
def test_a_failure_has_a_one_line_reason(cases_by_id: dict[str, Case], name: str) -> None:
    failure = _failure(cases_by_id["echo-object"], broken(name), timeout_factor=QUICK)
    assert "\n" not in failure.reason
    assert failure.reason.startswith(f"{failure.kind}: ")
