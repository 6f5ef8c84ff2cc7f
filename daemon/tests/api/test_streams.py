"""Live task events (Server-Sent Events) from a real daemon: one task's history then its live
events until it is final, and every task's changes."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import Daemon, handler_table, serving, wait_until, write_config

Event = tuple[str, Any, str | None]


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    with serving(
        tmp_path_factory.mktemp("streams"),
        {"steps": handler_table("steps", instances=2), "other": handler_table("steps", instances=1)},
        {"shutdown_grace": 1},
    ) as instance:
        yield instance


def submit(daemon: Daemon, task_type: str, data: dict[str, Any]) -> str:
    answer = httpx.post(f"{daemon.url}/queue", json={"type": task_type, "data": data}, timeout=10)
    assert answer.status_code == 200, answer.text
    task_id: str = answer.json()["task_id"]
    return task_id


def iter_events(
    daemon: Daemon, path: str, *, timeout: float = 30, headers: dict[str, str] | None = None
) -> Iterator[Event]:
    """The events of a stream as they come, (name, data, id); bounded in time."""
    deadline = time.monotonic() + timeout
    with httpx.stream("GET", f"{daemon.url}{path}", headers=headers, timeout=timeout) as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/event-stream")
        name, data, event_id = "message", "", None
        for line in answer.iter_lines():
            assert time.monotonic() < deadline, f"stream {path} still open after {timeout} s"
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data += line[6:]
            elif line.startswith("id: "):
                event_id = line[4:]
            elif line == "" and data:
                yield (name, json.loads(data), event_id)
                name, data, event_id = "message", "", None


def read_events(
    daemon: Daemon, path: str, *, limit: int = 200, headers: dict[str, str] | None = None
) -> list[Event]:
    """The events of a stream until ``end``; bounded in count and time."""
    events: list[Event] = []
    for event in iter_events(daemon, path, headers=headers):
        events.append(event)
        assert len(events) < limit, events
        if event[0] == "end":
            break
    return events


def test_task_stream_sends_history_then_live_events_until_the_task_is_final(
    daemon: Daemon, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    task_id = submit(daemon, "steps", {"steps": 4, "gate": str(gate)})
    # Half way: the first two steps are history by the time the stream opens.
    wait_until(
        lambda: len(httpx.get(f"{daemon.url}/api/tasks/{task_id}").json()["logs"]) >= 4,
        what="two steps stored",
    )
    threading.Timer(0.5, gate.touch).start()  # the rest happens while the stream is open
    events = read_events(daemon, f"/api/tasks/{task_id}/events")
    names = [name for name, _, _ in events]
    logs = [(data["message"], event_id) for name, data, event_id in events if name == "log"]
    assert logs == [(f"step {n} of 4", str(2 * n - 1)) for n in range(1, 5)]
    progress = [data["progress"] for name, data, _ in events if name == "progress"]
    assert progress == [0.25, 0.5, 0.75, 1.0]
    assert names[-1] == "end" and events[-1][1] == {"id": task_id, "status": "completed"}
    statuses = [data["status"] for name, data, _ in events if name == "task"]
    assert statuses[0] == "processing" and statuses[-1] == "completed"


def test_task_stream_resumes_after_last_event_id(daemon: Daemon) -> None:
    task_id = submit(daemon, "steps", {"steps": 3})
    httpx.get(f"{daemon.url}/api/tasks/{task_id}", params={"wait": 30}, timeout=40)
    events = read_events(daemon, f"/api/tasks/{task_id}/events", headers={"Last-Event-ID": "4"})
    assert [(name, event_id) for name, _, event_id in events if event_id] == [("log", "5"), ("progress", "6")]
    assert events[-1][0] == "end"


def test_task_stream_of_an_unknown_task_is_404(daemon: Daemon) -> None:
    answer = httpx.get(f"{daemon.url}/api/tasks/no-such-task/events", timeout=10)
    assert answer.status_code == 404 and "not found" in answer.json()["error"]


def test_stream_of_every_task_sends_changes_filtered_by_type(daemon: Daemon) -> None:
    collected: list[Event] = []
    opened = threading.Event()
    done = threading.Event()

    def listen() -> None:
        for event in iter_events(daemon, "/api/events?type=steps", timeout=30):
            collected.append(event)
            opened.set()  # the first event ("hello") comes after the subscription is made
            if (event[0] == "task" and event[1]["status"] == "completed") or len(collected) > 100:
                break
        done.set()

    reader = threading.Thread(target=listen, daemon=True)
    reader.start()
    assert opened.wait(15), "the stream did not open"
    other = submit(daemon, "other", {"steps": 1})
    httpx.get(f"{daemon.url}/api/tasks/{other}", params={"wait": 30}, timeout=40)
    mine = submit(daemon, "steps", {"steps": 2})
    assert done.wait(30), collected
    tasks = [data for name, data, _ in collected if name == "task"]
    assert collected[0][0] == "hello"
    assert {t["id"] for t in tasks} == {mine}, "only tasks of the asked type"
    assert tasks[-1]["status"] == "completed" and tasks[-1]["progress"] == 1.0


def test_stream_of_every_task_filters_by_tag(daemon: Daemon) -> None:
    collected: list[Event] = []
    opened, done = threading.Event(), threading.Event()

    def listen() -> None:
        for event in iter_events(daemon, "/api/events?tag=team:red", timeout=30):
            collected.append(event)
            opened.set()
            if (event[0] == "task" and event[1]["status"] == "completed") or len(collected) > 100:
                break
        done.set()

    threading.Thread(target=listen, daemon=True).start()
    assert opened.wait(15), "the stream did not open"
    blue = httpx.post(
        f"{daemon.url}/queue",
        json={"type": "steps", "data": {"steps": 1}, "tags": {"team": "blue"}},
        timeout=10,
    ).json()["task_id"]
    httpx.get(f"{daemon.url}/api/tasks/{blue}", params={"wait": 30}, timeout=40)
    red = httpx.post(
        f"{daemon.url}/queue",
        json={"type": "steps", "data": {"steps": 1}, "tags": {"team": "red"}},
        timeout=10,
    ).json()["task_id"]
    assert done.wait(30), collected
    tasks = [data for name, data, _ in collected if name == "task"]
    assert {t["id"] for t in tasks} == {red} and tasks[-1]["tags"] == {"team": "red"}
    assert httpx.get(f"{daemon.url}/api/events", params={"tag": "nocolon"}, timeout=10).status_code == 400


def test_daemon_stops_promptly_with_a_stream_open(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "handlers.toml",
        {"steps": handler_table("steps", instances=1)},
        {"db_path": str(tmp_path / "q.db")},
    )
    instance = Daemon(config, tmp_path / "daemon.log").start()
    try:
        with httpx.stream("GET", f"{instance.url}/api/events", timeout=30) as answer:
            lines = answer.iter_lines()
            assert next(lines).startswith("retry:")
            started = time.monotonic()
            assert instance.stop() == 0
            took = time.monotonic() - started
            rest = list(lines)  # the daemon ended the stream: iteration stops
    finally:
        instance.stop()
    assert isinstance(rest, list)
    # Without ending the streams, uvicorn would hold the shutdown for HTTP_SHUTDOWN_TIMEOUT (3 s) more.
    no_stream = tmp_path / "no-stream.log"
    other = Daemon(config, no_stream).start()
    started = time.monotonic()
    other.stop()
    baseline = time.monotonic() - started
    assert took < baseline + 2.5, (took, baseline)
