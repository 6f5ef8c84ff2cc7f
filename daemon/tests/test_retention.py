"""Retention in a running daemon and from the command line: the pruner deletes finished tasks
once their status's time to live has passed, counts them in /metrics, and never touches
pending or processing tasks; `taskdaemond prune` does the same on the configured database;
the retention keys parse from handlers.toml and the environment."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path

import pytest

from taskdaemond import defaults
from taskdaemond.cli import main
from taskdaemond.config import parse_config, parse_duration
from taskdaemond.errors import ConfigError
from taskdaemond.queue import NewTask, Transition
from taskdaemond.queue.sqlite import SqliteQueue
from taskdaemond.retention import RetentionPolicy
from taskdaemond.statuses import TaskStatus
from tests.helpers import handler_table, wait_until, write_config


def metric(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} ([0-9.e+]+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_a_running_daemon_prunes_completed_tasks_and_keeps_the_rest(daemon_factory: object) -> None:
    daemon = daemon_factory(  # type: ignore[operator]
        {"echo": handler_table("behave")},
        {"completed_ttl": "1s", "failed_ttl": 0, "prune_interval": 0.2},
    )
    with daemon.client() as client:
        done = [
            client.post("/queue", json={"type": "echo", "data": {"echo": n}}).json()["task_id"]
            for n in range(20)
        ]
        failed = client.post("/queue", json={"type": "echo", "data": {"fail": "no"}}).json()["task_id"]
        waiting = client.post("/queue", json={"type": "echo", "data": {}, "delay": 3600}).json()["task_id"]
        for task_id in [*done, failed]:
            assert client.get(f"/api/tasks/{task_id}", params={"wait": 30}).json()["status"] != "pending"
        wait_until(
            lambda: all(client.get(f"/api/tasks/{i}").status_code == 404 for i in done),
            timeout=30,
            what="completed tasks pruned",
        )
        assert client.get(f"/api/tasks/{failed}").json()["status"] == "failed"  # failed_ttl 0: for ever
        assert client.get(f"/api/tasks/{waiting}").json()["status"] == "pending"
        text = client.get("/metrics").text
    assert metric(text, 'tasks_pruned_total{status="completed"}') == 20
    assert metric(text, 'tasks_pruned_total{status="failed"}') == 0
    assert metric(text, "database_size_bytes") > 0


def make_file(tmp_path: Path, *, finished_ago: float) -> Path:
    """A queue file with 3 completed, 2 failed (finished ``finished_ago`` seconds ago), 1
    pending and 1 processing task, and the handlers.toml naming it."""

    async def build() -> None:
        queue = SqliteQueue(tmp_path / "queue.db")
        await queue.open()
        at = time.time() - finished_ago
        await queue.submit([NewTask("echo", "{}", 50, 3) for _ in range(6)], at)
        claimed = await queue.claim("echo", 6, at)
        outcome = [TaskStatus.COMPLETED] * 3 + [TaskStatus.FAILED] * 2
        await queue.record(
            [Transition(t.id, s, result_json="1", seq=t.seq) for t, s in zip(claimed, outcome, strict=False)],
            [],
            at,
        )
        await queue.submit([NewTask("echo", "{}", 50, 3)], at)
        await queue.close()

    asyncio.run(build())
    return write_config(
        tmp_path / "handlers.toml", {"echo": handler_table("behave")}, {"db_path": "queue.db"}
    )


def prune(config: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    with pytest.raises(SystemExit) as exit_:
        main(["prune", "--config", str(config), "--json", *args])
    assert exit_.value.code == 0
    answer: dict[str, object] = json.loads(capsys.readouterr().out)
    return answer


def test_prune_dry_run_counts_and_prune_deletes_only_finished_tasks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = make_file(tmp_path, finished_ago=2 * 86400)  # past completed_ttl, within failed_ttl
    assert prune(config, "--dry-run", capsys=capsys)["pruned"] == {
        "cancelled": 0,
        "completed": 3,
        "failed": 0,
        "interrupted": 0,
    }
    assert prune(config, capsys=capsys)["pruned"] == {"completed": 3}
    assert prune(config, "--older-than", "1d", "--status", "failed", capsys=capsys)["pruned"] == {"failed": 2}
    assert prune(config, "--older-than", "0", capsys=capsys)["pruned"] == {}

    async def counts() -> dict[str, int]:
        queue = SqliteQueue(tmp_path / "queue.db")
        await queue.open(recover=False)
        try:
            return await queue.counts()
        finally:
            await queue.close()

    left = asyncio.run(counts())
    assert (left["pending"], left["processing"], left["completed"], left["failed"]) == (1, 1, 0, 0)


def test_prune_vacuum_rewrites_the_file_and_the_memory_queue_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = make_file(tmp_path, finished_ago=10)
    answer = prune(config, "--older-than", "1s", "--vacuum", capsys=capsys)
    assert answer["pruned"] == {"completed": 3, "failed": 2}
    assert answer["free_bytes"] == 0  # a full VACUUM leaves no free page
    memory = write_config(tmp_path / "memory.toml", {"echo": handler_table("behave")}, {"queue": "memory"})
    with pytest.raises(SystemExit) as exit_:
        main(["prune", "--config", str(memory)])
    assert exit_.value.code == 2
    assert "memory queue" in capsys.readouterr().err


def test_prune_refuses_an_older_than_that_is_not_a_duration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = make_file(tmp_path, finished_ago=10)
    with pytest.raises(SystemExit) as exit_:
        main(["prune", "--config", str(config), "--older-than", "soon"])
    assert exit_.value.code == 2
    assert "--older-than" in capsys.readouterr().err


# -- configuration ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [(90, 90.0), (1.5, 1.5), ("90", 90.0), ("90s", 90.0), ("15m", 900.0), ("36h", 129600.0), ("7d", 604800.0),
     ("2w", 1209600.0), ("0", 0.0), ("1.5 h", 5400.0)],
)  # fmt: skip
def test_a_duration_is_seconds_or_a_number_and_a_unit(text: float | str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["soon", "-1", "1y", "", "nan"])
def test_a_duration_that_is_not_one_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def raw_config(daemon: dict[str, object]) -> dict[str, object]:
    return {"daemon": daemon, "handlers": {"echo": {"command": ["x"]}}}


def test_retention_keys_come_from_the_file_and_the_environment(tmp_path: Path) -> None:
    default = parse_config(raw_config({}), source="t.toml", base_dir=tmp_path, env={}).daemon
    assert RetentionPolicy.from_settings(default) == RetentionPolicy(
        defaults.DEFAULT_COMPLETED_TTL, defaults.DEFAULT_FAILED_TTL, None
    )
    assert default.prune_interval == defaults.DEFAULT_PRUNE_INTERVAL
    settings = parse_config(
        raw_config({"completed_ttl": "36h", "failed_ttl": 0, "max_finished_tasks": 1000}),
        source="t.toml",
        base_dir=tmp_path,
        env={"DAEMON_FAILED_TTL": "30d", "DAEMON_PRUNE_INTERVAL": "2.5"},
    ).daemon
    assert (
        settings.completed_ttl,
        settings.failed_ttl,
        settings.max_finished_tasks,
        settings.prune_interval,
    ) == (
        129600.0,
        30 * 86400.0,
        1000,
        2.5,
    )
    policy = RetentionPolicy.from_settings(settings)
    assert policy.cutoffs(1e6) == {
        TaskStatus.CANCELLED: 1e6 - 30 * 86400,
        TaskStatus.COMPLETED: 1e6 - 129600,
        TaskStatus.FAILED: 1e6 - 30 * 86400,
        TaskStatus.INTERRUPTED: 1e6 - 30 * 86400,
    }
    assert RetentionPolicy(0, 0, None).cutoffs(1e6) == {}
    assert not RetentionPolicy(0, 0, None).enabled


def test_a_bad_retention_variable_is_reported_by_its_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config(
            raw_config({}), source="t.toml", base_dir=tmp_path, env={"DAEMON_COMPLETED_TTL": "a week"}
        )
    assert "DAEMON_COMPLETED_TTL" in str(error.value)
