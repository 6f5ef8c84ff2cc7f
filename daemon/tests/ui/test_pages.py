"""The dashboard's pages over HTTP, from a real daemon with a token: the public shells and
assets, the fragments behind the token, filters, and the actions."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from taskdaemond import defaults, ui
from tests.helpers import Daemon, handler_table, serving, wait_until

TOKEN = "s3cret-token"
PACKAGE = Path(ui.__file__).parent


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    with serving(
        tmp_path_factory.mktemp("ui"),
        {"steps": handler_table("steps", instances=1), "echo": handler_table("behave", instances=1)},
        {"token": TOKEN, "shutdown_grace": 1},
        # Due once a year: listed, never run while the tests look at the task counts.
        {
            "new-year": {
                "task_type": "echo",
                "cron": "0 0 1 1 *",
                "timezone": "Europe/Riga",
                "catch_up": False,
            }
        },
    ) as instance:
        yield instance


@pytest.fixture
def client(daemon: Daemon) -> Iterator[httpx.Client]:
    with daemon.client(TOKEN) as c:
        yield c


def submit(client: httpx.Client, task_type: str, data: dict[str, Any], **extra: Any) -> str:
    answer = client.post("/queue", json={"type": task_type, "data": data, **extra})
    assert answer.status_code == 200, answer.text
    task_id: str = answer.json()["task_id"]
    return task_id


def final(client: httpx.Client, task_id: str) -> dict[str, Any]:
    task: dict[str, Any] = client.get(f"/api/tasks/{task_id}", params={"wait": 30}).json()
    assert task["status"] not in ("pending", "processing"), task
    return task


def row_ids(html: str) -> list[str]:
    return re.findall(r'data-task-id="([0-9a-f-]{36})"', html)


def test_shells_and_assets_are_public_and_hold_no_data(daemon: Daemon) -> None:
    for path in ("/ui", "/ui/", "/ui/tasks?status=failed", "/ui/tasks/some-id", "/ui/schedules"):
        answer = httpx.get(daemon.url + path)
        assert answer.status_code == 200, path
        assert 'data-token-required="true"' in answer.text and 'id="login"' in answer.text
    assert 'hx-get="/ui/part/tasks?status=failed"' in httpx.get(daemon.url + "/ui/tasks?status=failed").text
    htmx = httpx.get(daemon.url + "/ui/static/htmx.min.js")
    assert htmx.status_code == 200 and "htmx" in htmx.text[:200]
    assert httpx.get(daemon.url + "/ui/static/dashboard.css").status_code == 200


def test_login_form_never_sends_the_token_in_a_url(daemon: Daemon) -> None:
    form = re.search(r"<form id=\"login\"[^>]*>", httpx.get(daemon.url + "/ui").text)
    assert form is not None and 'method="post"' in form.group(0)
    script = httpx.get(daemon.url + "/ui/static/dashboard.js").text
    assert "sessionStorage" in script and "Authorization" in script and "localStorage" not in script


def test_fragments_and_streams_need_the_token(daemon: Daemon) -> None:
    for path in (
        "/ui/part/overview",
        "/ui/part/tasks",
        "/ui/part/tasks/x",
        "/ui/part/schedules",
        "/api/events",
    ):
        assert httpx.get(daemon.url + path).status_code == 401, path
    assert httpx.post(daemon.url + "/ui/part/tasks/x/cancel").status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert httpx.get(daemon.url + "/ui/part/overview", headers=wrong).status_code == 401


def test_overview_shows_the_daemon_the_counts_and_the_pools(client: httpx.Client) -> None:
    task_id = submit(client, "echo", {"echo": 1})
    final(client, task_id)
    health = client.get("/health").json()
    html = client.get("/ui/part/overview").text
    assert health["daemon_id"] in html and "0.1.0" in html
    completed = re.search(r'data-status-count="completed">(\d+)<', html)
    assert completed is not None and int(completed.group(1)) >= 1
    assert (
        '<a href="/ui/tasks?type=steps">steps</a>' in html
        and '<a href="/ui/tasks?type=echo">echo</a>' in html
    )
    assert re.search(r"<rect [^>]*class=\"bar", html), "the minute's finished tasks are a bar of the chart"


def test_schedules_page_lists_each_schedule_with_its_next_due_time(client: httpx.Client) -> None:
    html = client.get("/ui/part/schedules").text
    [entry] = client.get("/api/schedules").json()["schedules"]
    row = re.search(r'<tr id="schedule-new-year".*?</tr>', html, re.S)
    assert row is not None, html
    assert "<code>0 0 1 1 *</code> Europe/Riga" in row.group(0)
    assert '<a href="/ui/tasks?type=echo">echo</a>' in row.group(0)
    assert entry["next_due"].replace("T", " ").rstrip("Z") in row.group(0)
    assert "<td>no</td>" in row.group(0)  # catch_up
    assert 'aria-current="page">Schedules' in client.get("/ui/schedules").text


def test_tasks_table_filters_by_status_type_and_error(client: httpx.Client) -> None:
    ok = submit(client, "echo", {"echo": "ok"})
    bad = submit(client, "echo", {"fail": "Quota EXCEEDED for bucket"})
    stepped = submit(client, "steps", {"steps": 1})
    for task_id in (ok, bad, stepped):
        final(client, task_id)
    failed = row_ids(client.get("/ui/part/tasks", params={"status": "failed"}).text)
    assert bad in failed and ok not in failed
    by_type = row_ids(client.get("/ui/part/tasks", params={"type": "steps"}).text)
    assert stepped in by_type and ok not in by_type and bad not in by_type
    by_error = row_ids(client.get("/ui/part/tasks", params={"error": "quota exceeded"}).text)
    assert by_error == [bad]
    newest, oldest = (
        row_ids(client.get("/ui/part/tasks", params={"order": o}).text) for o in ("newest", "oldest")
    )
    assert newest == oldest[::-1] and newest.index(stepped) < newest.index(ok)
    future = row_ids(client.get("/ui/part/tasks", params={"since": "2999-01-01T00:00"}).text)
    assert future == []
    problem = client.get("/ui/part/tasks", params={"since": "yesterday"}).text
    assert "is not a date and time" in problem


def test_tasks_table_pages_with_the_api_cursor(client: httpx.Client) -> None:
    ids = client.post("/queue/batch", json={"tasks": [{"type": "echo", "data": {"n": n}} for n in range(60)]})
    assert ids.status_code == 200
    first = client.get("/ui/part/tasks", params={"type": "echo"}).text
    assert len(row_ids(first)) == defaults.UI_PAGE_SIZE
    link = re.search(r'href="(/ui/tasks\?[^"]*cursor=\d+)" rel="next"', first)
    assert link is not None
    second = client.get(link.group(1).replace("/ui/tasks", "/ui/part/tasks").replace("&amp;", "&")).text
    assert row_ids(second) and not set(row_ids(second)) & set(row_ids(first))


def test_task_page_shows_data_attempts_errors_and_logs(client: httpx.Client) -> None:
    task_id = submit(client, "steps", {"steps": 2, "fail": "the end"})
    final(client, task_id)
    html = client.get(f"/ui/part/tasks/{task_id}").text
    assert "&#34;steps&#34;: 2" in html or '"steps": 2' in html
    assert "StepFailed" in html and "the end" in html and "Attempt 0" in html
    assert "step 1 of 2" in html and "step 2 of 2" in html
    assert 'value="1.0"' in html, "the progress bar is full"
    assert "data-live" not in html, "a final task is not watched"
    assert "Redrive all failed steps" in html


def test_actions_cancel_redrive_and_delete(client: httpx.Client, tmp_path: Path) -> None:
    pending = submit(client, "echo", {"echo": 1}, delay=600)
    html = client.post(f"/ui/part/tasks/{pending}/cancel").text
    assert "Cancelled." in html and client.get(f"/api/tasks/{pending}").json()["status"] == "cancelled"
    again = client.post(f"/ui/part/tasks/{pending}/cancel").text
    assert "already cancelled" in again

    fixed = tmp_path / "fixed"
    failed = [submit(client, "steps", {"steps": 0, "fail_until": str(fixed)}) for _ in range(3)]
    for task_id in failed:
        assert final(client, task_id)["status"] == "failed"
    fixed.touch()
    html = client.post(f"/ui/part/tasks/{failed[0]}/redrive").text
    assert "Redriven" in html
    assert final(client, failed[0])["status"] == "completed"
    html = client.post(f"/ui/part/tasks/{failed[1]}/redrive-failed").text
    count = re.search(r"Redriven: (\d+) failed steps tasks", html)
    assert count is not None and int(count.group(1)) >= 2, html
    assert all(final(client, t)["status"] == "completed" for t in failed[1:])

    html = client.post(f"/ui/part/tasks/{pending}/delete").text
    assert "Deleted." in html and "no such task" in html
    assert client.get(f"/api/tasks/{pending}").status_code == 404


def test_live_section_is_on_a_running_task_page(client: httpx.Client, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    task_id = submit(client, "steps", {"steps": 2, "gate": str(gate)})
    wait_until(lambda: client.get(f"/api/tasks/{task_id}").json()["progress"], what="half way")
    html = client.get(f"/ui/part/tasks/{task_id}").text
    gate.touch()
    assert f'data-live="/api/tasks/{task_id}/events"' in html and 'value="0.5"' in html
    final(client, task_id)


def test_every_template_and_asset_ships_in_the_wheel() -> None:
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["taskdaemond"]
    root = PACKAGE.parent
    files = [
        p for p in PACKAGE.rglob("*") if p.is_file() and p.suffix != ".py" and "__pycache__" not in p.parts
    ]
    assert {p.name for p in files} >= {"htmx.min.js", "htmx.LICENSE", "dashboard.js", "shell.html"}
    for path in files:
        relative = path.relative_to(root).as_posix()
        assert any(fnmatch.fnmatch(relative, pattern) for pattern in patterns), relative


def test_tasks_table_filters_by_tag_and_pages_show_tags(client: httpx.Client) -> None:
    acme = client.post("/queue", json={"type": "echo", "data": {}, "tags": {"tenant": "acme"}}).json()[
        "task_id"
    ]
    other = client.post("/queue", json={"type": "echo", "data": {}, "tags": {"tenant": "globex"}}).json()[
        "task_id"
    ]
    assert row_ids(client.get("/ui/part/tasks", params={"tag": "tenant:acme"}).text) == [acme]
    assert row_ids(client.get("/ui/part/tasks", params={"tag": "tenant:globex"}).text) == [other]
    assert "is not key:value" in client.get("/ui/part/tasks", params={"tag": "tenant"}).text
    listing = client.get("/ui/part/tasks", params={"tag": "tenant:acme"}).text
    assert 'data-live="/api/events?tag=tenant%3Aacme"' in listing
    assert ">tenant:acme</a>" in client.get(f"/ui/part/tasks/{acme}").text


def test_every_form_control_has_a_label(client: httpx.Client, daemon: Daemon) -> None:
    pages = [
        httpx.get(daemon.url + "/ui").text,
        client.get("/ui/part/tasks").text,
        client.get("/ui/part/overview").text,
    ]
    for html in pages:
        controls = re.findall(r"<(?:input|select|textarea)\b[^>]*\bid=\"([^\"]+)\"", html)
        unlabelled = [c for c in controls if f'<label for="{c}"' not in html]
        assert not unlabelled, unlabelled
        assert len(re.findall(r"<(?:input|select|textarea)\b", html)) == len(controls), (
            "every control has an id"
        )


def test_workflows_pages_list_them_and_show_steps_with_their_dependencies(
    client: httpx.Client, daemon: Daemon
) -> None:
    body = {
        "name": "ui-etl",
        "steps": [
            {"name": "extract", "type": "echo", "data": {"echo": 1}},
            {"name": "load", "type": "echo", "data": {"echo": 2}, "depends_on": ["extract"]},
        ],
    }
    created = client.post("/workflows", json=body).json()
    workflow_id = created["workflow_id"]
    final(client, created["task_ids"]["load"])
    listing = client.get("/ui/part/workflows").text
    row = re.search(rf'<tr id="workflow-{workflow_id}".*?</tr>', listing, re.S)
    assert row is not None, listing
    assert "ui-etl" in row.group(0) and "status-completed" in row.group(0)
    page = client.get(f"/ui/part/workflows/{workflow_id}").text
    load = re.search(r'<tr id="step-load".*?</tr>', page, re.S)
    assert load is not None, page
    assert f'href="/ui/tasks/{created["task_ids"]["load"]}"' in load.group(0)
    assert "<td>extract</td>" in load.group(0)
    task_page = client.get(f"/ui/part/tasks/{created['task_ids']['load']}").text
    assert f'href="/ui/workflows/{workflow_id}"' in task_page
    assert f'href="/ui/tasks/{created["task_ids"]["extract"]}"' in task_page
    assert client.get("/ui/part/workflows/nope").status_code == 404
    for path in ("/ui/workflows", f"/ui/workflows/{workflow_id}"):
        assert httpx.get(daemon.url + path).status_code == 200, path  # public shells
    assert httpx.get(daemon.url + "/ui/part/workflows").status_code == 401
    assert 'aria-current="page">Workflows' in client.get("/ui/workflows").text
