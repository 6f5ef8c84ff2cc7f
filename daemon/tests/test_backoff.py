"""compute_backoff: exponential, capped, jittered; retry_after wins, capped."""

import pytest

from taskdaemond.backoff import BackoffPolicy, compute_backoff

NO_JITTER = BackoffPolicy(initial=1.0, multiplier=2.0, maximum=300.0, jitter=0.0)


def test_delay_doubles_with_each_attempt() -> None:
    assert [compute_backoff(a, NO_JITTER) for a in range(4)] == [1.0, 2.0, 4.0, 8.0]


def test_delay_is_capped_at_the_maximum() -> None:
    assert compute_backoff(20, NO_JITTER) == 300.0


def test_huge_attempt_numbers_do_not_overflow() -> None:
    policy = BackoffPolicy(initial=1.0, multiplier=1e6, maximum=60.0, jitter=0.5)
    assert compute_backoff(10_000, policy) <= 60.0


@pytest.mark.parametrize(("rand", "expected"), [(0.0, 9.0), (0.5, 10.0), (0.999999, 11.0)])
def test_jitter_spreads_the_delay_by_the_fraction_either_way(rand: float, expected: float) -> None:
    policy = BackoffPolicy(initial=10.0, multiplier=2.0, maximum=300.0, jitter=0.1)
    assert compute_backoff(0, policy, rand=lambda: rand) == pytest.approx(expected, abs=1e-4)


def test_jitter_never_pushes_past_the_maximum() -> None:
    policy = BackoffPolicy(initial=100.0, multiplier=2.0, maximum=100.0, jitter=0.5)
    assert compute_backoff(3, policy, rand=lambda: 0.99) == 100.0


def test_retry_after_wins_over_the_computed_delay() -> None:
    assert compute_backoff(5, NO_JITTER, retry_after=0.25) == 0.25


def test_retry_after_is_capped_at_the_maximum() -> None:
    assert compute_backoff(0, NO_JITTER, retry_after=10_000) == 300.0


def test_negative_attempt_is_refused() -> None:
    with pytest.raises(ValueError, match="attempt must be >= 0"):
        compute_backoff(-1, NO_JITTER)
