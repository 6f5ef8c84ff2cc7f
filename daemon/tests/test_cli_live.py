"""``taskdaemond submit --wait`` and ``status --wait`` show the handler's progress and logs as
they come (a rich progress bar on a terminal, plain lines in a pipe), tags at submit and in the
listing, and ``tasks`` as a table: run as users run them, against a real daemon."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import PYTHON, Daemon, handler_table, serving
from tests.test_cli import taskdaemond


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    with serving(
        tmp_path_factory.mktemp("cli-live"), {"steps": handler_table("steps", instances=2)}
    ) as instance:
        yield instance


def on_a_terminal(*args: str, url: str, timeout: float = 60) -> tuple[int, str]:
    """Run taskdaemond with a pseudo-terminal as stdout and stderr; (exit code, what it drew)."""
    leader, follower = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAEMON_") and k != "NO_COLOR"}
    env |= {"TASKDAEMON_URL": url, "COLUMNS": "160", "TERM": "xterm-256color"}
    process = subprocess.Popen(
        [PYTHON, "-m", "taskdaemond", *args],
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
        env=env,
    )
    os.close(follower)
    drawn = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                drawn += chunk
            elif process.poll() is not None:
                break
        code = process.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        os.close(leader)
    return code, drawn.decode(errors="replace")


def test_submit_wait_in_a_pipe_prints_progress_and_logs_as_plain_lines(daemon: Daemon) -> None:
    result = taskdaemond("submit", "steps", '{"steps": 3, "pause": 0.1}', "--wait", "30", url=daemon.url)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    live = lines[: next(n for n, line in enumerate(lines) if line.startswith("task      "))]
    events = [line for line in live if line.startswith(("log ", "progress "))]
    assert events == [
        "log [info] step 1 of 3",
        "progress 33% step 1",
        "log [info] step 2 of 3",
        "progress 67% step 2",
        "log [info] step 3 of 3",
        "progress 100% step 3",
    ]
    assert "status completed" in live and any(line.startswith("status    completed") for line in lines)
    assert "\x1b[" not in result.stdout, "no terminal codes in a pipe"


def test_submit_wait_on_a_terminal_draws_a_progress_bar_and_the_logs(daemon: Daemon) -> None:
    code, drawn = on_a_terminal(
        "submit", "steps", '{"steps": 4, "pause": 0.1}', "--wait", "30", url=daemon.url
    )
    assert code == 0, drawn
    assert "━" in drawn and "100%" in drawn and "step 4" in drawn, drawn
    assert "[info] step 1 of 4" in drawn and "[info] step 4 of 4" in drawn
    assert "completed" in drawn


def test_json_prints_only_the_final_task(daemon: Daemon) -> None:
    result = taskdaemond("submit", "steps", '{"steps": 2}', "--wait", "30", "--json", url=daemon.url)
    assert result.returncode == 0
    task = json.loads(result.stdout)
    assert task["status"] == "completed" and len(task["logs"]) == 4


def test_status_wait_follows_a_running_task_until_it_is_final(daemon: Daemon, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    task_id = taskdaemond(
        "submit", "steps", json.dumps({"steps": 2, "gate": str(gate)}), url=daemon.url
    ).stdout.strip()
    follower = subprocess.Popen(
        [PYTHON, "-m", "taskdaemond", "status", task_id, "--wait", "30"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "TASKDAEMON_URL": daemon.url},
    )
    assert follower.stdout is not None
    first = follower.stdout.readline()  # the stream is open and reports the task
    gate.touch()
    rest, _ = follower.communicate(timeout=60)
    assert follower.returncode == 0
    assert first.startswith(("status ", "log ", "progress "))
    assert "progress 100% step 2" in first + rest


def test_wait_that_runs_out_exits_6(daemon: Daemon, tmp_path: Path) -> None:
    never = tmp_path / "never"
    started = time.monotonic()
    result = taskdaemond(
        "submit", "steps", json.dumps({"steps": 2, "gate": str(never)}), "--wait", "1", url=daemon.url
    )
    assert result.returncode == 6 and "progress 50% step 1" in result.stdout
    assert time.monotonic() - started < 30
    task_id = result.stdout.split("task      ")[1].split()[0]
    never.touch()  # let the handler finish the task
    assert taskdaemond("status", task_id, "--wait", "30", url=daemon.url).returncode == 0


def test_tags_at_submit_and_in_the_listing(daemon: Daemon) -> None:
    shown = taskdaemond(
        "submit",
        "steps",
        '{"steps": 0}',
        "--tag",
        "tenant=acme",
        "--tag",
        "env=dev",
        "--wait",
        "30",
        url=daemon.url,
    )
    assert shown.returncode == 0 and "tags      env=dev tenant=acme" in shown.stdout
    plain = taskdaemond("tasks", "--tag", "tenant:acme", url=daemon.url)
    assert plain.returncode == 0 and plain.stdout.startswith("ID") and plain.stdout.count("completed") == 1
    code, drawn = on_a_terminal("tasks", "--tag", "tenant:acme", url=daemon.url)
    assert code == 0 and "┃" in drawn and "tenant:acme" in drawn and "env:dev" in drawn, drawn
    listing = json.loads(taskdaemond("tasks", "--tag", "env:dev", "--json", url=daemon.url).stdout)
    assert [t["tags"] for t in listing["tasks"]] == [{"tenant": "acme", "env": "dev"}]
    bad = taskdaemond("submit", "steps", "{}", "--tag", "novalue", url=daemon.url)
    assert bad.returncode == 2 and "is not key=value" in bad.stderr
