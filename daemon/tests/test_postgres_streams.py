"""Live task events across daemons on one PostgreSQL queue (LISTEN/NOTIFY), and the daemons
the dashboard lists."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import httpx

from tests.api.test_streams import iter_events, read_events
from tests.helpers import handler_table
from tests.pghelpers import fleet, health


def test_a_task_run_by_one_daemon_streams_live_through_another(tmp_path: Path, postgres_url: str) -> None:
    with fleet(tmp_path, postgres_url) as daemons:
        runner = daemons.start({"steps": handler_table("steps", instances=1)})
        # The watcher has no handler for "steps": it never runs these tasks, it only reads them.
        watcher = daemons.start({"other": handler_table("steps", instances=1)})
        seen: list[tuple[str, Any, str | None]] = []
        opened, done = threading.Event(), threading.Event()

        def watch_all() -> None:
            # /api/events has no periodic re-read: only the runner's NOTIFYs can bring these.
            for event in iter_events(watcher, "/api/events?type=steps", timeout=60):
                seen.append(event)
                opened.set()
                if (event[0] == "task" and event[1]["status"] == "completed") or len(seen) > 100:
                    break
            done.set()

        reader = threading.Thread(target=watch_all, daemon=True)
        reader.start()
        assert opened.wait(20), "the watcher's stream did not open"
        answer = httpx.post(f"{runner.url}/queue", json={"type": "steps", "data": {"steps": 3, "pause": 0.1}})
        task_id = answer.json()["task_id"]
        one_task = read_events(watcher, f"/api/tasks/{task_id}/events")
        assert done.wait(30), seen
        tasks = [data for name, data, _ in seen if name == "task"]
        assert {t["id"] for t in tasks} == {task_id} and tasks[-1]["status"] == "completed"
        assert [d["progress"] for name, d, _ in one_task if name == "progress"] == [1 / 3, 2 / 3, 1.0]
        assert one_task[-1][0] == "end" and one_task[-1][1]["status"] == "completed"


def test_overview_lists_every_daemon_on_the_queue(tmp_path: Path, postgres_url: str) -> None:
    with fleet(tmp_path, postgres_url) as daemons:
        a = daemons.start()
        b = daemons.start()
        ids = [health(d).json()["daemon_id"] for d in (a, b)]
        html = httpx.get(f"{a.url}/ui/part/overview", timeout=15).text
        assert "Daemons on this queue" in html
        assert all(f"<code>{daemon_id}</code>" in html for daemon_id in ids), (ids, html)
        b.stop()
        html = httpx.get(f"{a.url}/ui/part/overview", timeout=15).text
        assert f"<code>{ids[1]}</code>" not in html, "a stopped daemon's connections are gone"
