"""A workflow of 1,000 steps (random but seeded, in layers so that steps run in parallel) runs
in dependency order with the daemon SIGKILLed once in the middle and started again on the same
queue: no step is lost, each completes, and none starts before all its dependencies finished,
by the records' times and by the handler's own log of starts.

Execution is at least once: a step that started before the kill and whose outcome was not yet
committed (running, written ahead to a handler, or answered while its group commit was under
way) runs again after the restart; the test allows that only for steps started before the kill,
at most twice each, with a second attempt in the record."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.helpers import Daemon, handler_table, wait_until
from tests.pghelpers import postgres_env

INSTANCES = 4


def layered_graph(steps: int, seed: int) -> list[dict[str, Any]]:
    """``steps`` steps in layers of 5-40; each step after the first layer depends on 1-3 steps
    of earlier layers (mostly the one before), named s<index>."""
    rng = random.Random(seed)
    layers: list[list[str]] = []
    body: list[dict[str, Any]] = []
    made = 0
    while made < steps:
        width = min(rng.randint(5, 40), steps - made)
        layer = [f"s{made + i}" for i in range(width)]
        for name in layer:
            needs: set[str] = set()
            if layers:
                needs.add(rng.choice(layers[-1]))
                for _ in range(rng.randint(0, 2)):
                    needs.add(rng.choice(rng.choice(layers)))
            body.append({"name": name, "type": "echo", "data": {"brief": True}, "depends_on": sorted(needs)})
        layers.append(layer)
        made += width
    rng.shuffle(body)  # the submit order says nothing about the run order
    return body


def seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def children_of(pid: int) -> list[int]:
    """The child processes of ``pid``, from every one of its threads."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie does not: nothing may reap it here)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def run_killed_once(
    tmp_path: Path, start: Callable[[dict[str, Any]], Daemon], steps: int, kill_after: int
) -> None:
    starts_log = tmp_path / "starts.log"
    handlers = {"echo": handler_table("task_line", instances=INSTANCES, env={"START_LOG": str(starts_log)})}
    graph = layered_graph(steps, seed=18)
    first = start(handlers)
    with first.client() as client:
        answer = client.post("/workflows", json={"name": "dag", "steps": graph}, timeout=60)
        assert answer.status_code == 200, answer.text
        workflow_id = answer.json()["workflow_id"]
        task_ids: dict[str, str] = answer.json()["task_ids"]
        wait_until(
            lambda: starts_log.exists() and len(starts_log.read_text().splitlines()) >= kill_after,
            timeout=120,
            what=f"{kill_after} steps started",
        )
    handler_pids = children_of(first.process.pid) if first.process else []
    assert handler_pids, "the daemon runs its handlers as child processes"
    first.kill()  # SIGKILL by pid: no shutdown sequence runs
    # A handler may still read a line already in its pipe and log its start: the starts before
    # the kill are those logged once every handler of the killed daemon has exited.
    wait_until(lambda: not any(alive(pid) for pid in handler_pids), timeout=60, what="the handlers to exit")
    started_before_kill = {line.split()[0] for line in starts_log.read_text().splitlines()}
    assert len(started_before_kill) < steps, "the kill came after the end: nothing was tested"

    second = start(handlers)
    with second.client() as client:
        record = wait_until(
            lambda: (
                (r := client.get(f"/api/workflows/{workflow_id}", timeout=30).json())["status"]
                in {"completed", "failed", "cancelled"}
                and r
            ),
            timeout=300,
            interval=0.5,
            what="the workflow to finish",
        )
        results = {
            name: client.get(f"/api/tasks/{task_id}").json()["result"] for name, task_id in task_ids.items()
        }
    assert record["status"] == "completed", record["step_counts"]
    by_step = {s["step"]: s for s in record["steps"]}
    assert set(by_step) == {s["name"] for s in graph}  # nothing lost
    assert all(s["status"] == "completed" for s in by_step.values())

    # Each step was given its dependencies (by step name) in its task message.
    for step in graph:
        assert results[step["name"]] == {
            "dependencies": {need: task_ids[need] for need in step["depends_on"]}
        }

    # No step started before every one of its dependencies finished: the records' times...
    finished = {name: seconds(s["finished_at"]) for name, s in by_step.items()}
    for step in graph:
        began = seconds(by_step[step["name"]]["started_at"])
        for need in step["depends_on"]:
            assert began >= finished[need], (step["name"], need)
    # ...and the handler's own log of every start (the killed daemon's runs included).
    name_of = {task_id: name for name, task_id in task_ids.items()}
    needs_of = {s["name"]: s["depends_on"] for s in graph}
    starts: dict[str, list[float]] = {}
    for line in starts_log.read_text().splitlines():
        task_id, at = line.split()
        starts.setdefault(name_of[task_id], []).append(float(at))
    assert set(starts) == set(by_step)
    for name, times in starts.items():
        for need in needs_of[name]:
            assert min(times) >= finished[need], (name, need)

    # Each step completed once. At least once: a step that started before the kill and whose
    # outcome was not yet committed (in hand, or in the group commit under way) ran again.
    reruns = {name for name, times in starts.items() if len(times) > 1}
    assert all(task_ids[name] in started_before_kill for name in reruns)
    assert all(by_step[name]["attempts"] >= 2 for name in reruns)
    assert max(len(times) for times in starts.values()) <= 2


def test_a_dag_of_1000_steps_survives_a_sigkill_on_sqlite(daemon_factory: Any, tmp_path: Path) -> None:
    run_killed_once(tmp_path, daemon_factory, steps=1000, kill_after=400)


def test_a_dag_of_1000_steps_survives_a_sigkill_on_postgres(
    daemon_factory: Any, tmp_path: Path, postgres_url: str
) -> None:
    env = postgres_env(postgres_url, lease_seconds=2)
    run_killed_once(tmp_path, lambda handlers: daemon_factory(handlers, env=env), steps=1000, kill_after=400)
