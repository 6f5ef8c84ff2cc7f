"""When a periodic task is due: pure functions over a cron expression (parsed and walked by
``cronsim``, which handles daylight saving time) or a fixed interval.

Due times are Unix seconds. An interval's due times are the multiples of it since the Unix
epoch, so every daemon (and every restart) computes the same ones without asking the others;
a cron expression's are its matches in its time zone.
"""

from __future__ import annotations

import math
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property

from cronsim import CronSim, CronSimError


class TimingError(ValueError):
    """Raised when a cron expression, an interval or a time zone is not valid."""


def zone(name: str) -> zoneinfo.ZoneInfo:
    """The IANA time zone ``name``; TimingError when there is none by that name."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise TimingError(f"{name!r} is not an IANA time zone (e.g. 'UTC', 'Europe/Riga')") from None


def check_cron(expression: str) -> None:
    """TimingError naming the problem when cronsim cannot parse ``expression``."""
    try:
        CronSim(expression, datetime.now(UTC))
    except CronSimError as exc:
        raise TimingError(f"{expression!r} is not a cron expression: {exc}") from None


@dataclass(frozen=True)
class Timing:
    """A cron expression in a time zone, or an interval in seconds: exactly one of them."""

    cron: str | None = None
    every: float | None = None
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        if (self.cron is None) == (self.every is None):
            raise TimingError("give exactly one of cron and every")
        if self.every is not None and not (self.every > 0 and math.isfinite(self.every)):
            raise TimingError(f"every must be more than 0 seconds, got {self.every!r}")
        if self.cron is not None:
            check_cron(self.cron)
        zone(self.timezone)

    @cached_property
    def _zone(self) -> zoneinfo.ZoneInfo:
        return zone(self.timezone)

    @property
    def key(self) -> str:
        """What identifies the due times: stored with a schedule's state, so that a changed
        definition is noticed (and starts from now)."""
        if self.every is not None:
            return f"every {self.every:g}s"
        return f"cron {self.cron} {self.timezone}"

    def next_after(self, moment: float) -> float:
        """The first due time strictly after ``moment``."""
        if self.every is not None:
            due = (math.floor(moment / self.every) + 1) * self.every
            return due if due > moment else due + self.every  # float rounding at a boundary
        start = datetime.fromtimestamp(math.floor(moment), self._zone)
        return next(iter(CronSim(self._expression, start))).timestamp()

    def latest_at_or_before(self, moment: float) -> float:
        """The last due time at or before ``moment``."""
        if self.every is not None:
            due = math.floor(moment / self.every) * self.every
            return due if due <= moment else due - self.every
        # cronsim walks backwards to strictly before its start: start one second after.
        start = datetime.fromtimestamp(math.floor(moment), self._zone) + timedelta(seconds=1)
        return next(iter(CronSim(self._expression, start, reverse=True))).timestamp()

    @property
    def _expression(self) -> str:
        assert self.cron is not None
        return self.cron


def due_iso(due: float) -> str:
    """A due time as ISO 8601 UTC, as it appears in run keys and the API (whole seconds unless
    an interval has a fraction)."""
    moment = datetime.fromtimestamp(due, UTC)
    spec = "seconds" if moment.microsecond == 0 else "milliseconds"
    return moment.isoformat(timespec=spec).replace("+00:00", "Z")


def run_key(schedule: str, due: float) -> str:
    """The idempotency key of a schedule's run at ``due``."""
    return f"schedule:{schedule}:{due_iso(due)}"
