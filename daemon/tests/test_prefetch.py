"""Pipelined handlers (``prefetch``, protocol section 10): a real daemon on a SQLite file feeds
tasks ahead to handlers written with the Python SDK, and each rule of the spec holds."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import httpx
import pytest

from taskdaemond.config import DaemonSettings
from taskdaemond.queue.base import open_queue
from taskdaemond.queue.models import TaskRecord
from taskdaemond.statuses import TaskStatus
from tests.helpers import FAST_BACKOFF, Daemon, handler_table, serving, wait, wait_until, write_config

#: Seconds a test waits for tasks to be written ahead or to finish.
WITHIN = 30


def behave(**settings: Any) -> dict[str, dict[str, Any]]:
    """One SDK handler of type ``t``, a single instance, quick retries."""
    return {"t": handler_table("behave", instances=1, backoff=FAST_BACKOFF, **settings)}


def submit_all(client: httpx.Client, datas: list[dict[str, Any]], **fields: Any) -> list[str]:
    """Submit tasks of type ``t`` in one batch (one claim sees them all); their ids, in order."""
    response = client.post(
        "/queue/batch", json={"tasks": [{"type": "t", "data": d, **fields} for d in datas]}
    )
    assert response.status_code == 200, response.text
    ids: list[str] = response.json()["task_ids"]
    return ids


def slot(client: httpx.Client) -> dict[str, Any]:
    """The only instance of ``t`` as /health shows it."""
    state: dict[str, Any] = client.get("/health").json()["pools"]["t"]["slots"][0]
    return state


def wait_written_ahead(client: httpx.Client, count: int) -> dict[str, Any]:
    """Poll until the instance holds ``count`` tasks written behind the one in hand; its slot."""

    def holding() -> dict[str, Any] | None:
        state = slot(client)
        return state if state["written_ahead"] == count else None

    found: dict[str, Any] = wait_until(holding, WITHIN, what=f"{count} tasks written ahead")
    return found


def recorded(path: Path) -> list[tuple[str, int]]:
    """What the handler's ``record`` behaviour wrote: (task id, attempt) per run, in order."""
    if not path.exists():
        return []
    return [(line.split()[0], int(line.split()[1])) for line in path.read_text().splitlines()]


@pytest.fixture
def record(tmp_path: Path) -> Path:
    return tmp_path / "runs.txt"


@pytest.fixture
def daemon_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "daemon"
    directory.mkdir()
    return directory


def test_tasks_are_written_ahead_and_answered_in_order(daemon_dir: Path, record: Path) -> None:
    with serving(daemon_dir, behave(prefetch=4)) as daemon, daemon.client() as client:
        ids = submit_all(client, [{"sleep": 0.2, "record": str(record)} for _ in range(12)])
        wait_written_ahead(client, 3)
        tasks = [wait(client, task_id, WITHIN) for task_id in ids]
    assert [t["status"] for t in tasks] == ["completed"] * 12
    assert recorded(record) == [(task_id, 0) for task_id in ids]


def test_the_timeout_clock_of_each_task_starts_when_the_previous_result_arrives(
    daemon_dir: Path, record: Path
) -> None:
    # Four tasks of 0.8 s each sit in the pipe at once: 3.2 s in all, far past the timeout of
    # 1.5 s, which each task alone stays well inside.
    with serving(daemon_dir, behave(prefetch=4, timeout=1.5)) as daemon, daemon.client() as client:
        ids = submit_all(client, [{"sleep": 0.8, "record": str(record)} for _ in range(4)], max_retries=0)
        wait_written_ahead(client, 3)
        tasks = [wait(client, task_id, WITHIN) for task_id in ids]
    assert [(t["status"], t["attempts"], t["errors"]) for t in tasks] == [("completed", 1, [])] * 4
    assert recorded(record) == [(task_id, 0) for task_id in ids]


def the_first_fails_and_three_wait_behind(
    daemon_dir: Path, record: Path, first: dict[str, Any], **settings: Any
) -> tuple[list[dict[str, Any]], list[int]]:
    """A task that fails its first attempt (as ``first`` says) with three quick tasks written
    behind it; every task once final, and the pids of the instance before and after."""
    with serving(daemon_dir, behave(prefetch=4, **settings)) as daemon, daemon.client() as client:
        ids = submit_all(client, [first] + [{"record": str(record)}] * 3)
        before = wait_written_ahead(client, 3)["pid"]
        tasks = [wait(client, task_id, WITHIN) for task_id in ids]
        after = slot(client)["pid"]
    return tasks, [before, after]


def test_a_crash_counts_only_the_task_in_hand_and_the_tasks_behind_run_unchanged(
    daemon_dir: Path, record: Path
) -> None:
    tasks, pids = the_first_fails_and_three_wait_behind(
        daemon_dir, record, {"sleep": 1, "crash_on_attempt": 0}
    )
    crashed, behind = tasks[0], tasks[1:]
    assert (crashed["status"], crashed["attempts"]) == ("completed", 2)
    assert [e["error_type"] for e in crashed["errors"]] == ["HandlerCrashed"]
    assert [(t["status"], t["attempts"], t["errors"]) for t in behind] == [("completed", 1, [])] * 3
    # Each ran once, at attempt 0: not counted when it went back to the queue.
    assert sorted(recorded(record)) == sorted((t["id"], 0) for t in behind)
    assert pids[0] != pids[1]


def test_a_timeout_counts_only_the_task_in_hand_and_the_tasks_behind_run_unchanged(
    daemon_dir: Path, record: Path
) -> None:
    tasks, pids = the_first_fails_and_three_wait_behind(
        daemon_dir, record, {"sleep": 60}, timeout=2, retries=0
    )
    timed_out, behind = tasks[0], tasks[1:]
    assert (timed_out["status"], timed_out["attempts"]) == ("failed", 1)
    assert [e["error_type"] for e in timed_out["errors"]] == ["Timeout"]
    assert [(t["status"], t["attempts"], t["errors"]) for t in behind] == [("completed", 1, [])] * 3
    assert sorted(recorded(record)) == sorted((t["id"], 0) for t in behind)
    assert pids[0] != pids[1]


def test_shutdown_puts_the_tasks_written_behind_back_to_pending(daemon_dir: Path, record: Path) -> None:
    daemon = Daemon(daemon_dir / "handlers.toml", daemon_dir / "daemon.log")
    db = daemon_dir / "queue.db"
    write_config(daemon.config_path, behave(prefetch=4), {"db_path": str(db), "shutdown_grace": 0.5})
    daemon.start()
    try:
        with daemon.client() as client:
            ids = submit_all(client, [{"sleep": 60}] + [{"record": str(record)}] * 3)
            wait_written_ahead(client, 3)
    finally:
        assert daemon.stop(signal.SIGTERM) == 0
    records = asyncio.run(read_tasks(db, ids))
    in_hand, behind = records[0], records[1:]
    # The task in hand was interrupted and requeued (requeue_on_interrupt), with the error saying so.
    assert in_hand.status is TaskStatus.PENDING
    assert [e["error_type"] for e in in_hand.errors] == ["Interrupted"]
    # Those behind never started: pending, no attempt counted, no error; none of them ran.
    assert [(r.status, r.attempts, r.errors) for r in behind] == [(TaskStatus.PENDING, 0, [])] * 3
    assert recorded(record) == []


async def read_tasks(db: Path, ids: list[str]) -> list[TaskRecord]:
    """The tasks as the SQLite file holds them, opened afresh without recovering anything."""
    queue = open_queue(DaemonSettings(db_path=db))
    await queue.open(recover=False)
    try:
        found = [await queue.get(task_id) for task_id in ids]
    finally:
        await queue.close()
    assert all(r is not None for r in found)
    return [r for r in found if r is not None]


def test_a_cancelled_task_written_behind_is_cancelled_at_once_and_never_finishes(
    daemon_dir: Path, record: Path, tmp_path: Path
) -> None:
    spans = tmp_path / "spans.txt"
    with serving(daemon_dir, behave(prefetch=4)) as daemon, daemon.client() as client:
        ids = submit_all(
            client,
            [
                {"sleep": 1, "record": str(record)},
                {"record": str(record)},
                {"sleep": 2, "span": str(spans)},  # cancelled while it waits behind
                {"record": str(record)},
            ],
        )
        before = wait_written_ahead(client, 3)["pid"]
        cancelled = client.post(f"/api/tasks/{ids[2]}/cancel")
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "cancelled"
        tasks = [wait(client, task_id, WITHIN) for task_id in ids]
        after = slot(client)["pid"]
    assert [t["status"] for t in tasks] == ["completed", "completed", "cancelled", "completed"]
    assert tasks[3]["attempts"] == 1 and tasks[3]["errors"] == []
    # When its turn came the instance was stopped: the handler may have begun it, never finished it.
    assert "end" not in (spans.read_text() if spans.exists() else "")
    assert before != after


def test_recycling_counts_the_tasks_written_ahead(daemon_dir: Path) -> None:
    with (
        serving(daemon_dir, behave(prefetch=4, max_tasks_per_instance=3)) as daemon,
        daemon.client() as client,
    ):
        ids = submit_all(client, [{"pid": True}] * 7)
        tasks = [wait(client, task_id, WITHIN) for task_id in ids]
    assert all(t["status"] == "completed" and t["attempts"] == 1 for t in tasks)
    pids = [t["result"]["pid"] for t in tasks]
    assert pids[0] == pids[1] == pids[2] != pids[3] == pids[4] == pids[5] != pids[6]


def test_a_result_for_another_task_fails_the_task_in_hand_and_returns_those_behind(daemon_dir: Path) -> None:
    handlers = {"t": handler_table("wrong_id_first", instances=1, prefetch=4)}
    with serving(daemon_dir, handlers) as daemon, daemon.client() as client:
        ids = submit_all(client, [{"wrong": True}, {}, {}, {}])
        before = wait_written_ahead(client, 3)["pid"]
        tasks = [wait(client, task_id, WITHIN) for task_id in ids]
        after = slot(client)["pid"]
    assert (tasks[0]["status"], tasks[0]["errors"][0]["error_type"]) == ("failed", "ProtocolError")
    assert "someone-else" in tasks[0]["errors"][0]["error"]
    assert [(t["status"], t["attempts"], t["errors"], t["result"]) for t in tasks[1:]] == [
        ("completed", 1, [], 2)
    ] * 3
    assert before != after
