"""Claim sizing, as pure arithmetic: how many tasks the dispatcher holds ready, and when it claims."""

from __future__ import annotations

from taskdaemond import defaults
from taskdaemond.dispatch import claim_limit, needs_claim, next_rate


def test_claim_takes_one_task_per_idle_instance_when_nothing_ran_yet() -> None:
    assert claim_limit(rate=0.0, idle=3, batch_size=64) == 3


def test_claim_takes_at_least_one_task_even_with_every_instance_busy() -> None:
    assert claim_limit(rate=0.0, idle=0, batch_size=64) == 1


def test_claim_adds_the_recent_throughput_of_claim_ahead_seconds() -> None:
    rate = 1_000.0
    assert claim_limit(rate=rate, idle=2, batch_size=1_000) == 2 + int(rate * defaults.CLAIM_AHEAD_SECONDS)


def test_claim_never_exceeds_the_batch_size() -> None:
    assert claim_limit(rate=1e9, idle=500, batch_size=64) == 64


def test_buffer_is_refilled_once_it_runs_below_half_of_the_limit() -> None:
    assert [needs_claim(buffered, limit=10) for buffered in (0, 4, 5, 9)] == [True, True, False, False]
    assert needs_claim(0, limit=1) and not needs_claim(1, limit=1)


def test_rate_blends_the_old_rate_and_the_new_measurement_evenly() -> None:
    assert next_rate(100.0, taken=30, elapsed=0.1) == 0.5 * 100.0 + 0.5 * 300.0


def test_rate_is_unchanged_without_a_measurement() -> None:
    assert next_rate(42.0, taken=0, elapsed=1.0) == 42.0
    assert next_rate(42.0, taken=5, elapsed=0.0) == 42.0
