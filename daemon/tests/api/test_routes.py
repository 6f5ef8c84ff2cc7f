"""The HTTP API of a real daemon (``taskdaemond serve`` in a subprocess on 127.0.0.1)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import FAST_BACKOFF, Daemon, handler_table, serving, submit, wait, wait_until


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    with serving(
        tmp_path_factory.mktemp("api"),
        {
            "echo": handler_table("behave", backoff=FAST_BACKOFF),
            "hang": handler_table("hang", instances=1, timeout=120),
        },
        {"max_body_size": 1_000_000, "shutdown_grace": 1},
    ) as instance:
        yield instance


def test_submit_returns_a_task_id_and_the_task_completes(client: httpx.Client) -> None:
    task_id = submit(client, {"type": "echo", "data": {"echo": "hi"}})
    task = wait(client, task_id)
    assert task["id"] == task_id and task["task_type"] == "echo"
    assert task["status"] == "completed" and task["result"] == {"echo": "hi", "attempt": 0}
    assert task["last_error"] is None and task["priority"] == 50


def test_get_without_wait_answers_at_once_with_the_current_status(client: httpx.Client) -> None:
    task_id = submit(client, {"type": "echo", "data": {"sleep": 0.5}})
    task = client.get(f"/api/tasks/{task_id}").json()
    assert task["status"] in ("pending", "processing")
    assert wait(client, task_id)["status"] == "completed"


def test_task_record_holds_attempts_errors_logs_and_progress(client: httpx.Client) -> None:
    task_id = submit(
        client,
        {
            "type": "echo",
            "data": {"fail": "flaky", "retryable": True, "succeed_on_attempt": 1, "events": True},
        },
    )
    task = wait(client, task_id)
    assert task["status"] == "completed" and task["attempts"] == 2
    assert task["errors"][0]["error"] == "flaky" and task["errors"][0]["attempt"] == 0
    assert [entry["event"] for entry in task["logs"]][:3] == ["log", "progress", "progress"]
    assert task["progress"]["progress"] == 1.0


def test_failed_task_reports_last_error(client: httpx.Client) -> None:
    task = wait(client, submit(client, {"type": "echo", "data": {"fail": "nope"}}))
    assert task["status"] == "failed" and task["last_error"] == "nope"


def test_max_retries_in_the_submit_sets_the_budget(client: httpx.Client) -> None:
    body = {"type": "echo", "data": {"fail": "x", "retryable": True}, "max_retries": 1}
    task = wait(client, submit(client, body))
    assert task["status"] == "failed" and task["attempts"] == 2 and task["max_retries"] == 1


def test_delay_holds_the_task_back(client: httpx.Client) -> None:
    task_id = submit(client, {"type": "echo", "data": {}, "delay": 60})
    task = client.get(f"/api/tasks/{task_id}").json()
    assert task["status"] == "pending"
    assert client.delete(f"/api/tasks/{task_id}").status_code == 204


def test_idempotency_key_returns_the_first_task(client: httpx.Client) -> None:
    key = f"k-{time.time()}"
    first = submit(client, {"type": "echo", "data": {}, "idempotency_key": key})
    assert submit(client, {"type": "echo", "data": {}, "idempotency_key": key}) == first


def test_batch_submits_many_tasks_at_once(client: httpx.Client) -> None:
    response = client.post(
        "/queue/batch", json={"tasks": [{"type": "echo", "data": {"echo": n}} for n in range(20)]}
    )
    assert response.status_code == 200
    ids = response.json()["task_ids"]
    assert len(set(ids)) == 20
    assert [wait(client, i)["result"]["echo"] for i in ids] == list(range(20))


def test_batch_with_one_bad_task_enqueues_none(client: httpx.Client) -> None:
    before = client.get("/api/metrics").json()["tasks"]
    response = client.post("/queue/batch", json={"tasks": [{"type": "echo"}, {"type": "nope"}]})
    assert response.status_code == 400 and "unknown task type 'nope'" in response.json()["error"]
    after = client.get("/api/metrics").json()["tasks"]
    assert sum(after.values()) == sum(before.values())


def test_list_filters_by_status_and_type_and_pages(client: httpx.Client) -> None:
    for n in range(3):
        wait(client, submit(client, {"type": "echo", "data": {"echo": n}}))
    page = client.get("/api/tasks", params={"type": "echo", "status": "completed", "limit": 2}).json()
    assert len(page["tasks"]) == 2 and page["next_cursor"]
    assert all(t["status"] == "completed" and t["task_type"] == "echo" for t in page["tasks"])
    second = client.get(
        "/api/tasks",
        params={"type": "echo", "status": "completed", "limit": 2, "cursor": page["next_cursor"]},
    ).json()
    assert {t["id"] for t in second["tasks"]}.isdisjoint({t["id"] for t in page["tasks"]})


def test_list_rejects_an_unknown_status(client: httpx.Client) -> None:
    response = client.get("/api/tasks", params={"status": "done"})
    assert response.status_code == 400 and "status" in response.json()["error"]


def test_delete_answers_204_then_404(client: httpx.Client) -> None:
    task_id = submit(client, {"type": "echo", "data": {}, "delay": 60})
    assert client.delete(f"/api/tasks/{task_id}").status_code == 204
    missing = client.delete(f"/api/tasks/{task_id}")
    assert missing.status_code == 404 and "not found" in missing.json()["error"]
    assert client.get(f"/api/tasks/{task_id}").status_code == 404


def test_redrive_runs_a_failed_task_again(client: httpx.Client) -> None:
    task_id = submit(client, {"type": "echo", "data": {"fail": "once"}})
    assert wait(client, task_id)["status"] == "failed"
    response = client.post(f"/api/tasks/{task_id}/redrive")
    assert response.status_code == 200
    assert response.json()["status"] in ("pending", "processing")
    again = wait(client, task_id)
    assert again["status"] == "failed" and len(again["errors"]) == 2


def test_redrive_answers_404_for_missing_or_not_failed_tasks(client: httpx.Client) -> None:
    assert client.post("/api/tasks/nope/redrive").status_code == 404
    done = submit(client, {"type": "echo", "data": {}})
    wait(client, done)
    response = client.post(f"/api/tasks/{done}/redrive")
    assert response.status_code == 404 and "completed" in response.json()["error"]


def test_cancel_pending_task(client: httpx.Client) -> None:
    task_id = submit(client, {"type": "echo", "data": {}, "delay": 60})
    response = client.post(f"/api/tasks/{task_id}/cancel")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    again = client.post(f"/api/tasks/{task_id}/cancel")
    assert again.status_code == 409 and "already cancelled" in again.json()["error"]
    assert client.post("/api/tasks/nope/cancel").status_code == 404


def test_cancel_running_task_stops_its_handler(client: httpx.Client, daemon: Daemon) -> None:
    task_id = submit(client, {"type": "hang", "data": {}})
    wait_until(
        lambda: client.get(f"/api/tasks/{task_id}").json()["status"] == "processing", what="task running"
    )
    response = client.post(f"/api/tasks/{task_id}/cancel")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    wait_until(
        lambda: client.get("/health").json()["pools"]["hang"]["idle"] == 1, what="hang instance restarted"
    )


def test_health_reports_queue_depth_and_pool_state(client: httpx.Client) -> None:
    health = client.get("/health").json()
    assert health["status"] == "healthy"
    assert health["queue_depth"] == health["tasks"]["pending"]
    assert set(health["tasks"]) == {
        "waiting",
        "pending",
        "processing",
        "completed",
        "failed",
        "cancelled",
        "interrupted",
    }
    echo = health["pools"]["echo"]
    assert echo["instances"] == 2 and len(echo["slots"]) == 2 and echo["crash_loop"] is False


def test_prometheus_metrics_have_the_taskdaemon_names(client: httpx.Client) -> None:
    wait(client, submit(client, {"type": "echo", "data": {}}))
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    text = response.text
    for name in (
        'tasks_received_total{task_type="echo"}',
        "queue_size ",
        'container_pool_active{handler="echo"}',
        'container_pool_idle{handler="echo"}',
        'tasks_completed_total{task_type="echo"}',
        "tasks_failed_total",
        "tasks_retried_total",
        'task_duration_seconds_bucket{le="0.001",task_type="echo"}',
    ):
        assert name in text, name


def test_json_metrics_count_what_the_queue_holds(client: httpx.Client) -> None:
    before = client.get("/api/metrics").json()
    task_id = submit(client, {"type": "echo", "data": {}, "delay": 300})  # stays pending
    after = client.get("/api/metrics").json()
    assert after["queue_size"] == before["queue_size"] + 1 == after["tasks"]["pending"]
    received_before = before["by_type"].get("echo", {}).get("received", 0)
    assert after["by_type"]["echo"]["received"] == received_before + 1
    assert after["pools"]["echo"]["instances"] == 2
    assert client.delete(f"/api/tasks/{task_id}").status_code == 204


def test_openapi_document_and_docs_page_are_served(client: httpx.Client) -> None:
    document = client.get("/openapi.json").json()
    assert "/queue" in document["paths"] and "/api/tasks/{task_id}" in document["paths"]
    assert "requestBody" in document["paths"]["/queue"]["post"]
    assert client.get("/docs").status_code == 200


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ('{"type": "nope", "data": {}}', 400, "unknown task type 'nope'; known types: echo, hang"),
        ('{"type": "echo", "data": {', 400, "malformed JSON"),
        ('{"type": "echo", "data": [1, 2]}', 400, "data must be a JSON object"),
        ('{"type": "echo", "data": "text"}', 400, "data must be a JSON object"),
        ('{"type": "echo", "priority": 101}', 400, "priority: Input should be less than or equal to 100"),
        ('{"type": "echo", "priority": -1}', 400, "priority: Input should be greater than or equal to 0"),
        ('{"type": "echo", "priority": "high"}', 400, "priority: Input should be a valid integer"),
        ('{"type": "echo", "delay": -5}', 400, "delay"),
        ('{"data": {}}', 400, "type is required"),
        ("[1, 2]", 400, "the body must be a JSON object"),
        ("", 400, "malformed JSON"),
    ],
)
def test_bad_submit_gets_a_4xx_saying_what_is_wrong(
    client: httpx.Client, body: str, status: int, message: str
) -> None:
    response = client.post("/queue", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status
    assert message in response.json()["error"]


@pytest.mark.parametrize(
    "content_type",
    ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x", None],
)
def test_a_body_that_is_not_declared_json_gets_415(client: httpx.Client, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    before = client.get("/api/metrics").json()["tasks"]
    response = client.post("/queue", content='{"type": "echo", "data": {}}', headers=headers)
    assert response.status_code == 415, response.text
    assert "application/json" in response.json()["error"]
    assert client.get("/api/metrics").json()["tasks"] == before


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "Application/JSON", "application/vnd.x+json"]
)
def test_json_content_types_are_accepted(client: httpx.Client, content_type: str) -> None:
    response = client.post(
        "/queue", content='{"type": "echo", "data": {}}', headers={"content-type": content_type}
    )
    assert response.status_code == 200, response.text


def test_body_over_the_limit_gets_413(client: httpx.Client) -> None:
    big = '{"type": "echo", "data": {"x": "' + "a" * 1_100_000 + '"}}'
    response = client.post("/queue", content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413 and "larger than the limit" in response.json()["error"]


def test_streamed_body_over_the_limit_gets_413(client: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"type": "echo", "data": {"x": "'
        for _ in range(12):
            yield b"a" * 100_000
        yield b'"}}'

    response = client.post("/queue", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_unknown_path_and_method_get_json_errors(client: httpx.Client) -> None:
    assert client.get("/nope").json() == {"error": "Not Found"}
    assert client.put("/queue").status_code == 405 and "error" in client.put("/queue").json()


def test_bad_wait_value_is_a_4xx(client: httpx.Client) -> None:
    task_id = submit(client, {"type": "echo", "data": {}})
    response = client.get(f"/api/tasks/{task_id}", params={"wait": "soon"})
    assert response.status_code == 400 and "wait" in response.json()["error"]


def test_token_protects_every_endpoint_but_health(daemon_factory: Any, tmp_path: Path) -> None:
    instance = daemon_factory({"echo": handler_table("behave", instances=1)}, {"token": "s3cret"})
    with (
        instance.client() as anonymous,
        instance.client(token="s3cret") as allowed,
        instance.client(token="wrong") as wrong,
    ):
        assert anonymous.get("/health").status_code == 200
        for path in ("/api/tasks", "/metrics", "/api/metrics", "/openapi.json"):
            response = anonymous.get(path)
            assert response.status_code == 401 and "bearer token" in response.json()["error"]
        assert wrong.post("/queue", json={"type": "echo"}).status_code == 401
        assert allowed.post("/queue", json={"type": "echo"}).status_code == 200
        assert allowed.get("/api/tasks").status_code == 200


def test_daemon_binds_127_0_0_1_by_default(daemon: Daemon) -> None:
    import subprocess

    assert daemon.process is not None
    listening = subprocess.run(["ss", "-ltnp"], capture_output=True, text=True, check=False).stdout
    line = next((row for row in listening.splitlines() if f":{daemon.port} " in row), "")
    if not line:
        pytest.skip("ss cannot show sockets here")
    assert f"127.0.0.1:{daemon.port}" in line


def test_data_and_results_far_over_64_kib_go_through(client: httpx.Client) -> None:
    text = "x" * 300_000  # the task line to the handler and its result line are both ~300 KB
    task = wait(client, submit(client, {"type": "echo", "data": {"echo": text}}))
    assert task["status"] == "completed" and task["result"]["echo"] == text
