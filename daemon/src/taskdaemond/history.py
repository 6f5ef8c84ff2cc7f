"""The last hour of this daemon, minute by minute, for the dashboard's chart: tasks finished
(completed and failed, as committed) and the queue depth as last read in each minute.

Kept in memory: it starts empty when the daemon starts, and with a shared queue it counts the
tasks this daemon finished (the depth is the shared queue's)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from taskdaemond import defaults
from taskdaemond.queue.models import Transition
from taskdaemond.statuses import TaskStatus


@dataclass(slots=True)
class Point:
    """One minute: its start (Unix seconds), tasks completed and failed, the queue depth last
    read in it (None: not read in that minute)."""

    start: int
    completed: int = 0
    failed: int = 0
    depth: int | None = None


class History:
    """A ring of ``defaults.BUCKETS`` minutes."""

    def __init__(self) -> None:
        self._points: dict[int, Point] = {}

    def _point(self, now: float) -> Point:
        start = int(now // defaults.BUCKET_SECONDS) * defaults.BUCKET_SECONDS
        point = self._points.get(start)
        if point is None:
            point = self._points[start] = Point(start)
            oldest = start - defaults.BUCKETS * defaults.BUCKET_SECONDS
            for key in [k for k in self._points if k <= oldest]:
                del self._points[key]
        return point

    def finished(self, transitions: Sequence[Transition], now: float) -> None:
        """Count the committed transitions that finished a task."""
        completed = failed = 0
        for transition in transitions:
            if transition.status is TaskStatus.COMPLETED:
                completed += 1
            elif transition.status is TaskStatus.FAILED:
                failed += 1
        if completed or failed:
            point = self._point(now)
            point.completed += completed
            point.failed += failed

    def depth(self, depth: int, now: float) -> None:
        self._point(now).depth = depth

    def series(self, now: float) -> list[Point]:
        """The last hour, oldest first, a point for every minute (empty ones included)."""
        last = int(now // defaults.BUCKET_SECONDS) * defaults.BUCKET_SECONDS
        starts = range(
            last - (defaults.BUCKETS - 1) * defaults.BUCKET_SECONDS, last + 1, defaults.BUCKET_SECONDS
        )
        return [self._points.get(start) or Point(start) for start in starts]
