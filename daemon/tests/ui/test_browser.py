"""The dashboard in a real browser: Playwright driving Debian's chromium against a real daemon
with a token. Each page is also photographed at desktop and phone width into daemon/docs/."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import Daemon, handler_table, serving

pytestmark = pytest.mark.browser

playwright_api = pytest.importorskip("playwright.sync_api")

TOKEN = "browser-token"
DOCS = Path(__file__).parents[2] / "docs"
CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
#: Milliseconds Playwright waits for what a test expects (a loaded 2-core machine included).
WAIT_MS = 20_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"no chromium at {CHROMIUM}: scripts/setup.sh installs Debian's (make setup)", pytrace=False
        )
    with playwright_api.sync_playwright() as p:
        # Debian's chromium, not Playwright's download; no sandbox: the tests run as root.
        instance = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield instance
        instance.close()


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    with serving(
        tmp_path_factory.mktemp("browser"),
        {"steps": handler_table("steps", instances=2), "resize": handler_table("steps", instances=1)},
        {"token": TOKEN, "shutdown_grace": 1},
        # Due once a year: listed, never run while the tests look at the task counts.
        {"new-year": {"task_type": "resize", "cron": "0 0 1 1 *", "timezone": "Europe/Riga"}},
    ) as instance:
        yield instance


@pytest.fixture
def api(daemon: Daemon) -> Iterator[httpx.Client]:
    with daemon.client(TOKEN) as client:
        yield client


def submit(api: httpx.Client, task_type: str, data: dict[str, Any]) -> str:
    answer = api.post("/queue", json={"type": task_type, "data": data})
    assert answer.status_code == 200, answer.text
    task_id: str = answer.json()["task_id"]
    return task_id


def signed_in(browser: Any, viewport: dict[str, int] = DESKTOP) -> Any:
    """A page whose tab already holds the token in its session (as after signing in)."""
    context = browser.new_context(viewport=viewport)
    context.add_init_script(f"sessionStorage.setItem('taskdaemon-token', {TOKEN!r})")
    context.set_default_timeout(WAIT_MS)
    return context.new_page()


def photograph(browser: Any, url: str, name: str, ready: str) -> None:
    """Screenshots of ``url`` at desktop and phone width: docs/ui-<name>-{desktop,phone}.png."""
    DOCS.mkdir(exist_ok=True)
    for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page = signed_in(browser, viewport)
        page.goto(url)
        page.wait_for_selector(ready)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= viewport["width"], f"{url} is {width} px wide at {label} width: it scrolls sideways"
        page.screenshot(path=str(DOCS / f"ui-{name}-{label}.png"), full_page=True)
        page.context.close()


def test_login_form_works_with_the_token_and_keeps_it_out_of_urls(browser: Any, daemon: Daemon) -> None:
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{daemon.url}/ui")
    login = page.get_by_label("API token")
    login.wait_for()
    for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        page.screenshot(path=str(DOCS / f"ui-login-{label}.png"))
    page.set_viewport_size(DESKTOP)
    login.fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("That token was refused.").wait_for()
    login.fill(TOKEN)
    page.get_by_role("button", name="Sign in").click()
    daemon_id = httpx.get(f"{daemon.url}/health", headers={"Authorization": f"Bearer {TOKEN}"}).json()[
        "daemon_id"
    ]
    page.locator("#daemon-id").filter(has_text=daemon_id).wait_for()
    assert page.evaluate("sessionStorage.getItem('taskdaemon-token')") == TOKEN
    assert page.evaluate("localStorage.length") == 0
    assert not [url for url in requested if TOKEN in url], "the token never appears in a URL"
    page.reload()  # the session keeps the token: no login form this time
    page.locator("#daemon-id").wait_for()
    assert page.locator("#login").is_hidden()
    context.close()


def test_schedules_page_is_reached_from_the_menu_and_lists_the_schedule(browser: Any, daemon: Daemon) -> None:
    page = signed_in(browser)
    page.goto(f"{daemon.url}/ui")
    page.locator("#daemon-id").wait_for()
    page.get_by_role("link", name="Schedules").click()
    row = page.locator('tr[data-schedule="new-year"]')
    row.wait_for()
    assert "0 0 1 1 *" in row.inner_text() and "Europe/Riga" in row.inner_text()
    assert page.url == f"{daemon.url}/ui/schedules"
    page.context.close()
    photograph(browser, f"{daemon.url}/ui/schedules", "schedules", 'tr[data-schedule="new-year"]')


def test_overview_loads_with_pools_and_counts(browser: Any, daemon: Daemon, api: httpx.Client) -> None:
    api.get(f"/api/tasks/{submit(api, 'steps', {'steps': 2})}", params={"wait": 30})
    page = signed_in(browser)
    page.goto(f"{daemon.url}/ui")
    page.get_by_role("link", name="steps", exact=True).wait_for()
    completed = page.locator('[data-status-count="completed"]')
    assert int(completed.inner_text()) >= 1
    assert page.locator("svg[role=img] rect.bar").count() >= 1
    page.context.close()
    photograph(browser, f"{daemon.url}/ui", "overview", "#daemon-id")


def test_submitted_task_appears_and_its_progress_bar_moves_to_done(
    browser: Any, daemon: Daemon, api: httpx.Client, tmp_path: Path
) -> None:
    page = signed_in(browser)
    page.goto(f"{daemon.url}/ui/tasks?type=steps")
    page.get_by_role("table").wait_for()
    gate = tmp_path / "gate"
    answer = api.post(
        "/queue",
        json={
            "type": "steps",
            "data": {"steps": 4, "pause": 0.2, "gate": str(gate)},
            "tags": {"tenant": "acme"},
        },
    )
    task_id = answer.json()["task_id"]
    row = page.locator(f'tr[data-task-id="{task_id}"]')
    row.wait_for()  # the table refreshed itself from /api/events
    row.get_by_role("link", name=task_id[:8]).click()
    page.wait_for_url(f"**/ui/tasks/{task_id}")
    page.wait_for_function(
        "document.getElementById('progress') && document.getElementById('progress').value == 0.5"
    )
    photograph(browser, f"{daemon.url}/ui/tasks/{task_id}", "task", "#progress")
    assert page.locator("#logs li").count() == 4, "the history once: two logs, two progress events"
    gate.touch()
    # Live: the bar moves to done and the status turns completed without a reload.
    page.wait_for_function("document.getElementById('progress').value == 1")
    page.locator("#status").filter(has_text="completed").wait_for()
    page.locator("#result").wait_for()  # the final page, re-rendered at the end of the stream
    page.wait_for_function("document.querySelectorAll('#logs li').length >= 8")
    assert page.locator("#logs li").count() == 8, "four logs and four progress events, none twice"
    assert page.locator("#logs li").filter(has_text="step 4 of 4").count() == 1
    page.context.close()


def test_filters_narrow_the_table(browser: Any, daemon: Daemon, api: httpx.Client) -> None:
    bad = submit(api, "resize", {"steps": 1, "fail": "image too large"})
    good = submit(api, "steps", {"steps": 1})
    for task_id in (bad, good):
        api.get(f"/api/tasks/{task_id}", params={"wait": 30})
    page = signed_in(browser)
    page.goto(f"{daemon.url}/ui/tasks")
    page.locator(f'tr[data-task-id="{good}"]').wait_for()
    page.get_by_label("Status").select_option("failed")
    page.get_by_label("Error contains").fill("TOO LARGE")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/ui/tasks?status=failed*")
    page.locator(f'tr[data-task-id="{bad}"]').wait_for()
    assert page.locator("tbody tr[data-task-id]").count() == 1
    page.get_by_label("Status").select_option("")
    page.get_by_label("Error contains").fill("")
    page.get_by_label("Type").select_option("steps")
    page.get_by_role("button", name="Filter").click()
    page.locator(f'tr[data-task-id="{good}"]').wait_for()
    assert page.locator(f'tr[data-task-id="{bad}"]').count() == 0
    page.context.close()
    photograph(browser, f"{daemon.url}/ui/tasks", "tasks", "table.tasks")


def test_cancel_and_redrive_from_the_page(
    browser: Any, daemon: Daemon, api: httpx.Client, tmp_path: Path
) -> None:
    never = tmp_path / "never"
    running = submit(api, "steps", {"steps": 2, "gate": str(never)})
    page = signed_in(browser)
    page.goto(f"{daemon.url}/ui/tasks/{running}")
    page.wait_for_function(
        "document.getElementById('progress') && document.getElementById('progress').value == 0.5"
    )
    page.get_by_role("button", name="Cancel").click()
    page.locator("#status").filter(has_text="cancelled").wait_for()
    assert page.get_by_role("button", name="Cancel").count() == 0, "a final task offers no cancel"
    assert api.get(f"/api/tasks/{running}").json()["status"] == "cancelled"

    fixed = tmp_path / "fixed"
    failing = submit(api, "resize", {"steps": 1, "fail_until": str(fixed)})
    assert api.get(f"/api/tasks/{failing}", params={"wait": 30}).json()["status"] == "failed"
    page.goto(f"{daemon.url}/ui/tasks/{failing}")
    page.get_by_text("StepFailed").first.wait_for()
    fixed.touch()
    page.get_by_role("button", name="Redrive", exact=True).click()
    page.locator("#status").filter(has_text="completed").wait_for()
    assert api.get(f"/api/tasks/{failing}").json()["status"] == "completed"
    page.context.close()


def test_workflows_page_is_reached_from_the_menu_and_shows_the_steps(
    browser: Any, daemon: Daemon, api: httpx.Client
) -> None:
    body = {
        "name": "nightly-etl",
        "steps": [
            {"name": "extract", "type": "steps", "data": {"steps": 1}},
            {"name": "clean", "type": "steps", "data": {"steps": 1}, "depends_on": ["extract"]},
            {"name": "load", "type": "steps", "data": {"steps": 1}, "depends_on": ["clean", "extract"]},
        ],
    }
    created = api.post("/workflows", json=body).json()
    workflow_id = created["workflow_id"]
    api.get(f"/api/tasks/{created['task_ids']['load']}", params={"wait": 30})
    page = signed_in(browser)
    page.goto(f"{daemon.url}/ui")
    page.locator("#daemon-id").wait_for()
    page.get_by_role("link", name="Workflows").click()
    page.locator(f'tr[data-workflow="{workflow_id}"]').wait_for()
    page.get_by_role("link", name=workflow_id).click()
    load = page.locator("#step-load")
    load.wait_for()
    assert "clean, extract" in load.inner_text() and "completed" in load.inner_text()
    page.context.close()
    photograph(browser, f"{daemon.url}/ui/workflows", "workflows", f'tr[data-workflow="{workflow_id}"]')
    photograph(browser, f"{daemon.url}/ui/workflows/{workflow_id}", "workflow", "#step-load")
