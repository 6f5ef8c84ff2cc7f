"""The stored progress of periodic tasks (the ``schedules`` table, migration 0004), and the
compare-and-set both SQL engines run on it.

A daemon reads a schedule's row, decides which due time comes next, and moves the row on with
``UPDATE ... WHERE last_due = <what it read>`` (or inserts the first row with ``ON CONFLICT DO
NOTHING``) in the transaction that enqueues the run. Two daemons deciding at once: one update
matches, the other matches nothing and enqueues nothing. So a due time is enqueued once, even
if retention later prunes the task that holds its idempotency key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ScheduleState:
    """A schedule's row. ``last_due`` is the last due time handled (a run enqueued, a missed
    run skipped, or the moment the schedule started from); ``last_run_due`` and
    ``last_task_id`` are the last run actually enqueued."""

    name: str
    timing: str
    last_due: float
    last_run_due: float | None = None
    last_task_id: str | None = None
    runs: int = 0
    updated_at: float = 0.0


@dataclass(frozen=True, slots=True)
class ScheduleAdvance:
    """What ``advance_schedule`` did: ``won`` the compare-and-set (else another daemon moved
    the schedule first and nothing was written); the run's task id when one was enqueued, and
    whether it was created (False: a task already held the run's idempotency key)."""

    won: bool
    task_id: str | None = None
    created: bool = False


def state_of(row: tuple[Any, ...]) -> ScheduleState:
    name, timing, last_due, last_run_due, last_task_id, runs, updated_at = row
    return ScheduleState(name, timing, last_due, last_run_due, last_task_id, int(runs), updated_at)


SELECT_STATES = (
    "SELECT name, timing, last_due, last_run_due, last_task_id, runs, updated_at FROM schedules ORDER BY name"
)

#: The first row of a schedule; matches nothing when another daemon inserted it first.
SQLITE_INSERT_STATE = (
    "INSERT INTO schedules (name, timing, last_due, updated_at) VALUES (:name, :timing, :due, :now) "
    "ON CONFLICT (name) DO NOTHING"
)
#: The compare-and-set: moves the row on only from the state this daemon read.
SQLITE_ADVANCE_STATE = (
    "UPDATE schedules SET timing = :timing, last_due = :due, updated_at = :now "
    "WHERE name = :name AND timing = :old_timing AND last_due = :old_due"
)
#: Records the run enqueued for the due time just claimed.
SQLITE_RECORD_RUN = (
    "UPDATE schedules SET last_run_due = :due, last_task_id = :task_id, runs = runs + 1 WHERE name = :name"
)


#: The same statements with psycopg's placeholders.
POSTGRES_INSERT_STATE = (
    "INSERT INTO schedules (name, timing, last_due, updated_at) "
    "VALUES (%(name)s, %(timing)s, %(due)s, %(now)s) ON CONFLICT (name) DO NOTHING"
)
POSTGRES_ADVANCE_STATE = (
    "UPDATE schedules SET timing = %(timing)s, last_due = %(due)s, updated_at = %(now)s "
    "WHERE name = %(name)s AND timing = %(old_timing)s AND last_due = %(old_due)s"
)
POSTGRES_RECORD_RUN = (
    "UPDATE schedules SET last_run_due = %(due)s, last_task_id = %(task_id)s, runs = runs + 1 "
    "WHERE name = %(name)s"
)


def advance_params(
    expected: ScheduleState | None, name: str, timing: str, due: float, now: float
) -> dict[str, Any]:
    return {
        "name": name,
        "timing": timing,
        "due": due,
        "now": now,
        "old_timing": expected.timing if expected else None,
        "old_due": expected.last_due if expected else None,
    }
