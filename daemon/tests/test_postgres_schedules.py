"""Periodic tasks on one PostgreSQL queue shared by two daemons: each due time is enqueued once
(the keys are unique and there are no gaps), whichever daemon gets there first, and both list
the same progress."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from tests.helpers import handler_table, wait_until
from tests.pghelpers import fleet, query

SCHEDULES = {"beat": {"task_type": "echo", "every": "1s", "data": {"echo": "tick"}}}
HANDLERS = {"echo": handler_table("behave", instances=1)}
RUNS = 8


def due_second(key: str) -> int:
    stamp = key.split(":", 2)[2]
    return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp())


def test_two_daemons_on_one_queue_enqueue_each_due_time_once(tmp_path: Path, postgres_url: str) -> None:
    with fleet(tmp_path, postgres_url) as daemons:
        a = daemons.start(HANDLERS, schedules=SCHEDULES)
        b = daemons.start(HANDLERS, schedules=SCHEDULES)

        def runs() -> int:
            rows = query(postgres_url, "SELECT runs FROM schedules WHERE name = 'beat'")
            return int(rows[0][0]) if rows else 0

        wait_until(lambda: runs() >= RUNS, timeout=60, what=f"{RUNS} runs of the schedule")
        listed: list[dict[str, Any]] = [
            httpx.get(f"{d.url}/api/schedules", timeout=10).json()["schedules"][0] for d in (a, b)
        ]
        assert {entry["name"] for entry in listed} == {"beat"}
        daemons.stop_all()

    keys = [
        row[0]
        for row in query(
            postgres_url, "SELECT idempotency_key FROM tasks WHERE idempotency_key LIKE 'schedule:beat:%%'"
        )
    ]
    assert len(keys) == len(set(keys)) >= RUNS
    seconds = sorted(due_second(key) for key in keys)
    assert seconds == list(range(seconds[0], seconds[0] + len(seconds)))  # no gaps
    [(stored_runs, last_task_id)] = query(
        postgres_url, "SELECT runs, last_task_id FROM schedules WHERE name = 'beat'"
    )
    assert stored_runs == len(keys)
    [(last_key,)] = query(postgres_url, "SELECT idempotency_key FROM tasks WHERE id = %s", (last_task_id,))
    assert due_second(last_key) == seconds[-1]
