"""A network cut between the daemons and PostgreSQL (the cluster stopped for a few seconds, then
started again): the daemons report unhealthy while it is down, refuse what they cannot store,
keep every task they accepted, and recover without a restart."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import handler_table, pid_alive, wait_until
from tests.pgcluster import Cluster, ClusterError, start_cluster
from tests.pghelpers import fleet, health

#: Seconds the database stays down.
CUT_SECONDS = 3.0
TASKS = 40


@pytest.fixture
def own_cluster() -> Iterator[Cluster]:
    """A cluster of this test's own: it is stopped and started again, which the session's
    cluster, shared by the other tests, must not be."""
    try:
        cluster = start_cluster()
    except ClusterError as exc:
        pytest.fail(f"PostgreSQL is required by this test and could not start: {exc}", pytrace=False)
    yield cluster
    cluster.destroy()


def test_daemons_survive_a_database_outage_without_losing_or_restarting(
    tmp_path: Path, own_cluster: Cluster
) -> None:
    url = own_cluster.create_database("cut")
    handlers = {"echo": handler_table("behave", instances=2)}
    with fleet(tmp_path, url) as daemons:
        started = [daemons.start(handlers, lease_seconds=3.0) for _ in range(2)]
        pids = [d.process.pid for d in started if d.process is not None]
        accepted: list[str] = []
        for n in range(TASKS):
            answer = httpx.post(
                f"{started[n % 2].url}/queue", json={"type": "echo", "data": {"sleep": 0.1, "echo": n}}
            )
            assert answer.status_code == 200
            accepted.append(answer.json()["task_id"])

        own_cluster.stop()  # mid-run: tasks are running, others wait
        cut_at = time.monotonic()
        for daemon in started:
            down = health(daemon)
            assert down.status_code == 503
            assert down.json()["status"] == "unhealthy"
            assert "PostgreSQL at postgresql://postgres@127.0.0.1" in down.json()["error"]
        # What cannot be stored is refused, not accepted and lost.
        refused = httpx.post(f"{started[0].url}/queue", json={"type": "echo", "data": {}}, timeout=30)
        assert refused.status_code == 503
        assert "unavailable" in refused.json()["error"]
        time.sleep(max(0.0, CUT_SECONDS - (time.monotonic() - cut_at)))
        own_cluster.start()

        for daemon in started:
            wait_until(lambda d=daemon: health(d).status_code == 200, timeout=30, what="healthy again")
        later = httpx.post(
            f"{started[1].url}/queue", json={"type": "echo", "data": {"echo": "after"}}
        ).json()["task_id"]

        def finished() -> bool:
            counts = health(started[0]).json()["tasks"]
            return bool(counts["completed"] == TASKS + 1)

        wait_until(finished, timeout=60, interval=0.2, what="every accepted task completed")
        with httpx.Client(base_url=started[0].url) as client:
            for n, task_id in enumerate(accepted):
                task = client.get(f"/api/tasks/{task_id}").json()
                assert (task["status"], task["result"]["echo"]) == ("completed", n)
            assert client.get(f"/api/tasks/{later}").json()["status"] == "completed"
        # The same processes throughout: recovered without a restart.
        assert all(pid_alive(pid) for pid in pids)
        assert [d.process.poll() for d in started if d.process is not None] == [None, None]
