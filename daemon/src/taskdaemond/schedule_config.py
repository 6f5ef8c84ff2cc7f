"""The [schedules.<name>] tables of handlers.toml: periodic tasks, typed and checked beyond
what the schema can say (the task type is configured, the cron expression parses, the time
zone exists), each error naming the schedule and the key."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from taskdaemond import defaults
from taskdaemond.errors import ConfigError
from taskdaemond.schedule_timing import Timing, TimingError, check_cron, zone


@dataclass(frozen=True)
class ScheduleConfig:
    """One [schedules.<name>] table, with every default filled in."""

    name: str
    task_type: str
    timing: Timing
    data: Mapping[str, Any] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    priority: int | None = None
    max_retries: int | None = None
    catch_up: bool = defaults.DEFAULT_SCHEDULE_CATCH_UP
    enabled: bool = defaults.DEFAULT_SCHEDULE_ENABLED


def parse_schedules(
    tables: Mapping[str, Mapping[str, Any]],
    task_types: Collection[str],
    source: str,
    parse_duration: Callable[[Any], float],
) -> dict[str, ScheduleConfig]:
    """The schedules of an already schema-validated document; ConfigError naming
    ``schedules.<name>.<key>`` for what only the daemon can check."""
    return {
        name: _schedule(name, table, task_types, source, parse_duration) for name, table in tables.items()
    }


def _schedule(
    name: str,
    table: Mapping[str, Any],
    task_types: Collection[str],
    source: str,
    parse_duration: Callable[[Any], float],
) -> ScheduleConfig:
    def fail(key: str, problem: str) -> ConfigError:
        return ConfigError(source, f"schedules.{name}.{key}", problem)

    task_type = table["task_type"]
    if task_type not in task_types:
        close = difflib.get_close_matches(task_type, list(task_types), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        configured = ", ".join(repr(t) for t in sorted(task_types))
        raise fail("task_type", f"{task_type!r} is not a configured handler{hint}; configured: {configured}")
    timezone = table.get("timezone", defaults.DEFAULT_SCHEDULE_TIMEZONE)
    try:
        zone(timezone)
    except TimingError as exc:
        raise fail("timezone", str(exc)) from None
    cron = table.get("cron")
    every: float | None = None
    if cron is not None:
        try:
            check_cron(cron)
        except TimingError as exc:
            raise fail("cron", str(exc)) from None
    else:
        try:
            every = parse_duration(table["every"])
        except ValueError as exc:
            raise fail("every", str(exc)) from None
        if not every:
            raise fail("every", f"{table['every']!r} is no interval: it must be more than 0 seconds")
    return ScheduleConfig(
        name=name,
        task_type=task_type,
        timing=Timing(cron=cron, every=every, timezone=timezone),
        data=dict(table.get("data", {})),
        tags=dict(table.get("tags", {})),
        priority=table.get("priority"),
        max_retries=table.get("max_retries"),
        catch_up=table.get("catch_up", defaults.DEFAULT_SCHEDULE_CATCH_UP),
        enabled=table.get("enabled", defaults.DEFAULT_SCHEDULE_ENABLED),
    )
