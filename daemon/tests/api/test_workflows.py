"""Dependencies and workflows over HTTP, against a real daemon whose handler echoes the task
line it was given: results reach dependents in the task message's ``dependencies``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import handler_table, serving, submit, wait, wait_until

HANDLERS = {"echo": handler_table("task_line", instances=2)}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with serving(tmp_path_factory.mktemp("workflows"), HANDLERS) as daemon, daemon.client() as c:
        yield c


def message_of(task: dict[str, Any]) -> dict[str, Any]:
    line: dict[str, Any] = task["result"]["line"]
    return line


def test_a_dependent_gets_its_dependencies_results_in_its_task_message(client: httpx.Client) -> None:
    a = submit(client, {"type": "echo", "data": {"n": 1}})
    b = submit(client, {"type": "echo", "data": {"n": 2}})
    c = submit(client, {"type": "echo", "data": {"n": 3}, "depends_on": [a, b]})
    done = wait(client, c)
    assert done["status"] == "completed"
    deps = message_of(done)["dependencies"]
    assert set(deps) == {a, b}
    assert deps[a]["task_id"] == a
    assert deps[a]["task_type"] == "echo"
    assert deps[a]["result"] == wait(client, a)["result"]
    assert deps[b]["result"]["line"]["task_data"] == {"n": 2}
    assert "dependencies" not in message_of(wait(client, a))  # none: the field is left out
    record = client.get(f"/api/tasks/{c}").json()
    assert sorted(record["depends_on"]) == sorted([a, b])
    started = record["started_at"]
    assert started >= wait(client, a)["finished_at"]
    assert started >= wait(client, b)["finished_at"]


def test_unknown_dependencies_are_refused_naming_them(client: httpx.Client) -> None:
    a = submit(client, {"type": "echo"})
    answer = client.post("/queue", json={"type": "echo", "depends_on": [a, "nope-1"]})
    assert answer.status_code == 400
    assert "nope-1" in answer.json()["error"]
    assert answer.json()["unknown_task_ids"] == ["nope-1"]
    batch = client.post(
        "/queue/batch", json={"tasks": [{"type": "echo"}, {"type": "echo", "depends_on": ["x"]}]}
    )
    assert batch.status_code == 400
    assert "x" in batch.json()["error"]


def test_a_failed_dependency_fails_or_cancels_its_dependents(client: httpx.Client) -> None:
    a = submit(client, {"type": "echo", "data": {"fail": "broken input"}, "max_retries": 0})
    b = submit(client, {"type": "echo", "depends_on": [a]})
    c = submit(client, {"type": "echo", "depends_on": [b], "on_dependency_failure": "cancel"})
    assert wait(client, a)["status"] == "failed"
    failed = wait(client, b)
    assert failed["status"] == "failed"
    assert failed["last_error"] == f"dependency (task {a}) failed: broken input"
    assert wait(client, c)["status"] == "cancelled"
    assert client.post("/queue", json={"type": "echo", "on_dependency_failure": "explode"}).status_code == 400


def test_a_workflow_runs_its_graph_and_has_a_record(client: httpx.Client) -> None:
    body = {
        "name": "etl",
        "steps": [
            {"name": "load", "type": "echo", "data": {"step": "load"}, "depends_on": ["clean", "extract"]},
            {"name": "extract", "task_type": "echo", "data": {"step": "extract"}},
            {"name": "clean", "type": "echo", "depends_on": ["extract"], "priority": 60},
        ],
        "idempotency_key": "etl-1",
    }
    answer = client.post("/workflows", json=body)
    assert answer.status_code == 200, answer.text
    created = answer.json()
    workflow_id = created["workflow_id"]
    assert set(created["task_ids"]) == {"load", "extract", "clean"}
    load = wait(client, created["task_ids"]["load"])
    assert load["status"] == "completed"
    assert load["workflow_id"] == workflow_id
    assert load["step"] == "load"
    deps = message_of(load)["dependencies"]
    assert set(deps) == {"clean", "extract"}
    assert deps["extract"]["task_id"] == created["task_ids"]["extract"]
    assert deps["extract"]["result"]["line"]["task_data"] == {"step": "extract"}
    record = wait_until(
        lambda: (r := client.get(f"/api/workflows/{workflow_id}").json())["status"] == "completed" and r,
        what="the workflow completed",
    )
    assert record["name"] == "etl"
    assert record["steps_total"] == 3
    assert record["duration"] is not None
    by_step = {s["step"]: s for s in record["steps"]}
    assert by_step["load"]["depends_on"] == ["clean", "extract"]
    assert by_step["clean"]["started_at"] >= by_step["extract"]["finished_at"]
    again = client.post("/workflows", json=body).json()
    assert again["workflow_id"] == workflow_id
    listing = client.get("/api/workflows", params={"limit": 1}).json()
    assert listing["workflows"][0]["id"] == workflow_id


@pytest.mark.parametrize(
    ("steps", "named"),
    [
        ([], "at least one step"),
        ([{"name": "a", "type": "echo"}, {"name": "a", "type": "echo"}], "'a' is used by two steps"),
        ([{"name": "a", "type": "echo", "depends_on": ["ghost"]}], "no such step: ghost"),
        (
            [
                {"name": "a", "type": "echo", "depends_on": ["c"]},
                {"name": "b", "type": "echo", "depends_on": ["a"]},
                {"name": "c", "type": "echo", "depends_on": ["b"]},
            ],
            "a cycle",
        ),
        ([{"name": "a", "type": "nope"}], "unknown task type 'nope'"),
    ],
)
def test_a_bad_workflow_is_refused_naming_what_is_wrong(
    client: httpx.Client, steps: list[dict[str, Any]], named: str
) -> None:
    before = client.get("/api/workflows").json()["workflows"]
    answer = client.post("/workflows", json={"steps": steps})
    assert answer.status_code == 400
    assert named in answer.json()["error"]
    assert client.get("/api/workflows").json()["workflows"] == before


def test_a_cycle_is_named_step_by_step(client: httpx.Client) -> None:
    steps = [
        {"name": "a", "type": "echo", "depends_on": ["b"]},
        {"name": "b", "type": "echo", "depends_on": ["a"]},
    ]
    error = client.post("/workflows", json={"steps": steps}).json()["error"]
    assert "a -> b -> a" in error


def test_a_failed_step_fails_the_workflow_and_redrive_revives_it(
    client: httpx.Client, tmp_path: Path
) -> None:
    fixed = tmp_path / "fixed"
    body = {
        "steps": [
            {"name": "first", "type": "echo", "data": {"fail_until": str(fixed)}, "max_retries": 0},
            {"name": "second", "type": "echo", "depends_on": ["first"]},
        ],
        "on_failure": "cancel",
    }
    created = client.post("/workflows", json=body).json()
    second = wait(client, created["task_ids"]["second"])
    assert second["status"] == "cancelled"
    assert "dependency 'first'" in second["last_error"]
    record = client.get(f"/api/workflows/{created['workflow_id']}").json()
    assert record["status"] == "failed"
    by_step = {s["step"]: s for s in record["steps"]}
    assert by_step["second"]["failed_by"] == created["task_ids"]["first"]
    assert client.get("/api/workflows/nope").status_code == 404
    fixed.touch()  # the cause is fixed: the redrive runs first again, then second
    redriven = client.post(f"/api/workflows/{created['workflow_id']}/redrive")
    assert redriven.status_code == 200
    assert wait(client, created["task_ids"]["second"])["status"] == "completed"
    done = wait_until(
        lambda: (
            (r := client.get(f"/api/workflows/{created['workflow_id']}").json())["status"] == "completed"
            and r
        ),
        what="the redriven workflow completed",
    )
    assert [s["attempts"] for s in done["steps"]] == [1, 1]
