"""Faults of the daemon itself: SIGKILL mid-run loses nothing; SIGTERM shuts down cleanly."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

from tests.helpers import handler_table, pid_alive, wait_until


def test_sigkill_mid_run_then_restart_completes_every_task_none_lost(
    daemon_factory: Any, tmp_path: Path
) -> None:
    record = tmp_path / "executions.txt"
    handlers = {"echo": handler_table("behave", instances=2)}
    first = daemon_factory(handlers)
    with first.client() as client:
        ids = client.post(
            "/queue/batch",
            json={
                "tasks": [
                    {"type": "echo", "data": {"echo": n, "sleep": 0.02, "record": str(record)}}
                    for n in range(200)
                ]
            },
        ).json()["task_ids"]
        # Kill while some tasks are done, some in flight and most still queued.
        wait_until(
            lambda: record.exists() and len(record.read_text().splitlines()) >= 20, what="20 executions"
        )
        handler_pids = first.handler_pids()
    first.kill()
    assert len(ids) == 200

    second = daemon_factory(handlers, name="handlers.toml")
    with second.client() as client:
        health = client.get("/health").json()
        tasks = [client.get(f"/api/tasks/{task_id}", params={"wait": 60}).json() for task_id in ids]
    assert all(task["status"] == "completed" for task in tasks), [t["status"] for t in tasks]
    assert sorted(task["result"]["echo"] for task in tasks) == list(range(200))
    executed = {line.split()[0] for line in record.read_text().splitlines()}
    assert executed == set(ids)  # every task ran at least once
    rerun = [t for t in tasks if t["attempts"] > 1]
    assert health["recovered_at_start"] == len(rerun)
    assert all(
        t["result"]["attempt"] == t["attempts"] - 1 for t in tasks
    )  # reruns got the next attempt number
    # The killed daemon's handlers see EOF on stdin and exit on their own.
    wait_until(lambda: not any(pid_alive(pid) for pid in handler_pids), what="orphaned handlers to exit")


def test_accepted_submit_survives_an_immediate_sigkill(daemon_factory: Any) -> None:
    handlers = {"echo": handler_table("behave", instances=1)}
    first = daemon_factory(handlers)
    with first.client() as client:
        task_id = client.post("/queue", json={"type": "echo", "data": {"echo": "kept"}, "delay": 0.5}).json()[
            "task_id"
        ]
    first.kill()
    second = daemon_factory(handlers)
    with second.client() as client:
        task = client.get(f"/api/tasks/{task_id}", params={"wait": 30}).json()
    assert task["status"] == "completed" and task["result"]["echo"] == "kept"


def test_sigterm_stops_cleanly_with_exit_0_and_no_handler_left(daemon_factory: Any) -> None:
    instance = daemon_factory({"echo": handler_table("behave", instances=3)})
    pids = instance.handler_pids()
    assert len(pids) == 3
    assert instance.stop(signal.SIGTERM) == 0
    assert not any(pid_alive(pid) for pid in pids)
    assert "Application shutdown complete" in instance.log()


def test_sigint_stops_cleanly_too(daemon_factory: Any) -> None:
    instance = daemon_factory({"echo": handler_table("behave", instances=1)})
    pids = instance.handler_pids()
    assert instance.stop(signal.SIGINT) == 0
    assert not any(pid_alive(pid) for pid in pids)


def test_sigterm_requeues_the_task_in_flight_and_the_next_daemon_runs_it(daemon_factory: Any) -> None:
    handlers = {"slow": handler_table("behave", instances=1)}
    first = daemon_factory(handlers, {"shutdown_grace": 0.2})
    with first.client() as client:
        task_id = client.post("/queue", json={"type": "slow", "data": {"sleep": 3}}).json()["task_id"]
        wait_until(
            lambda: client.get(f"/api/tasks/{task_id}").json()["status"] == "processing", what="running"
        )
    assert first.stop(signal.SIGTERM) == 0
    second = daemon_factory(handlers)
    with second.client() as client:
        before = client.get(f"/api/tasks/{task_id}").json()
        task = client.get(f"/api/tasks/{task_id}", params={"wait": 30}).json()
    assert before["errors"][0]["error_type"] == "Interrupted"
    assert task["status"] == "completed" and task["attempts"] == 2


def test_handler_stderr_goes_to_the_daemon_log_tagged(daemon_factory: Any) -> None:
    instance = daemon_factory({"echo": handler_table("behave", instances=1)})
    with instance.client() as client:
        task_id = client.post("/queue", json={"type": "echo", "data": {"crash_on_attempt": 0}}).json()[
            "task_id"
        ]
        client.get(f"/api/tasks/{task_id}", params={"wait": 30})
    instance.stop()
    assert f"[echo echo-0 task={task_id}] about to crash: exiting with code 3" in instance.log()


def test_invalid_configuration_stops_serve_with_exit_2(daemon_factory: Any) -> None:
    instance = daemon_factory({"echo": handler_table("behave", instnces=2)}, wait=False)
    assert instance.process is not None
    assert instance.process.wait(30) == 2
    log = instance.log()
    assert "handlers.toml: handlers.echo: unknown key 'instnces' (did you mean 'instances'?)" in log
