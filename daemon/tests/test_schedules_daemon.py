"""Periodic tasks on a real daemon: runs enqueued at their due times, each with its key, run by
real handlers, listed by GET /api/schedules and counted in /metrics; a restart goes on from
the stored progress."""

from __future__ import annotations

import re
import sqlite3
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from taskdaemond.schedule_timing import run_key
from tests.helpers import handler_table, serving, wait_until

SECOND: dict[str, Any] = {
    "task_type": "echo",
    "every": "1s",
    "data": {"echo": "tick"},
    "tags": {"kind": "beat"},
    "priority": 80,
    "max_retries": 0,
}


def scheduled_tasks(client: Any, name: str) -> list[dict[str, Any]]:
    tasks: list[dict[str, Any]] = client.get("/api/tasks", params={"limit": 1000}).json()["tasks"]
    return [t for t in tasks if (t["idempotency_key"] or "").startswith(f"schedule:{name}:")]


def due_seconds(task: dict[str, Any]) -> int:
    stamp = task["idempotency_key"].split(":", 2)[2]
    return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp())


def test_an_every_second_schedule_enqueues_runs_that_complete_each_with_its_key(tmp_path: Path) -> None:
    handlers = {"echo": handler_table("behave", instances=1)}
    with serving(tmp_path, handlers, schedules={"beat": SECOND}) as daemon, daemon.client() as client:

        def three_completed() -> list[dict[str, Any]] | None:
            done = [t for t in scheduled_tasks(client, "beat") if t["status"] == "completed"]
            return done if len(done) >= 3 else None

        done = wait_until(three_completed, timeout=30, what="three runs of the schedule completed")
        for task in done:
            assert task["result"] == {"echo": "tick", "attempt": 0}
            assert (task["tags"], task["priority"], task["max_retries"]) == ({"kind": "beat"}, 80, 0)
        tasks = scheduled_tasks(client, "beat")
        keys = [t["idempotency_key"] for t in tasks]
        assert len(keys) == len(set(keys))
        seconds = sorted(due_seconds(t) for t in tasks)
        assert seconds == list(range(seconds[0], seconds[0] + len(seconds)))  # no gaps

        [entry] = client.get("/api/schedules").json()["schedules"]
        assert (entry["name"], entry["task_type"], entry["every"], entry["cron"]) == ("beat", "echo", 1, None)
        assert (entry["timezone"], entry["catch_up"], entry["enabled"]) == ("UTC", True, True)
        assert entry["runs"] >= 3 and entry["last_task_id"] is not None
        assert entry["last_task_status"] in {"pending", "processing", "completed"}
        assert entry["next_due"] > entry["last_due"]
        metrics = client.get("/metrics").text
        assert 'schedule_runs_total{schedule="beat"}' in metrics


def test_a_restarted_daemon_goes_on_from_the_stored_progress(tmp_path: Path) -> None:
    handlers = {"echo": handler_table("behave", instances=1)}
    schedules: dict[str, dict[str, Any]] = {"beat": SECOND, "paused": {**SECOND, "enabled": False}}
    with serving(tmp_path, handlers, schedules=schedules) as daemon, daemon.client() as client:
        wait_until(lambda: len(scheduled_tasks(client, "beat")) >= 2, timeout=30, what="two runs")
    before = state_row(tmp_path / "queue.db", "beat")
    with serving(tmp_path, handlers, schedules=schedules) as daemon, daemon.client() as client:
        wait_until(
            lambda: state_row(tmp_path / "queue.db", "beat")[2] > before[2],
            timeout=30,
            what="a run after the restart",
        )
        entries = {e["name"]: e for e in client.get("/api/schedules").json()["schedules"]}
        assert entries["paused"]["next_due"] is None and entries["paused"]["runs"] == 0
        assert not scheduled_tasks(client, "paused")
    # Both daemons stopped: the file holds every run, each once, and the state counts them.
    with sqlite3.connect(tmp_path / "queue.db") as db:
        keys = [
            row[0]
            for row in db.execute("SELECT idempotency_key FROM tasks WHERE idempotency_key IS NOT NULL")
        ]
    assert len(keys) == len(set(keys)) and all(key.startswith("schedule:beat:") for key in keys)
    runs, last_task_id, _ = state_row(tmp_path / "queue.db", "beat")
    assert runs == len(keys) and last_task_id is not None


def state_row(path: Path, name: str) -> tuple[int, str | None, float]:
    with sqlite3.connect(path) as db:
        row = db.execute(
            "SELECT runs, last_task_id, last_due FROM schedules WHERE name = ?", (name,)
        ).fetchone()
    assert row is not None, f"no state row for {name}"
    return int(row[0]), row[1], float(row[2])


@pytest.mark.parametrize("catch_up", [True, False])
def test_a_restart_after_missed_runs_runs_the_latest_once_or_skips_it(tmp_path: Path, catch_up: bool) -> None:
    every = 2
    handlers = {"echo": handler_table("behave", instances=1)}
    schedules = {"beat": {"task_type": "echo", "every": f"{every}s", "catch_up": catch_up}}
    with serving(tmp_path, handlers, schedules=schedules) as daemon, daemon.client() as client:
        wait_until(lambda: scheduled_tasks(client, "beat"), timeout=30, what="a first run")
    _, _, stopped_at = state_row(tmp_path / "queue.db", "beat")
    # No daemon up for three due times: the first two are surely older than the latest missed one.
    wait_until(lambda: time.time() > stopped_at + 3 * every + 1, timeout=30, what="three due times")
    with serving(tmp_path, handlers, schedules=schedules) as daemon, daemon.client() as client:
        wait_until(lambda: MISSED_LINE.search(daemon.log()), timeout=30, what="the missed run handled")
        keys = {t["idempotency_key"] for t in scheduled_tasks(client, "beat")}
        log = daemon.log()
    [(due, verdict)] = MISSED_LINE.findall(log)
    assert datetime.fromisoformat(due.replace("Z", "+00:00")).timestamp() >= stopped_at + 3 * every
    assert verdict == ("enqueued now (catch_up)" if catch_up else "skipped (catch_up = false)")
    assert (f"schedule:beat:{due}" in keys) == catch_up
    for older in (stopped_at + every, stopped_at + 2 * every):  # never one run per missed tick
        assert run_key("beat", older) not in keys


MISSED_LINE = re.compile(
    r"schedule beat: the run due at (\S+) was missed; (enqueued now \(catch_up\)|skipped \(catch_up = false\))"
)
