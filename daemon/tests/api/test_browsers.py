"""A web page in a browser on the same machine cannot drive the daemon: the Host header must
name the daemon (DNS rebinding), an Origin must be the daemon's own, and bodies must be JSON
(no HTML form or text/plain fetch gets through)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.helpers import handler_table


@pytest.fixture
def daemon(daemon_factory: Any) -> Any:
    return daemon_factory(
        {"echo": handler_table("behave", instances=1)},
        {"allowed_hosts": ["tasks.internal"], "shutdown_grace": 1},
        env={"DAEMON_ALLOWED_HOSTS": "tasks.internal, Other.Example"},
    )


def pending_task(daemon: Any) -> str:
    response = httpx.post(f"{daemon.url}/queue", json={"type": "echo", "delay": 600}, timeout=10)
    assert response.status_code == 200, response.text
    task_id: str = response.json()["task_id"]
    return task_id


def status_of(daemon: Any, task_id: str) -> str:
    status: str = httpx.get(f"{daemon.url}/api/tasks/{task_id}", timeout=10).json()["status"]
    return status


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:{port}", "127.0.0.1.evil.example", "10.1.2.3"]
)
def test_a_foreign_host_header_gets_a_json_400(daemon: Any, host: str) -> None:
    headers = {"Host": host.format(port=daemon.port)}
    before = httpx.get(f"{daemon.url}/api/metrics", timeout=10).json()["tasks"]
    for method, path in (("GET", "/api/tasks"), ("POST", "/queue"), ("GET", "/health")):
        response = httpx.request(
            method, f"{daemon.url}{path}", json={"type": "echo"}, headers=headers, timeout=10
        )
        assert response.status_code == 400, (path, response.text)
        assert "not allowed" in response.json()["error"]
    assert httpx.get(f"{daemon.url}/api/metrics", timeout=10).json()["tasks"] == before


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1:{port}",
        "localhost:{port}",
        "LOCALHOST",
        "[::1]:{port}",
        "tasks.internal:{port}",
        "other.example",
    ],
)
def test_the_bound_address_localhost_and_configured_names_are_answered(daemon: Any, host: str) -> None:
    response = httpx.get(
        f"{daemon.url}/api/tasks", headers={"Host": host.format(port=daemon.port)}, timeout=10
    )
    assert response.status_code == 200, response.text


def test_a_cross_origin_cancel_is_refused_and_changes_nothing(daemon: Any) -> None:
    task_id = pending_task(daemon)
    for origin in ("http://evil.example", "null", "https://attacker.test:8443"):
        response = httpx.post(
            f"{daemon.url}/api/tasks/{task_id}/cancel", headers={"Origin": origin}, timeout=10
        )
        assert response.status_code == 403 and "cross-origin" in response.json()["error"], response.text
    assert status_of(daemon, task_id) == "pending"
    own = httpx.post(
        f"{daemon.url}/api/tasks/{task_id}/cancel",
        headers={"Origin": f"http://127.0.0.1:{daemon.port}"},
        timeout=10,
    )
    assert own.status_code == 200 and own.json()["status"] == "cancelled"


def test_an_html_form_post_is_refused_with_415(daemon: Any) -> None:
    task_id = pending_task(daemon)
    form = {"content-type": "application/x-www-form-urlencoded"}
    response = httpx.post(f"{daemon.url}/api/tasks/{task_id}/cancel", content="x=1", headers=form, timeout=10)
    assert response.status_code == 415 and "application/json" in response.json()["error"]
    assert status_of(daemon, task_id) == "pending"
    submit = httpx.post(
        f"{daemon.url}/queue", content='{"type": "echo"}', headers={"content-type": "text/plain"}
    )
    assert submit.status_code == 415
