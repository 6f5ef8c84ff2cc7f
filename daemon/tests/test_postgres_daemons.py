"""Several daemons on one PostgreSQL queue: one HTTP API over the shared queue, whichever
daemon is asked; start-up errors; /health and /metrics of each daemon."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import httpx

from tests.helpers import free_port, handler_table, wait_until, write_config
from tests.pghelpers import fleet, health, query, wait_for_status


def test_a_task_submitted_to_one_daemon_is_read_cancelled_and_redriven_through_another(
    tmp_path: Path, postgres_url: str
) -> None:
    with fleet(tmp_path, postgres_url) as daemons:
        a = daemons.start()
        b = daemons.start()
        # Read through the other daemon, whichever ran it.
        task_id = httpx.post(f"{a.url}/queue", json={"type": "echo", "data": {"echo": 1}}).json()["task_id"]
        done = httpx.get(f"{b.url}/api/tasks/{task_id}", params={"wait": 30}, timeout=40).json()
        assert (done["status"], done["result"]) == ("completed", {"echo": 1, "attempt": 0})

        # Cancel a running task through the daemon that is not running it.
        slow = httpx.post(f"{a.url}/queue", json={"type": "echo", "data": {"sleep": 60}}).json()["task_id"]
        wait_for_status(a, slow, {"processing"})

        def runner() -> tuple[object, object] | None:
            for runs, other in ((a, b), (b, a)):
                slots = [s for p in health(runs).json()["pools"].values() for s in p["slots"]]
                if any(s["task_id"] == slow for s in slots):
                    return runs, other
            return None

        runs, other = wait_until(runner, timeout=20, what="the daemon running the slow task")
        cancelled = httpx.post(f"{other.url}/api/tasks/{slow}/cancel", timeout=30)
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "cancelled"

        def handler_stopped() -> bool:
            slots = [s for p in health(runs).json()["pools"].values() for s in p["slots"]]
            return all(s["task_id"] != slow for s in slots)

        wait_until(
            handler_stopped, timeout=20, what="the running daemon to stop the cancelled task's handler"
        )
        assert wait_for_status(a, slow, {"cancelled"})["status"] == "cancelled"

        # Redrive through the other daemon: the task runs again, with a fresh budget.
        failing = httpx.post(
            f"{a.url}/queue", json={"type": "echo", "data": {"fail": "no", "retryable": False}}
        ).json()["task_id"]
        assert wait_for_status(b, failing, {"failed"})["attempts"] == 1
        redriven = httpx.post(f"{b.url}/api/tasks/{failing}/redrive", timeout=30)
        assert redriven.status_code == 200, redriven.text
        again = wait_for_status(a, failing, {"failed"})
        assert again["attempts"] == 1
        assert len(again["errors"]) == 2

        # Delete through the other daemon.
        assert httpx.delete(f"{b.url}/api/tasks/{task_id}").status_code == 204
        assert httpx.get(f"{a.url}/api/tasks/{task_id}").status_code == 404


def test_an_idempotency_key_holds_across_daemons(tmp_path: Path, postgres_url: str) -> None:
    with fleet(tmp_path, postgres_url) as daemons:
        started = [daemons.start(), daemons.start()]
        answers: list[str] = []

        def submit(index: int) -> None:
            body = {"type": "echo", "data": {"echo": index}, "idempotency_key": "order-42"}
            answers.append(
                httpx.post(f"{started[index % 2].url}/queue", json=body, timeout=30).json()["task_id"]
            )

        threads = [threading.Thread(target=submit, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert len(answers) == 8
        assert len(set(answers)) == 1
        assert query(postgres_url, "SELECT count(*) FROM tasks WHERE idempotency_key = 'order-42'") == [(1,)]


def test_health_and_metrics_show_the_daemon_its_pools_and_the_shared_depth(
    tmp_path: Path, postgres_url: str
) -> None:
    with fleet(tmp_path, postgres_url) as daemons:
        # Neither daemon has an instance for "later": its tasks stay pending for both to see.
        handlers = {
            "echo": handler_table("behave", instances=1),
            "later": handler_table("behave", instances=1),
        }
        a = daemons.start(handlers)
        b = daemons.start(handlers)
        body = {"tasks": [{"type": "later", "data": {}, "delay": 3600} for _ in range(3)]}
        assert httpx.post(f"{a.url}/queue/batch", json=body).status_code == 200
        seen = [health(d).json() for d in (a, b)]
        assert {h["status"] for h in seen} == {"healthy"}
        assert seen[0]["daemon_id"] != seen[1]["daemon_id"]
        assert [h["queue_depth"] for h in seen] == [3, 3]
        assert all(h["queue"] == "postgres" and set(h["pools"]) == {"echo", "later"} for h in seen)
        metrics = httpx.get(f"{b.url}/metrics").text
        assert f'daemon_info{{daemon_id="{seen[1]["daemon_id"]}",queue="postgres"}} 1.0' in metrics
        assert "queue_size 3.0" in metrics
        assert 'container_pool_idle{handler="echo"} 1.0' in metrics
        assert "leases_expired_total 0.0" in metrics


def serve(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    config = write_config(tmp_path / "handlers.toml", {"echo": handler_table("behave", instances=1)})
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DAEMON_")}
    return subprocess.run(
        [sys.executable, "-m", "taskdaemond", "serve", "--config", str(config)],
        env={**clean, "DAEMON_PORT": str(free_port()), "DAEMON_QUEUE_TYPE": "postgres", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_an_unreachable_database_stops_the_start_with_exit_2_and_no_password(tmp_path: Path) -> None:
    url = f"postgresql://app:sekrit-pw@127.0.0.1:{free_port()}/tasks"
    done = serve(tmp_path, {"DAEMON_DATABASE_URL": url})
    assert done.returncode == 2
    assert (
        f"cannot connect to PostgreSQL at postgresql://app:***@127.0.0.1:{url.split(':')[3]}" in done.stderr
    )
    assert "sekrit-pw" not in done.stderr + done.stdout


def test_a_malformed_database_url_stops_the_start_with_exit_2_and_no_password(tmp_path: Path) -> None:
    for url in ("postgresql://app:sekrit-pw@127.0.0.1:port/tasks", "postgresql://app:sekrit-pw@[::1/tasks"):
        done = serve(tmp_path, {"DAEMON_DATABASE_URL": url})
        assert done.returncode == 2, done.stderr
        assert "invalid database_url postgresql://app:***@" in done.stderr
        assert "sekrit-pw" not in done.stderr + done.stdout


def test_a_missing_database_url_stops_the_start_with_exit_2(tmp_path: Path) -> None:
    done = serve(tmp_path, {})
    assert done.returncode == 2
    assert "needs database_url (or DAEMON_DATABASE_URL)" in done.stderr
