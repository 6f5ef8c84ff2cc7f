"""Three daemons as separate processes, one PostgreSQL queue, one of them SIGKILLed mid-run:
every task completes, none is lost, and the tasks that run twice are exactly those that were
in flight on the dead daemon, as many as the leases the others found expired."""

from __future__ import annotations

import json
import os
import signal
from collections import Counter
from pathlib import Path

import httpx

from tests.helpers import handler_table, wait_until
from tests.pghelpers import fleet, health, query

TASKS = 5_000
BATCH = 250
#: Tight leases keep the test short: renewed every 0.75 s, reclaimed 3 s after the last renewal.
LEASE_SECONDS = 3.0


def test_sigkilled_daemon_loses_nothing_and_only_its_tasks_in_flight_run_twice(
    tmp_path: Path, postgres_url: str
) -> None:
    run_log = tmp_path / "runs.log"
    with fleet(tmp_path, postgres_url) as daemons:
        # Handlers see only their table's env (and a short pass-through list): not the daemon's.
        started = [
            daemons.start(
                {
                    "quick": handler_table(
                        "runlog", instances=2, env={"RUN_LOG": str(run_log), "RUN_LOG_TAG": f"d{n}"}
                    )
                },
                lease_seconds=LEASE_SECONDS,
            )
            for n in range(3)
        ]
        ids = {health(d).json()["daemon_id"]: n for n, d in enumerate(started)}
        assert len(ids) == 3, "each daemon has an id of its own"
        victim = started[2]
        victim_id = health(victim).json()["daemon_id"]

        # 5,000 tasks, in batches submitted round-robin to the three daemons; a little work
        # each, so that the victim has tasks in flight when it dies.
        submitted: list[str] = []
        for start in range(0, TASKS, BATCH):
            target = started[(start // BATCH) % 3]
            body = {
                "tasks": [
                    {"type": "quick", "data": {"sleep": 0.01, "n": n}} for n in range(start, start + BATCH)
                ]
            }
            answer = httpx.post(f"{target.url}/queue/batch", json=body, timeout=30)
            assert answer.status_code == 200, answer.text
            submitted += answer.json()["task_ids"]
        assert len(set(submitted)) == TASKS

        def victim_busy() -> bool:
            lines = run_log.read_text().splitlines() if run_log.exists() else []
            return sum(1 for line in lines if line.endswith(" d2")) >= 50

        # Early, with most of the 5,000 tasks still to run: the victim is claiming all along.
        wait_until(victim_busy, timeout=60, what="the victim to have run 50 tasks")
        assert victim.process is not None
        victim_pid, victim_handlers = victim.process.pid, victim.handler_pids()
        held_at_kill = wait_until(
            lambda: frozen_holding_leases(postgres_url, victim_id, victim_pid),
            timeout=60,
            interval=0.01,
            what="the victim to hold leases",
        )
        daemons.kill_host(victim, victim_handlers)

        survivors = started[:2]

        def all_completed() -> bool:
            return bool(health(survivors[0]).json()["tasks"]["completed"] == TASKS)

        wait_until(all_completed, timeout=90, interval=0.2, what=f"all {TASKS} tasks completed")
        leases_expired = sum(health(d).json()["leases_expired"] for d in survivors)
        counts = health(survivors[1]).json()["tasks"]
        assert counts == {**dict.fromkeys(counts, 0), "completed": TASKS}

    # What the handlers ran: "<task id> <attempt> <daemon>" per run.
    runs = [line.split() for line in run_log.read_text().splitlines()]
    per_task = Counter(task_id for task_id, _, _ in runs)
    assert set(per_task) == set(submitted), "every task ran"
    twice = {task_id for task_id, n in per_task.items() if n > 1}
    assert max(per_task.values()) <= 2
    ran_on_victim = {task_id for task_id, _, tag in runs if tag == "d2"}

    # What the queue says: tasks put back after their lease expired, each with the error naming
    # the daemon that stopped renewing.
    rows = query(postgres_url, "SELECT id, attempts, errors::text FROM tasks WHERE errors <> '[]'")
    reclaimed: set[str] = set()
    for task_id, attempts, errors_text in rows:
        errors = json.loads(errors_text)
        assert [e["error_type"] for e in errors] == ["LeaseExpired"]
        assert victim_id in errors[0]["error"]
        assert attempts == 2
        reclaimed.add(task_id)
    assert len(reclaimed) == leases_expired, "the daemons' count of expired leases matches the queue"
    assert leases_expired == held_at_kill, "every lease the victim held was reclaimed, nothing else"

    # Run twice: exactly the reclaimed tasks the victim had started (its others had not reached
    # a handler yet), the second time with the next attempt number, on a survivor.
    assert twice == reclaimed & ran_on_victim
    assert twice, "the victim had tasks in flight"
    for task_id, attempt, tag in runs:
        if task_id in twice:
            assert (attempt, tag == "d2") in {("0", True), ("1", False)}
    # Nothing else ran twice, and every other task ran once, on one daemon.
    assert sum(per_task.values()) == TASKS + len(twice)


def held_leases(postgres_url: str, daemon_id: str) -> int:
    held = query(
        postgres_url,
        "SELECT count(*) FROM tasks WHERE status = 'processing' AND claimed_by = %s",
        (daemon_id,),
    )
    return int(held[0][0])


def frozen_holding_leases(postgres_url: str, daemon_id: str, pid: int) -> int:
    """Stop the daemon (SIGSTOP) at a moment the database shows it holding leases, and how many:
    while it is stopped its rows cannot change (no other daemon takes them before they lapse, 3 s
    on), where between a count and a kill a running daemon could finish them all. 0, and the
    daemon running, when it holds none."""
    if not held_leases(postgres_url, daemon_id):  # checked running first: stopped only briefly
        return 0
    os.kill(pid, signal.SIGSTOP)
    held = held_leases(postgres_url, daemon_id)
    if not held:
        os.kill(pid, signal.SIGCONT)
    return held
