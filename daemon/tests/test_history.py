"""history.py: the last hour, minute by minute, of finished tasks and queue depth."""

from __future__ import annotations

from taskdaemond.defaults import BUCKET_SECONDS, BUCKETS
from taskdaemond.history import History
from taskdaemond.queue.models import Transition
from taskdaemond.statuses import TaskStatus

T0 = 1_800_000_000.0  # a minute boundary


def done(status: TaskStatus, n: int) -> list[Transition]:
    return [Transition(f"t{i}", status) for i in range(n)]


def test_finished_tasks_and_depth_land_in_their_minute() -> None:
    history = History()
    history.finished(done(TaskStatus.COMPLETED, 3) + done(TaskStatus.PENDING, 2), T0 + 5)
    history.finished(done(TaskStatus.FAILED, 1), T0 + 59)
    history.depth(7, T0 + 30)
    history.finished(done(TaskStatus.COMPLETED, 2), T0 + 61)
    series = history.series(T0 + 61)
    assert len(series) == BUCKETS and series[-1].start == T0 + BUCKET_SECONDS
    last, before = series[-1], series[-2]
    assert (before.completed, before.failed, before.depth) == (3, 1, 7)
    assert (last.completed, last.failed, last.depth) == (2, 0, None)
    assert all(p.completed == 0 for p in series[:-2])


def test_points_older_than_an_hour_are_dropped() -> None:
    history = History()
    history.finished(done(TaskStatus.COMPLETED, 4), T0)
    later = T0 + BUCKETS * BUCKET_SECONDS
    history.depth(1, later)
    series = history.series(later)
    assert sum(p.completed for p in series) == 0 and series[0].start == T0 + BUCKET_SECONDS
