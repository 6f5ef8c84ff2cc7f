"""Pipelined handlers on a shared PostgreSQL queue: the tasks written ahead to an instance are
held under this daemon's leases like the task in hand, so none is reclaimed while it waits."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import FAST_BACKOFF, handler_table, serving, wait
from tests.test_prefetch import recorded, submit_all, wait_written_ahead


def test_leases_cover_the_tasks_written_ahead(tmp_path: Path, postgres_url: str) -> None:
    record = tmp_path / "runs.txt"
    handlers = {"t": handler_table("behave", instances=1, prefetch=4, backoff=FAST_BACKOFF)}
    # A lease of 3 s (renewed every 0.75 s, so a loaded machine may be late by 2.25 s): the first
    # task runs 8 s, so the three behind it wait through more than two leases; were theirs not
    # renewed, the reaper would put them back and they would run twice.
    settings = {"queue": "postgres", "database_url": postgres_url, "lease_seconds": 3}
    with serving(tmp_path, handlers, settings) as daemon, daemon.client() as client:
        ids = submit_all(client, [{"sleep": 8, "record": str(record)}] + [{"record": str(record)}] * 3)
        wait_written_ahead(client, 3)
        tasks = [wait(client, task_id, 30) for task_id in ids]
    assert [(t["status"], t["attempts"], t["errors"]) for t in tasks] == [("completed", 1, [])] * 4
    assert recorded(record) == [(task_id, 0) for task_id in ids]
    assert "lease expired" not in daemon.log()
