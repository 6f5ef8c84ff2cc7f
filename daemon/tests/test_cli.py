"""The ``taskdaemond`` command, run as users run it (a subprocess), against a real daemon."""

from __future__ import annotations

import io
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from taskdaemond import cli, cli_live
from tests.helpers import PYTHON, Daemon, handler_table, serving, wait_until, write_config


def taskdaemond(
    *args: str, url: str | None = None, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("DAEMON_")}
    full_env.update(env or {})
    if url:
        full_env["TASKDAEMON_URL"] = url
    return subprocess.run(
        [PYTHON, "-m", "taskdaemond", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=full_env,
        check=False,
    )


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    with serving(tmp_path_factory.mktemp("cli"), {"echo": handler_table("behave")}) as instance:
        yield instance


def test_help_is_there_for_every_command() -> None:
    for command in ("serve", "submit", "status", "tasks", "schedules", "cancel", "redrive", "call", "check"):
        result = taskdaemond(command, "--help")
        assert result.returncode == 0 and "usage: taskdaemond" in result.stdout, command
    top = taskdaemond("--help")
    assert "Exit codes" in top.stdout


def test_check_accepts_a_valid_file(tmp_path: Path) -> None:
    path = write_config(tmp_path / "handlers.toml", {"echo": handler_table("behave", instances=3)})
    result = taskdaemond("check", str(path))
    assert result.returncode == 0
    assert f"{path}: OK" in result.stdout and "echo" in result.stdout
    as_json = json.loads(taskdaemond("check", str(path), "--json").stdout)
    assert as_json == {"ok": True, "file": str(path), "handlers": ["echo"], "schedules": [], "warnings": []}


SHELL_LINE = "python3 -u handler.py; touch f"


def test_check_warns_that_a_command_is_never_split_nor_given_to_a_shell(tmp_path: Path) -> None:
    path = write_config(
        tmp_path / "handlers.toml", {"sh": {"command": [SHELL_LINE]}, "echo": handler_table("behave")}
    )
    result = taskdaemond("check", str(path))
    assert result.returncode == 0  # valid: only a warning
    warnings = [line for line in result.stdout.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1
    assert warnings[0].startswith(
        f"warning: handlers.sh.command: the element {SHELL_LINE!r} contains whitespace"
    )
    assert "never goes through a shell" in warnings[0]
    as_json = json.loads(taskdaemond("check", str(path), "--json").stdout)
    assert [w.split(":")[0] for w in as_json["warnings"]] == ["handlers.sh.command"]


def test_serve_logs_the_same_warning_at_start(daemon_factory: Any) -> None:
    daemon = daemon_factory({"sh": {"command": [SHELL_LINE], "instances": 1}})
    lines = [line for line in daemon.log().splitlines() if "handlers.sh.command" in line]
    assert lines and SHELL_LINE in lines[0] and "WARNING" in lines[0].upper(), daemon.log()[-2000:]


def test_check_never_prints_a_token_or_a_database_password_it_refuses(tmp_path: Path) -> None:
    path = tmp_path / "handlers.toml"
    path.write_text('[daemon]\ntoken = 12345678\n\n[handlers.echo]\ncommand = ["x"]\n')
    result = taskdaemond("check", str(path))
    assert result.returncode == 2
    assert "daemon.token: must be a string" in result.stderr
    assert "12345678" not in result.stderr + result.stdout
    url = "mysql://tasks:pw-s3cret-1@db/tasks"
    result = taskdaemond(
        "check", str(write_config(path, {"echo": {"command": ["x"]}})), env={"DAEMON_DATABASE_URL": url}
    )
    assert result.returncode == 2
    assert (
        "DAEMON_DATABASE_URL: daemon.database_url: mysql://tasks:***@db/tasks does not match" in result.stderr
    )
    assert "pw-s3cret-1" not in result.stderr + result.stdout


def test_check_reports_a_typo_with_exit_2_file_key_and_did_you_mean(tmp_path: Path) -> None:
    path = write_config(tmp_path / "handlers.toml", {"echo": handler_table("behave", timout=3)})
    result = taskdaemond("check", str(path))
    assert result.returncode == 2
    assert f"{path}: handlers.echo: unknown key 'timout' (did you mean 'timeout'?)" in result.stderr


def test_check_finds_the_file_through_handler_config(tmp_path: Path) -> None:
    path = write_config(tmp_path / "custom.toml", {"echo": handler_table("behave")})
    assert taskdaemond("check", env={"HANDLER_CONFIG": str(path)}).returncode == 0


def test_call_runs_one_task_through_a_handler_without_a_server(tmp_path: Path) -> None:
    path = write_config(tmp_path / "handlers.toml", {"echo": handler_table("behave")})
    result = taskdaemond("call", "echo", '{"echo": 42, "events": true}', "--config", str(path))
    assert result.returncode == 0, result.stderr
    assert "log [info] starting" in result.stdout and "progress 50% half way" in result.stdout
    assert 'success: {"echo": 42, "attempt": 0}' in result.stdout
    as_json = json.loads(taskdaemond("call", "echo", '{"echo": 1}', "--config", str(path), "--json").stdout)
    assert as_json["outcome"]["result"] == {"echo": 1, "attempt": 0}


def test_call_with_an_error_result_exits_1(tmp_path: Path) -> None:
    path = write_config(tmp_path / "handlers.toml", {"echo": handler_table("behave")})
    result = taskdaemond("call", "echo", '{"raise": "broken"}', "--config", str(path))
    assert result.returncode == 1
    assert "error" in result.stdout and "ValueError" in result.stdout


def test_call_refuses_data_that_is_not_an_object(tmp_path: Path) -> None:
    path = write_config(tmp_path / "handlers.toml", {"echo": handler_table("behave")})
    result = taskdaemond("call", "echo", "[1]", "--config", str(path))
    assert result.returncode == 2 and "must be a JSON object" in result.stderr


def test_submit_prints_the_task_id_and_status_shows_it(daemon: Daemon) -> None:
    submitted = taskdaemond("submit", "echo", '{"echo": "a"}', url=daemon.url)
    assert submitted.returncode == 0
    task_id = submitted.stdout.strip()
    shown = taskdaemond("status", task_id, "--wait", "30", url=daemon.url)
    assert shown.returncode == 0 and "completed" in shown.stdout and '"echo": "a"' in shown.stdout


def test_submit_wait_json_prints_the_final_task(daemon: Daemon) -> None:
    result = taskdaemond("submit", "echo", '{"echo": 7}', "--wait", "30", "--json", url=daemon.url)
    assert result.returncode == 0
    assert json.loads(result.stdout)["result"] == {"echo": 7, "attempt": 0}


def test_submit_wait_of_a_failing_task_exits_1(daemon: Daemon) -> None:
    result = taskdaemond("submit", "echo", '{"fail": "no"}', "--wait", "30", url=daemon.url)
    assert result.returncode == 1 and "failed" in result.stdout


def test_submit_wait_json_of_a_failing_task_prints_its_final_record_and_exits_1(daemon: Daemon) -> None:
    result = taskdaemond("submit", "echo", '{"fail": "no"}', "--wait", "30", "--json", url=daemon.url)
    task = json.loads(result.stdout)
    assert result.returncode == 1 and task["status"] == "failed" and task["last_error"] == "no"


def test_submit_wait_json_that_runs_out_prints_the_task_as_it_is_and_exits_6(daemon: Daemon) -> None:
    result = taskdaemond("submit", "echo", '{"sleep": 60}', "--wait", "0.3", "--json", url=daemon.url)
    task = json.loads(result.stdout)
    assert result.returncode == 6 and task["status"] in ("pending", "processing")
    cancelled = taskdaemond("cancel", task["id"], "--json", url=daemon.url)
    assert json.loads(cancelled.stdout)["status"] == "cancelled"


def test_submit_wait_with_an_idempotency_key_prints_the_first_task_again(daemon: Daemon) -> None:
    key = ("--idempotency-key", f"cli-{os.getpid()}-{id(daemon)}")
    first = json.loads(
        taskdaemond("submit", "echo", '{"echo": 1}', *key, "--wait", "30", "--json", url=daemon.url).stdout
    )
    again = json.loads(
        taskdaemond("submit", "echo", '{"echo": 2}', *key, "--wait", "30", "--json", url=daemon.url).stdout
    )
    assert again["id"] == first["id"] and again["result"] == {"echo": 1, "attempt": 0}


def test_submit_of_an_unknown_type_exits_5_with_the_daemon_message(daemon: Daemon) -> None:
    result = taskdaemond("submit", "nope", "{}", url=daemon.url)
    assert result.returncode == 5 and "unknown task type 'nope'" in result.stderr


def test_tasks_lists_a_table_and_json(daemon: Daemon) -> None:
    taskdaemond("submit", "echo", "{}", "--wait", "30", url=daemon.url)
    table = taskdaemond("tasks", "--type", "echo", url=daemon.url)
    assert table.returncode == 0 and table.stdout.startswith("ID") and "completed" in table.stdout
    listing = json.loads(taskdaemond("tasks", "--json", "--limit", "1", url=daemon.url).stdout)
    assert len(listing["tasks"]) == 1


def test_cancel_and_redrive(daemon: Daemon) -> None:
    task_id = taskdaemond("submit", "echo", "{}", "--delay", "60", url=daemon.url).stdout.strip()
    cancelled = taskdaemond("cancel", task_id, "--json", url=daemon.url)
    assert cancelled.returncode == 0 and json.loads(cancelled.stdout)["status"] == "cancelled"
    failed = json.loads(
        taskdaemond("submit", "echo", '{"fail": "x"}', "--wait", "30", "--json", url=daemon.url).stdout
    )
    redriven = taskdaemond("redrive", failed["id"], "--json", url=daemon.url)
    assert redriven.returncode == 0 and json.loads(redriven.stdout)["status"] in ("pending", "processing")


def test_status_of_a_missing_task_exits_4(daemon: Daemon) -> None:
    result = taskdaemond("status", "no-such-task", url=daemon.url)
    assert result.returncode == 4 and "not found" in result.stderr


def test_unreachable_daemon_exits_3() -> None:
    result = taskdaemond("tasks", url="http://127.0.0.1:9")
    assert result.returncode == 3 and "cannot reach the daemon" in result.stderr


def test_bad_task_data_exits_2() -> None:
    result = taskdaemond("submit", "echo", "{nope", url="http://127.0.0.1:9")
    assert result.returncode == 2 and "not valid JSON" in result.stderr


def test_schedules_lists_a_table_and_json(tmp_path: Path) -> None:
    schedules: dict[str, dict[str, Any]] = {
        "beat": {"task_type": "echo", "every": "1s", "data": {"echo": 1}},
        "nightly": {"task_type": "echo", "cron": "30 2 * * *", "timezone": "Europe/Riga", "catch_up": False},
    }
    with serving(tmp_path, {"echo": handler_table("behave")}, schedules=schedules) as daemon:
        listed = wait_until(
            lambda: (
                (found := json.loads(taskdaemond("schedules", "--json", url=daemon.url).stdout))
                and found[0]["last_task_id"]
                and found
            ),
            timeout=30,
            what="the first run of beat",
        )
        assert [s["name"] for s in listed] == ["beat", "nightly"]
        beat, nightly = listed
        assert (beat["every"], beat["cron"], beat["runs"] >= 1) == (1, None, True)
        assert (nightly["cron"], nightly["timezone"], nightly["catch_up"]) == (
            "30 2 * * *",
            "Europe/Riga",
            False,
        )
        assert nightly["last_task_id"] is None and nightly["next_due"].endswith(":30:00Z")
        result = taskdaemond("schedules", url=daemon.url)
        assert result.returncode == 0, result.stderr
        header, *rows = result.stdout.splitlines()
        assert header.split()[:3] == ["NAME", "TYPE", "WHEN"]
        assert rows[0].startswith("beat") and "every 1s" in rows[0]
        assert rows[1].startswith("nightly") and "cron 30 2 * * *" in rows[1] and "Europe/Riga" in rows[1]
    checked = taskdaemond("check", str(tmp_path / "handlers.toml"))
    assert checked.returncode == 0 and "nightly" in checked.stdout and "every 1s" in checked.stdout


def test_the_schedules_table_for_a_terminal_names_every_schedule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # a wide terminal: no cell folds
    out = io.StringIO()
    rows = cli.schedule_rows([SCHEDULE_ENTRY])
    cli_live.rows_table(cli.SCHEDULE_COLUMNS, rows, out=out)
    assert "nightly" in out.getvalue() and "cron 30 2 * * *" in out.getvalue()


SCHEDULE_ENTRY: dict[str, Any] = {
    "name": "nightly",
    "task_type": "echo",
    "cron": "30 2 * * *",
    "every": None,
    "timezone": "UTC",
    "catch_up": True,
    "enabled": True,
    "next_due": "2026-12-07T02:30:00Z",
    "last_due": "2026-12-06T02:30:00Z",
    "last_task_id": "0193",
    "last_task_status": "completed",
    "runs": 1,
}
