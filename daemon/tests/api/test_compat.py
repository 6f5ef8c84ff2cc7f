"""The names another task manager uses, answered by a real daemon: status filter aliases, the
retry route, logs as text lines with retry separators, and the task's duration."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.helpers import FAST_BACKOFF, Daemon, handler_table, serving, submit, wait, wait_until

LOG_LINE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2} (?P<message>.*)$")


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    with serving(
        tmp_path_factory.mktemp("compat"),
        {
            "echo": handler_table("behave", backoff=FAST_BACKOFF),
            "hang": handler_table("hang", instances=1, timeout=120),
        },
        {"shutdown_grace": 1},
    ) as instance:
        yield instance


def listed(client: httpx.Client, status: str) -> list[dict[str, Any]]:
    response = client.get("/api/tasks", params={"status": status, "limit": 1000})
    assert response.status_code == 200, response.text
    tasks: list[dict[str, Any]] = response.json()["tasks"]
    return tasks


def test_success_filters_completed_tasks(client: httpx.Client) -> None:
    done = submit(client, {"type": "echo", "data": {}})
    failed = submit(client, {"type": "echo", "data": {"fail": "no"}})
    assert wait(client, done)["status"] == "completed" and wait(client, failed)["status"] == "failed"
    tasks = listed(client, "success")
    assert done in {task["id"] for task in tasks} and failed not in {task["id"] for task in tasks}
    assert {task["status"] for task in tasks} == {"completed"}


def test_running_filters_processing_tasks(client: httpx.Client) -> None:
    task_id = submit(client, {"type": "hang", "data": {}})
    wait_until(lambda: task_id in {t["id"] for t in listed(client, "running")}, what="listed as running")
    assert {task["status"] for task in listed(client, "running")} == {"processing"}
    assert client.post(f"/api/tasks/{task_id}/cancel").status_code == 200


def test_unknown_status_filter_is_a_400(client: httpx.Client) -> None:
    response = client.get("/api/tasks", params={"status": "runnin"})
    assert response.status_code == 400 and "error" in response.json()


def test_retry_runs_a_failed_task_again(client: httpx.Client) -> None:
    task_id = submit(client, {"type": "echo", "data": {"fail": "no"}})
    assert wait(client, task_id)["status"] == "failed"
    response = client.post(f"/tasks/{task_id}/retry")
    assert response.status_code == 200 and response.json()["id"] == task_id
    assert response.json()["status"] in ("pending", "processing")
    wait_until(lambda: len(wait(client, task_id)["errors"]) == 2, what="a second failed run")
    assert wait(client, task_id)["status"] == "failed"


def test_retry_of_a_missing_or_completed_task_is_a_404(client: httpx.Client) -> None:
    done = submit(client, {"type": "echo", "data": {}})
    assert wait(client, done)["status"] == "completed"
    assert client.post(f"/tasks/{done}/retry").status_code == 404
    missing = client.post("/tasks/00000000-0000-0000-0000-000000000000/retry")
    assert missing.status_code == 404 and "error" in missing.json()


def test_logs_as_text_separate_the_attempts(client: httpx.Client) -> None:
    data = {"fail": "flaky", "retryable": True, "succeed_on_attempt": 2, "events": True}
    task_id = submit(client, {"type": "echo", "data": data})
    assert wait(client, task_id)["status"] == "completed"
    response = client.get(f"/api/tasks/{task_id}/logs", params={"format": "text"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    lines = response.text.splitlines()
    assert lines[1] == "--- Retry 1 ---" and lines[3] == "--- Retry 2 ---" and len(lines) == 5
    messages = [LOG_LINE.match(line) for line in lines[0::2]]
    assert [
        match["message"] if match else line for match, line in zip(messages, lines[0::2], strict=True)
    ] == ["starting"] * 3


def test_logs_are_json_by_default(client: httpx.Client) -> None:
    task_id = submit(client, {"type": "echo", "data": {"events": True}})
    assert wait(client, task_id)["status"] == "completed"
    body = client.get(f"/api/tasks/{task_id}/logs").json()
    assert body["task_id"] == task_id
    assert [(entry["event"], entry["attempt"]) for entry in body["logs"]][:2] == [("log", 0), ("progress", 0)]
    assert client.get("/api/tasks/00000000-0000-0000-0000-000000000000/logs").status_code == 404


def test_duration_is_the_seconds_run_once_final(client: httpx.Client) -> None:
    later = submit(client, {"type": "echo", "data": {}, "delay": 60})
    assert client.get(f"/api/tasks/{later}").json()["duration"] is None
    assert client.post(f"/api/tasks/{later}/cancel").status_code == 200
    task_id = submit(client, {"type": "echo", "data": {"sleep": 0.3}})
    task = wait(client, task_id)
    assert task["status"] == "completed" and 0.3 <= task["duration"] < 30
