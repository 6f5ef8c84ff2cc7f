"""``taskdaemond workflows``, ``submit-workflow`` and ``submit --depends-on``, run as users run
them (a subprocess), against a real daemon."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import Daemon, handler_table, serving
from tests.test_cli import taskdaemond


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    with serving(tmp_path_factory.mktemp("cli-workflows"), {"echo": handler_table("task_line")}) as instance:
        yield instance


TOML_WORKFLOW = """
name = "etl"
on_failure = "cancel"

[steps.extract]
type = "echo"
data = { source = "a.csv" }

[steps.load]
type = "echo"
depends_on = ["extract"]
"""


def test_submit_workflow_from_toml_waits_and_shows_its_steps(daemon: Daemon, tmp_path: Path) -> None:
    path = tmp_path / "etl.toml"
    path.write_text(TOML_WORKFLOW)
    shown = taskdaemond("submit-workflow", str(path), "--wait", "60", url=daemon.url)
    assert shown.returncode == 0, shown.stderr
    assert "etl" in shown.stdout and "completed" in shown.stdout
    assert "extract" in shown.stdout and "load" in shown.stdout
    listed = taskdaemond("workflows", "--json", url=daemon.url)
    [workflow] = [w for w in json.loads(listed.stdout)["workflows"] if w["name"] == "etl"]
    one = json.loads(taskdaemond("workflows", workflow["id"], "--json", url=daemon.url).stdout)
    assert [s["step"] for s in one["steps"]] == ["extract", "load"]
    assert one["status"] == "completed"


def test_submit_workflow_from_json_prints_its_id(daemon: Daemon, tmp_path: Path) -> None:
    path = tmp_path / "w.json"
    path.write_text(json.dumps({"steps": [{"name": "only", "type": "echo"}]}))
    result = taskdaemond("submit-workflow", str(path), url=daemon.url)
    assert result.returncode == 0, result.stderr
    assert taskdaemond("workflows", result.stdout.strip(), "--wait", "60", url=daemon.url).returncode == 0


def test_a_cycle_in_a_file_exits_5_naming_it(daemon: Daemon, tmp_path: Path) -> None:
    path = tmp_path / "cycle.toml"
    path.write_text(
        '[steps.a]\ntype = "echo"\ndepends_on = ["b"]\n[steps.b]\ntype = "echo"\ndepends_on = ["a"]\n'
    )
    result = taskdaemond("submit-workflow", str(path), url=daemon.url)
    assert result.returncode == 5
    assert "a cycle" in result.stderr


def test_submit_depends_on_runs_after_its_dependency(daemon: Daemon) -> None:
    first = taskdaemond("submit", "echo", "{}", url=daemon.url).stdout.strip()
    shown = taskdaemond(
        "submit", "echo", "{}", "--depends-on", first, "--wait", "60", "--json", url=daemon.url
    )
    assert shown.returncode == 0, shown.stderr
    task = json.loads(shown.stdout)
    assert task["depends_on"] == [first]
    assert set(task["result"]["line"]["dependencies"]) == {first}
    unknown = taskdaemond("submit", "echo", "{}", "--depends-on", "nope", url=daemon.url)
    assert unknown.returncode == 5 and "nope" in unknown.stderr


def test_a_missing_workflow_exits_4(daemon: Daemon) -> None:
    assert taskdaemond("workflows", "nope", url=daemon.url).returncode == 4
