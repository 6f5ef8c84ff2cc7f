"""Retry delays: pure arithmetic, no clock and no queue."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from taskdaemond import defaults


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    """Delay before a retry: ``initial * multiplier**attempt``, capped at ``maximum``, +/- ``jitter``.

    All durations in seconds; ``jitter`` is a fraction of the delay.
    """

    initial: float = defaults.DEFAULT_BACKOFF_INITIAL
    multiplier: float = defaults.DEFAULT_BACKOFF_MULTIPLIER
    maximum: float = defaults.DEFAULT_BACKOFF_MAX
    jitter: float = defaults.DEFAULT_BACKOFF_JITTER


def compute_backoff(
    attempt: int,
    policy: BackoffPolicy,
    *,
    retry_after: float | None = None,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before the attempt after ``attempt`` (zero-based) runs.

    A handler's ``retry_after`` wins over the computed delay, capped by ``policy.maximum``
    and without jitter (the handler asked for a precise wait). ``rand`` returns a float in
    [0, 1) and exists so tests can pin the jitter.
    """
    if attempt < 0:
        raise ValueError(f"attempt must be >= 0, got {attempt}")
    if retry_after is not None:
        return max(0.0, min(float(retry_after), policy.maximum))
    try:
        delay = min(policy.initial * policy.multiplier**attempt, policy.maximum)
    except OverflowError:  # a huge attempt number: the cap applies
        delay = policy.maximum
    spread = delay * policy.jitter * (2.0 * rand() - 1.0)
    return max(0.0, min(delay + spread, policy.maximum))
