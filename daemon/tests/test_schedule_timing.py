"""Due times of periodic tasks: intervals on the multiples since the epoch, cron expressions in
their time zone, daylight saving time as the cron library (cronsim) handles it."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from taskdaemond.schedule_timing import Timing, TimingError, run_key

NEW_YORK = ZoneInfo("America/New_York")


def local(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, NEW_YORK)


def test_an_interval_is_due_on_its_multiples_since_the_epoch() -> None:
    every = Timing(every=300)
    assert every.next_after(1000.0) == 1200.0
    assert every.next_after(1200.0) == 1500.0  # strictly after
    assert every.latest_at_or_before(1200.0) == 1200.0
    assert every.latest_at_or_before(1199.9) == 900.0


def test_a_daily_cron_in_new_york_runs_once_a_day_across_both_changes_of_2026() -> None:
    # 02:30 does not exist on 8 March 2026 (clocks go 02:00 -> 03:00): the run is at 03:00.
    daily = Timing(cron="30 2 * * *", timezone="America/New_York")
    start = datetime(2026, 3, 7, 12, tzinfo=NEW_YORK).timestamp()
    first = daily.next_after(start)
    second = daily.next_after(first)
    assert local(first).isoformat() == "2026-03-08T03:00:00-04:00"
    assert local(second).isoformat() == "2026-03-09T02:30:00-04:00"
    assert second - first == 23.5 * 3600
    # 01:30 happens twice on 1 November 2026 (02:00 -> 01:00): the run is once, at the first.
    early = Timing(cron="30 1 * * *", timezone="America/New_York")
    start = datetime(2026, 10, 31, 12, tzinfo=NEW_YORK).timestamp()
    first = early.next_after(start)
    second = early.next_after(first)
    assert local(first).isoformat() == "2026-11-01T01:30:00-04:00"
    assert local(second).isoformat() == "2026-11-02T01:30:00-05:00"
    assert second - first == 25 * 3600


def test_the_latest_due_time_walks_back_across_a_change_too() -> None:
    daily = Timing(cron="30 2 * * *", timezone="America/New_York")
    after = datetime(2026, 3, 8, 12, tzinfo=NEW_YORK).timestamp()
    assert local(daily.latest_at_or_before(after)).isoformat() == "2026-03-08T03:00:00-04:00"


def test_a_cron_without_a_zone_is_read_in_utc() -> None:
    hourly = Timing(cron="0 * * * *")
    start = datetime(2026, 12, 6, 5, 10, tzinfo=UTC).timestamp()
    assert datetime.fromtimestamp(hourly.next_after(start), UTC).hour == 6


def test_a_run_key_names_the_schedule_and_the_due_time_in_utc() -> None:
    due = datetime(2026, 12, 6, 5, 0, tzinfo=UTC).timestamp()
    assert run_key("nightly", due) == "schedule:nightly:2026-12-06T05:00:00Z"
    assert run_key("fast", 10.5) == "schedule:fast:1970-01-01T00:00:10.500Z"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"cron": "61 * * * *"}, "not a cron expression"),
        ({"cron": "* * *"}, "not a cron expression"),
        ({"cron": "0 9 * * *", "timezone": "Mars/Olympus"}, "not an IANA time zone"),
        ({"every": 0.0}, "more than 0"),
        ({}, "exactly one of cron and every"),
        ({"cron": "* * * * *", "every": 5.0}, "exactly one of cron and every"),
    ],
)
def test_a_bad_timing_is_refused_saying_why(settings: dict[str, object], message: str) -> None:
    with pytest.raises(TimingError, match=message):
        Timing(**settings)  # type: ignore[arg-type]
