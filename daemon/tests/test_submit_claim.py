"""A submit to a daemon with an idle instance claims the task in its own transaction and hands
it straight to that instance (service.py, dispatch.py), against a real daemon on 127.0.0.1."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from taskdaemond import defaults
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


def test_tasks_submitted_one_at_a_time_to_an_idle_instance_leave_the_claim_loop_idle(tmp_path: Path) -> None:
    """Each submit claims its task itself: the claim loop does not wake for a claim that finds
    nothing, once per task (it still polls, once a second)."""
    count = 40
    with (
        serving(tmp_path, {"echo": handler_table("behave", instances=1)}) as daemon,
        daemon.client() as client,
    ):
        wait_until(
            lambda: client.get("/health").json()["pools"]["echo"]["idle"] == 1, what="an idle instance"
        )
        before = empty_claims(client)
        started = time.monotonic()
        for n in range(count):
            answer = client.post("/queue", params={"wait": 30}, json={"type": "echo", "data": {"echo": n}})
            assert answer.json()["status"] == "completed"
        elapsed = time.monotonic() - started
        # The poll's claims: one a second, and one more either side of the loop.
        allowed = int(elapsed / defaults.QUEUE_POLL_INTERVAL) + 2
        assert allowed < count / 2, f"{count} tasks took {elapsed:.1f}s: too slow to tell"
        assert empty_claims(client) - before <= allowed


def empty_claims(client: httpx.Client) -> float:
    """The daemon's queue_claims_total{task_type="echo",found="none"}."""
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for sample in family.samples:
            if sample.name == "queue_claims_total" and sample.labels == {
                "task_type": "echo",
                "found": "none",
            }:
                return sample.value
    return 0.0
