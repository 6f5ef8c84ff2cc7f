"""Hostile input against a real daemon: every number has a range, no field is dropped in silence,
no body makes a 500, and one bad submit cannot break the API for everyone else."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from taskdaemond import defaults
from tests.helpers import Daemon, handler_table, serving


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    with serving(
        tmp_path_factory.mktemp("hostile"),
        {"hello": handler_table("behave", instances=1)},
        {"shutdown_grace": 1},
    ) as instance:
        yield instance


def post_raw(client: httpx.Client, path: str, body: str | bytes) -> httpx.Response:
    return client.post(path, content=body, headers={"content-type": "application/json"})


def assert_api_answers(client: httpx.Client) -> None:
    """The listing and a task read still work for everyone."""
    listing = client.get("/api/tasks", params={"limit": 1000})
    assert listing.status_code == 200, listing.text
    for task in listing.json()["tasks"][:20]:
        assert client.get(f"/api/tasks/{task['id']}").status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"type": "hello", "delay": 1e12}', "delay"),
        ('{"type": "hello", "delay": 1e400}', "delay"),
        ('{"type": "hello", "delay": -1e400}', "delay"),
        ('{"type": "hello", "delay": Infinity}', None),
        ('{"type": "hello", "delay": NaN}', None),
        (f'{{"type": "hello", "delay": {defaults.MAX_DELAY + 1}}}', "delay"),
        ('{"type": "hello", "priority": 1e3}', "priority"),
        ('{"type": "hello", "priority": 9223372036854775808}', "priority"),
        ('{"type": "hello", "max_retries": 1001}', "max_retries"),
        ('{"type": "hello", "max_retries": -1}', "max_retries"),
        ('{"type": "hello", "data": {"x": 1e400}}', "data"),
        ('{"type": "hello", "data": {"x": [1, {"y": -1e999}]}}', "data"),
        ('{"type": "hello", "data": {"x": NaN}}', None),
    ],
)
def test_a_number_out_of_its_range_is_refused_naming_the_field(
    client: httpx.Client, body: str, field: str | None
) -> None:
    response = post_raw(client, "/queue", body)
    assert response.status_code == 400, response.text
    message = response.json()["error"]
    if field is not None:
        assert message.startswith(f"{field}") or f" {field}" in message, message
    batch = post_raw(client, "/queue/batch", '{"tasks": [' + body + "]}")
    assert batch.status_code == 400, batch.text
    assert_api_answers(client)


def test_the_longest_delay_is_accepted_and_the_api_still_answers(client: httpx.Client) -> None:
    response = client.post("/queue", json={"type": "hello", "delay": defaults.MAX_DELAY})
    assert response.status_code == 200, response.text
    task_id = response.json()["task_id"]
    task = client.get(f"/api/tasks/{task_id}").json()
    assert task["status"] == "pending" and task["run_at"]
    assert_api_answers(client)
    cancelled = client.post(f"/api/tasks/{task_id}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"cursor": "9223372036854775808"}, "cursor"),
        ({"cursor": "9" * 40}, "cursor"),
        ({"cursor": "-1"}, "cursor"),
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"limit": "1e3"}, "limit"),
    ],
)
def test_list_parameters_out_of_range_are_refused(
    client: httpx.Client, params: dict[str, str], field: str
) -> None:
    response = client.get("/api/tasks", params=params)
    assert response.status_code == 400, response.text
    assert field in response.json()["error"]


def test_the_largest_cursor_is_accepted(client: httpx.Client) -> None:
    response = client.get("/api/tasks", params={"cursor": str(defaults.MAX_CURSOR)})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("wait", ["nan", "inf", "-inf", "-1", "301", "1e400"])
def test_wait_out_of_range_is_refused(client: httpx.Client, wait: str) -> None:
    task_id = client.post("/queue", json={"type": "hello"}).json()["task_id"]
    response = client.get(f"/api/tasks/{task_id}", params={"wait": wait})
    assert response.status_code == 400, response.text
    assert "wait" in response.json()["error"]


@pytest.mark.parametrize("depth", [201, 1_100, 100_000])
def test_deeply_nested_json_gets_a_400_with_a_message(client: httpx.Client, depth: int) -> None:
    body = '{"type": "hello", "data": {"x": ' + "[" * depth + "]" * depth + "}}"
    response = post_raw(client, "/queue", body)
    assert response.status_code == 400, response.text
    assert "nested" in response.json()["error"]
    assert post_raw(client, "/queue/batch", "[" * depth + "]" * depth).status_code == 400


def test_nesting_within_the_limit_is_accepted(client: httpx.Client) -> None:
    depth = defaults.MAX_JSON_DEPTH - 2  # the body and data take two levels
    body = '{"type": "hello", "data": {"x": ' + "[" * depth + "]" * depth + "}}"
    assert post_raw(client, "/queue", body).status_code == 200


@pytest.mark.parametrize(
    ("path", "body", "named"),
    [
        ("/queue", {"type": "hello", "labels": {"team": "a"}}, "labels"),
        ("/queue", {"type": "hello", "Priority": 5}, "Priority"),
        ("/queue/batch", {"tasks": [{"type": "hello"}, {"type": "hello", "labels": {}}]}, "tasks.1.labels"),
        ("/queue/batch", {"tasks": [{"type": "hello"}], "atomic": True}, "atomic"),
    ],
)
def test_unknown_fields_are_refused_naming_the_field(
    client: httpx.Client, path: str, body: dict[str, Any], named: str
) -> None:
    before = client.get("/api/metrics").json()["tasks"]
    response = client.post(path, json=body)
    assert response.status_code == 400, response.text
    assert f"unknown field '{named}'" in response.json()["error"]
    assert client.get("/api/metrics").json()["tasks"] == before


def test_big_integers_in_data_still_go_through(client: httpx.Client) -> None:
    response = post_raw(
        client, "/queue", '{"type": "hello", "data": {"n": 123456789012345678901234567890}, "delay": 60}'
    )
    assert response.status_code == 200, response.text
    task = client.get(f"/api/tasks/{response.json()['task_id']}").json()
    assert task["data"] == {"n": 123456789012345678901234567890}
