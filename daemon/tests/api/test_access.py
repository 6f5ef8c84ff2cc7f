"""Who may see and do what: the bearer token, /health's two faces, HEAD, cancel's answer."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.helpers import handler_table, wait_until

TOKEN = "s3cret-token"


@pytest.fixture
def guarded(daemon_factory: Any) -> Any:
    return daemon_factory(
        {"echo": handler_table("behave", instances=1)}, {"token": TOKEN, "shutdown_grace": 1}
    )


def test_health_without_the_token_tells_liveness_only(guarded: Any) -> None:
    anonymous = httpx.get(f"{guarded.url}/health", timeout=10)
    assert anonymous.status_code == 200
    assert set(anonymous.json()) == {"status", "version"} and anonymous.json()["status"] == "healthy"
    wrong = httpx.get(f"{guarded.url}/health", headers={"Authorization": "Bearer nope"}, timeout=10)
    assert set(wrong.json()) == {"status", "version"}
    full = httpx.get(f"{guarded.url}/health", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10).json()
    assert "pools" in full and "daemon_id" in full and full["pools"]["echo"]["slots"]


def test_health_without_a_token_configured_shows_everything(daemon_factory: Any) -> None:
    instance = daemon_factory({"echo": handler_table("behave", instances=1)})
    assert "pools" in httpx.get(f"{instance.url}/health", timeout=10).json()


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_the_bearer_scheme_name_is_case_insensitive(guarded: Any, scheme: str) -> None:
    response = httpx.get(
        f"{guarded.url}/api/tasks", headers={"Authorization": f"{scheme} {TOKEN}"}, timeout=10
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("header", [f"Basic {TOKEN}", TOKEN, f"Bearer {TOKEN}x", "Bearer", f"Bearer{TOKEN}"])
def test_anything_but_the_bearer_token_is_refused(guarded: Any, header: str) -> None:
    response = httpx.get(f"{guarded.url}/api/tasks", headers={"Authorization": header}, timeout=10)
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"


def test_head_health_answers_without_a_body(guarded: Any) -> None:
    response = httpx.head(f"{guarded.url}/health", timeout=10)
    assert response.status_code == 200 and response.content == b""


def test_a_cancel_that_loses_to_completion_is_a_409_with_the_status(daemon_factory: Any) -> None:
    """Cancels aimed at the moment tasks complete: every 200 is a cancelled task, every other
    answer a 409 saying the task was not cancelled and what it is."""
    instance = daemon_factory({"echo": handler_table("behave", instances=2)}, {"shutdown_grace": 1})
    answers: list[tuple[int, dict[str, Any]]] = []
    with instance.client() as client:
        for n in range(30):
            sleep = 0.02 + (n % 10) * 0.01
            task_id = client.post("/queue", json={"type": "echo", "data": {"sleep": sleep}}).json()["task_id"]
            wait_until(
                lambda task_id=task_id: client.get(f"/api/tasks/{task_id}").json()["status"] != "pending",
                timeout=20,
                interval=0.005,
                what="task started",
            )
            response = client.post(f"/api/tasks/{task_id}/cancel")
            answers.append((response.status_code, response.json()))
            if response.status_code == 409:
                final = wait_until(
                    lambda task_id=task_id: (
                        client.get(f"/api/tasks/{task_id}").json()["status"] in ("completed", "cancelled")
                    ),
                    what="task final",
                )
                assert final
    for status, body in answers:
        assert status in (200, 409), (status, body)
        if status == 200:
            assert body["status"] == "cancelled", body
        else:
            assert body["status"] in ("completed", "processing", "cancelled") and "task_id" in body, body
            assert (
                "not cancelled" in body["error"] or "finishing" in body["error"] or "already" in body["error"]
            )
