"""Each outcome's own classification: error type, retryability, counter, the instance's fate,
and the result message `taskdaemond call` prints for it."""

from __future__ import annotations

import pytest

from taskdaemond.runtime import (
    Aborted,
    Crashed,
    HandlerFailed,
    InstanceFate,
    Outcome,
    ProtocolViolation,
    Succeeded,
    TimedOut,
)
from taskdaemond.statuses import TaskStatus

CASES: list[tuple[Outcome, str | None, bool, str | None, InstanceFate, bool]] = [
    # outcome, error_type, retryable, counter, fate, answered
    (Succeeded(1), None, False, None, InstanceFate.KEEP, True),
    (HandlerFailed("e", retryable=True, error_type="Busy"), "Busy", True, None, InstanceFate.KEEP, True),
    (HandlerFailed("e"), None, False, None, InstanceFate.KEEP, True),
    (Crashed("c"), "HandlerCrashed", True, "crashes", InstanceFate.REPLACE_AFTER_FAILURE, False),
    (TimedOut("t"), "Timeout", True, "timeouts", InstanceFate.REPLACE_AFTER_FAILURE, False),
    (ProtocolViolation("p"), "ProtocolError", False, None, InstanceFate.KEEP, True),
    (ProtocolViolation("p", restart=True), "ProtocolError", False, None, InstanceFate.REPLACE, True),
    (Aborted(TaskStatus.CANCELLED), "Interrupted", True, None, InstanceFate.REPLACE, False),
]


@pytest.mark.parametrize(("outcome", "error_type", "retryable", "counter", "fate", "answered"), CASES)
def test_each_outcome_classifies_itself(
    outcome: Outcome,
    error_type: str | None,
    retryable: bool,
    counter: str | None,
    fate: InstanceFate,
    answered: bool,
) -> None:
    assert (outcome.error_type, outcome.retryable, outcome.counter, outcome.fate, outcome.answered) == (
        error_type,
        retryable,
        counter,
        fate,
        answered,
    )


def test_only_an_attempt_the_daemon_stopped_itself_is_not_measured() -> None:
    assert [o.measured for o, *_ in CASES] == [True] * 7 + [False]


def test_results_say_what_the_handler_said_or_what_went_wrong() -> None:
    assert Succeeded([1], {"ms": 2}).as_result() == {
        "status": "success",
        "result": [1],
        "metadata": {"ms": 2},
    }
    assert HandlerFailed("no", retry_after=3.0, traceback="tb").as_result() == {
        "status": "error",
        "error": "no",
        "retryable": False,
        "error_type": None,
        "retry_after": 3.0,
        "traceback": "tb",
    }
    assert Crashed("gone", stderr_tail=["x"]).as_result() == {
        "status": "error",
        "error": "gone",
        "retryable": True,
        "error_type": "HandlerCrashed",
    }
    assert Aborted(TaskStatus.INTERRUPTED).as_result()["error"] == "interrupted"


def test_a_crash_keeps_its_stderr_tail_as_the_traceback() -> None:
    assert Crashed("c", stderr_tail=["line 1", "line 2"]).traceback == "line 1\nline 2"
    assert Crashed("c").traceback is None
