"""The retry decision on its own: every outcome, inside and at the end of the retry budget."""

from __future__ import annotations

import json

import pytest

from taskdaemond.backoff import BackoffPolicy
from taskdaemond.queue.models import ClaimedTask
from taskdaemond.retries import INTERRUPTED_MESSAGE, RetryPolicy, decide
from taskdaemond.runtime import (
    Aborted,
    Crashed,
    HandlerFailed,
    Outcome,
    ProtocolViolation,
    Succeeded,
    TimedOut,
)
from taskdaemond.statuses import TaskStatus

NOW = 1_000.0
POLICY = RetryPolicy(BackoffPolicy(initial=2.0, multiplier=3.0, maximum=100.0, jitter=0.5))


def task(attempt: int = 0, max_retries: int = 3) -> ClaimedTask:
    return ClaimedTask("t1", "echo", "{}", attempt, max_retries, 50, 7)


def mid_jitter() -> float:
    return 0.5  # no spread: the delay is exactly initial * multiplier**attempt


def test_success_completes_the_task_with_its_result_and_metadata() -> None:
    transition = decide(task(), Succeeded({"n": 1}, {"ms": 3}), POLICY, NOW)
    assert transition.status is TaskStatus.COMPLETED and transition.error is None
    assert (json.loads(transition.result_json or ""), json.loads(transition.metadata_json or "")) == (
        {"n": 1},
        {"ms": 3},
    )
    assert (transition.seq, transition.task_type, transition.counters) == (7, "echo", ("completed",))


def test_retryable_error_within_the_budget_runs_again_after_the_backoff() -> None:
    transition = decide(
        task(attempt=1),
        HandlerFailed("busy", retryable=True, error_type="Busy"),
        POLICY,
        NOW,
        rand=mid_jitter,
    )
    assert transition.status is TaskStatus.PENDING
    assert transition.run_at == NOW + 2.0 * 3.0**1
    assert transition.error is not None
    assert (transition.error.attempt, transition.error.error, transition.error.error_type) == (
        1,
        "busy",
        "Busy",
    )
    assert transition.counters == ("retried",)


def test_retry_after_from_the_handler_replaces_the_backoff_capped_by_its_maximum() -> None:
    asks_five = HandlerFailed("later", retryable=True, retry_after=5.0)
    asks_too_much = HandlerFailed("later", retryable=True, retry_after=10_000.0)
    assert decide(task(), asks_five, POLICY, NOW).run_at == NOW + 5.0
    assert decide(task(), asks_too_much, POLICY, NOW).run_at == NOW + 100.0


def test_retryable_error_with_the_budget_spent_fails_the_task() -> None:
    transition = decide(task(attempt=3, max_retries=3), HandlerFailed("busy", retryable=True), POLICY, NOW)
    assert transition.status is TaskStatus.FAILED and transition.run_at is None
    assert transition.counters == ("failed",)


@pytest.mark.parametrize(
    "outcome",
    [HandlerFailed("bad input"), ProtocolViolation("ProtocolError: not a result")],
    ids=["handler-says-no-retry", "protocol-error"],
)
def test_a_failure_that_is_not_retryable_fails_at_the_first_attempt(outcome: Outcome) -> None:
    transition = decide(task(attempt=0, max_retries=10), outcome, POLICY, NOW)
    assert transition.status is TaskStatus.FAILED
    assert transition.error is not None and transition.error.retryable is False


def test_crash_is_retried_counted_as_a_crash_and_keeps_the_stderr_tail() -> None:
    transition = decide(
        task(), Crashed("HandlerCrashed: exit 3", exit_code=3, stderr_tail=["a", "b"]), POLICY, NOW
    )
    assert transition.status is TaskStatus.PENDING and transition.crashed is True
    assert transition.error is not None
    assert (transition.error.error_type, transition.error.traceback, transition.error.crashed) == (
        "HandlerCrashed",
        "a\nb",
        True,
    )
    assert transition.counters == ("retried", "crashes")


def test_timeout_at_the_end_of_the_budget_fails_and_counts_a_timeout() -> None:
    transition = decide(task(attempt=3, max_retries=3), TimedOut("Timeout: 1 s"), POLICY, NOW)
    assert transition.status is TaskStatus.FAILED and transition.crashed is False
    assert transition.error is not None and transition.error.error_type == "Timeout"
    assert transition.counters == ("failed", "timeouts")


def test_cancel_by_the_daemon_cancels_without_an_error_or_a_counter() -> None:
    transition = decide(task(), Aborted(TaskStatus.CANCELLED), POLICY, NOW)
    assert (transition.status, transition.error, transition.counters) == (TaskStatus.CANCELLED, None, ())


def test_interrupted_at_shutdown_goes_back_to_pending_at_once_spending_no_retry() -> None:
    transition = decide(task(attempt=3, max_retries=3), Aborted(TaskStatus.INTERRUPTED), POLICY, NOW)
    assert (transition.status, transition.run_at, transition.counters) == (TaskStatus.PENDING, NOW, ())
    assert transition.error is not None
    assert (transition.error.error, transition.error.error_type) == (INTERRUPTED_MESSAGE, "Interrupted")


def test_interrupted_ends_interrupted_when_the_handler_does_not_requeue() -> None:
    policy = RetryPolicy(POLICY.backoff, requeue_on_interrupt=False)
    transition = decide(task(), Aborted(TaskStatus.INTERRUPTED), policy, NOW)
    assert transition.status is TaskStatus.INTERRUPTED and transition.run_at is None
