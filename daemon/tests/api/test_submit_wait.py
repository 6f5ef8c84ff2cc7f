"""POST /queue?wait=S: submit and wait in one request, against a real daemon on 127.0.0.1."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from taskdaemond import defaults
from tests.helpers import Daemon, handler_table, serving, wait_until

#: Long enough for a task to finish on a loaded machine; the answer comes as soon as it does.
GENEROUS = 60


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    with serving(
        tmp_path_factory.mktemp("submit-wait"),
        {"echo": handler_table("behave", instances=2)},
        {"shutdown_grace": 1},
    ) as instance:
        yield instance


def submit_wait(client: httpx.Client, body: dict[str, Any], wait: float | str) -> httpx.Response:
    return client.post("/queue", json=body, params={"wait": wait}, timeout=GENEROUS + 30)


def task_ids(client: httpx.Client) -> set[str]:
    return {task["id"] for task in client.get("/api/tasks", params={"limit": 1000}).json()["tasks"]}


def test_a_task_final_within_the_wait_is_answered_200_with_its_record(client: httpx.Client) -> None:
    response = submit_wait(client, {"type": "echo", "data": {"echo": "hi"}}, GENEROUS)
    assert response.status_code == 200, response.text
    task = response.json()
    assert task["status"] == "completed" and task["result"] == {"echo": "hi", "attempt": 0}
    assert task["task_id"] == task["id"]
    assert client.get(f"/api/tasks/{task['id']}").json() == {k: v for k, v in task.items() if k != "task_id"}


def test_a_task_still_running_when_the_wait_passes_is_answered_202(client: httpx.Client) -> None:
    response = submit_wait(client, {"type": "echo", "data": {"sleep": 60}}, 0.3)
    assert response.status_code == 202, response.text
    answer = response.json()
    assert set(answer) == {"task_id", "status"} and answer["status"] in ("pending", "processing")
    cancelled = client.post(f"/api/tasks/{answer['task_id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"


def test_a_held_back_task_is_answered_202_pending(client: httpx.Client) -> None:
    response = submit_wait(client, {"type": "echo", "data": {}, "delay": 60}, 0.2)
    assert response.status_code == 202 and response.json()["status"] == "pending"
    assert client.delete(f"/api/tasks/{response.json()['task_id']}").status_code == 204


def test_a_failed_task_is_answered_200_with_its_final_record(client: httpx.Client) -> None:
    response = submit_wait(client, {"type": "echo", "data": {"fail": "nope"}}, GENEROUS)
    assert response.status_code == 200
    task = response.json()
    assert task["status"] == "failed" and task["last_error"] == "nope" and task["result"] is None


def test_an_idempotency_key_with_wait_answers_the_first_task_both_times(client: httpx.Client) -> None:
    body = {"type": "echo", "data": {"echo": 1}, "idempotency_key": f"key-{uuid.uuid4()}"}
    first = submit_wait(client, body, GENEROUS)
    again = submit_wait(client, {**body, "data": {"echo": 2}}, GENEROUS)
    assert first.status_code == again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["result"] == {"echo": 1, "attempt": 0}


def test_an_idempotency_key_with_wait_waits_for_the_task_already_running(client: httpx.Client) -> None:
    body = {"type": "echo", "data": {"sleep": 0.5}, "idempotency_key": f"key-{uuid.uuid4()}"}
    task_id = client.post("/queue", json=body).json()["task_id"]
    wait_until(lambda: client.get(f"/api/tasks/{task_id}").json()["status"] != "pending", what="a start")
    again = submit_wait(client, body, GENEROUS)
    assert again.status_code == 200 and again.json()["id"] == task_id
    assert again.json()["status"] == "completed"


@pytest.mark.parametrize("wait", [0, -1, defaults.MAX_LONG_POLL + 1, "nan", "inf", "soon", ""])
def test_a_wait_out_of_range_is_a_400_naming_wait(client: httpx.Client, wait: float | str) -> None:
    before = task_ids(client)
    response = submit_wait(client, {"type": "echo", "data": {}}, wait)
    assert response.status_code == 400 and "wait" in response.json()["error"], response.text
    assert task_ids(client) == before  # refused before anything was queued


def test_without_wait_a_submit_still_answers_only_the_task_id(client: httpx.Client) -> None:
    response = client.post("/queue", json={"type": "echo", "data": {}})
    assert response.status_code == 200 and set(response.json()) == {"task_id"}
