"""A submit to a daemon with an idle instance claims the task in its own transaction and hands
it straight to that instance (service.py, dispatch.py), against a real daemon on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import handler_table, serving, submit, wait, wait_until


def test_a_task_submitted_to_an_idle_instance_is_running_when_the_submit_answers(tmp_path: Path) -> None:
    with (
        serving(tmp_path, {"echo": handler_table("behave", instances=1)}) as daemon,
        daemon.client() as client,
    ):
        wait_until(
            lambda: client.get("/health").json()["pools"]["echo"]["idle"] == 1, what="an idle instance"
        )
        task_id = submit(client, {"type": "echo", "data": {"sleep": 30}})
        # No claim loop turn in between: the submit's transaction claimed it.
        assert client.get(f"/api/tasks/{task_id}").json()["status"] == "processing"
        assert client.post(f"/api/tasks/{task_id}/cancel").json()["status"] == "cancelled"
        # The instance comes back and takes the next task the same way.
        wait_until(
            lambda: client.get("/health").json()["pools"]["echo"]["idle"] == 1, what="an idle instance"
        )
        task = wait(client, submit(client, {"type": "echo", "data": {"echo": "next"}}))
        assert task["status"] == "completed" and task["attempts"] == 1
