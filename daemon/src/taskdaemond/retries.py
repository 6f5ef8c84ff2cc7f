"""The retry decision: what becomes of a task after one attempt. One pure function, no clock,
no queue and no pool, so every rule is tested on its own (tests/test_retries.py)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from taskdaemond import jsonfast
from taskdaemond.backoff import BackoffPolicy, compute_backoff
from taskdaemond.queue.models import AttemptError, ClaimedTask, Transition
from taskdaemond.runtime.outcomes import Aborted, Outcome, Succeeded
from taskdaemond.statuses import TaskStatus


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """A handler's retry settings: the backoff between attempts, and whether a task the
    daemon interrupted at shutdown runs again (else it ends ``interrupted``)."""

    backoff: BackoffPolicy
    requeue_on_interrupt: bool = True


#: Message of an attempt stopped by the daemon's shutdown.
INTERRUPTED_MESSAGE = "Interrupted: the daemon stopped while the task ran"


def decide(
    task: ClaimedTask,
    outcome: Outcome,
    policy: RetryPolicy,
    now: float,
    *,
    rand: Callable[[], float] = random.random,
) -> Transition:
    """The transition of ``task`` after ``outcome``: completed; failed for good; pending again
    at a backoff (a retryable failure within the task's retry budget); cancelled; or, for an
    attempt interrupted by shutdown, pending at once or ``interrupted``. ``rand`` pins the jitter."""
    if isinstance(outcome, Succeeded):
        return Transition(
            task.id,
            TaskStatus.COMPLETED,
            result_json=jsonfast.dumps(outcome.result),
            metadata_json=jsonfast.dumps(outcome.metadata) if outcome.metadata is not None else None,
            task_type=task.task_type,
            seq=task.seq,
            data_json=task.data_json,
            counters=(TaskStatus.COMPLETED.value,),
        )
    if isinstance(outcome, Aborted):
        return _aborted(task, outcome, policy, now)
    crashed = outcome.counter == "crashes"
    error = AttemptError(
        task.attempt,
        outcome.message,
        outcome.error_type,
        outcome.retryable,
        outcome.traceback,
        crashed=crashed,
        at=now,
    )
    extra = (outcome.counter,) if outcome.counter else ()
    if outcome.retryable and task.attempt < task.max_retries:
        delay = compute_backoff(task.attempt, policy.backoff, retry_after=outcome.retry_after, rand=rand)
        return Transition(
            task.id,
            TaskStatus.PENDING,
            error=error,
            run_at=now + delay,
            crashed=crashed,
            task_type=task.task_type,
            counters=("retried", *extra),
        )
    return Transition(
        task.id,
        TaskStatus.FAILED,
        error=error,
        crashed=crashed,
        task_type=task.task_type,
        counters=(TaskStatus.FAILED.value, *extra),
    )


def _aborted(task: ClaimedTask, outcome: Aborted, policy: RetryPolicy, now: float) -> Transition:
    """Stopped by the daemon: not the handler's fault, so no counter and no retry spent."""
    if outcome.cancelled:
        return Transition(task.id, TaskStatus.CANCELLED)
    error = AttemptError(task.attempt, INTERRUPTED_MESSAGE, outcome.error_type, True, at=now)
    if policy.requeue_on_interrupt:
        return Transition(task.id, TaskStatus.PENDING, error=error, run_at=now)
    return Transition(task.id, TaskStatus.INTERRUPTED, error=error)
