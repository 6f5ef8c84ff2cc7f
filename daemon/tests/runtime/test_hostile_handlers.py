"""Handlers that fight back, against a real HandlerInstance and a real daemon: children that
keep the pipes open, grandchildren in their own session, floods of stderr, a snooping handler.

Every wait is bounded: a daemon that hangs fails the test instead of hanging the suite.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from taskdaemond import defaults
from taskdaemond.config import HandlerConfig
from taskdaemond.runtime import Crashed, HandlerInstance, Outcome, TimedOut, launch_spec
from taskdaemond.runtime.container import container_argv, engine_environment
from taskdaemond.runtime.process import PASSED_THROUGH, handler_environment
from tests.helpers import PYTHON, handler_command, handler_table, pid_alive, wait_until

#: Seconds the daemon may take, beyond the handler's timeout, to stop a hostile handler and
#: close its pipes: the grace after SIGTERM, then the bounded waits for the pipes, with room
#: for a loaded 2-core machine.
STOP_BOUND = defaults.HANDLER_TERM_GRACE + 2 * defaults.PIPE_CLOSE_GRACE + 5.0


def spawn_handler(**settings: Any) -> HandlerConfig:
    return HandlerConfig(task_type="t", command=tuple(handler_command("spawn")), **settings)


def read_pid(pidfile: Path) -> int:
    return int(
        wait_until(lambda: pidfile.exists() and pidfile.read_text(), timeout=20, what="the child's pid")
    )


def kill_if_alive(pid: int) -> None:
    if pid_alive(pid):
        os.kill(pid, signal.SIGKILL)


async def run_bounded(config: HandlerConfig, data: dict[str, Any], timeout: float) -> tuple[Outcome, float]:
    """One attempt on a fresh instance, then stop(); (outcome, seconds the attempt took)."""
    instance = HandlerInstance(launch_spec(config, 0, "test"), "t")
    await instance.start()
    started = time.monotonic()
    try:
        async with asyncio.timeout(timeout + 60):  # far beyond any bound: a hang fails, not hangs
            outcome = await instance.run("task-1", json.dumps(data), 0, timeout, lambda e: None)
            elapsed = time.monotonic() - started
            await instance.stop()
    finally:
        instance.abort("test over")
    return outcome, elapsed


# -- children that keep the pipes open ---------------------------------------------------------


def test_handler_that_exits_while_its_child_holds_stdout_is_a_crash_at_once(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    try:
        outcome, elapsed = asyncio.run(
            run_bounded(spawn_handler(), {"pidfile": str(pidfile), "then": "exit"}, 60)
        )
        assert isinstance(outcome, Crashed)
        assert outcome.exit_code == 4
        assert elapsed < STOP_BOUND, f"the crash took {elapsed:.1f} s to be seen"
        child = read_pid(pidfile)
        wait_until(lambda: not pid_alive(child), timeout=10, what="the child in the handler's group to die")
    finally:
        if pidfile.exists():
            kill_if_alive(int(pidfile.read_text()))


def test_timeout_stops_the_whole_group_when_a_child_ignores_sigterm(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    try:
        outcome, elapsed = asyncio.run(
            run_bounded(spawn_handler(), {"pidfile": str(pidfile), "then": "hang"}, 1.0)
        )
        assert isinstance(outcome, TimedOut)
        assert elapsed < 1.0 + STOP_BOUND, f"the timeout took {elapsed:.1f} s to end the attempt"
        child = read_pid(pidfile)
        wait_until(lambda: not pid_alive(child), timeout=10, what="the child that ignored SIGTERM to die")
    finally:
        if pidfile.exists():
            kill_if_alive(int(pidfile.read_text()))


def test_setsid_grandchild_holding_the_pipes_cannot_block_the_instance(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pidfile = tmp_path / "child.pid"
    caplog.set_level(logging.WARNING, logger="taskdaemond.handler")
    try:
        data = {"pidfile": str(pidfile), "then": "hang", "setsid": True}
        outcome, elapsed = asyncio.run(run_bounded(spawn_handler(), data, 1.0))
        assert isinstance(outcome, TimedOut)
        assert elapsed < 1.0 + STOP_BOUND, f"the timeout took {elapsed:.1f} s to end the attempt"
        warnings = [r.getMessage() for r in caplog.records if "held open" in r.getMessage()]
        assert warnings and warnings[0].startswith("t-0:"), caplog.text
    finally:
        if pidfile.exists():
            kill_if_alive(int(pidfile.read_text()))


def test_timeout_in_a_daemon_ends_the_task_and_frees_the_instance(
    daemon_factory: Any, tmp_path: Path
) -> None:
    """The reported case: the task stayed `processing` for ever and /health saw nothing wrong."""
    pidfile = tmp_path / "child.pid"
    daemon = daemon_factory({"spawn": handler_table("spawn", instances=1, timeout=1, retries=0)})
    try:
        with daemon.client() as client:
            data = {"pidfile": str(pidfile), "then": "hang"}
            task_id = client.post("/queue", json={"type": "spawn", "data": data}).json()["task_id"]
            task = client.get(f"/api/tasks/{task_id}", params={"wait": 1.0 + STOP_BOUND}).json()
            assert task["status"] == "failed", task
            assert task["last_error"].startswith("Timeout"), task["last_error"]
            pool = wait_until(
                lambda: (p := client.get("/health").json()["pools"]["spawn"])["idle"] == 1 and p,
                timeout=20,
                what="the replaced instance to be idle",
            )
            assert pool["slots"][0]["restarts"] == 1
        child = read_pid(pidfile)
        wait_until(lambda: not pid_alive(child), timeout=10, what="the handler's child to die")
    finally:
        if pidfile.exists():
            kill_if_alive(int(pidfile.read_text()))


def test_shutdown_with_a_setsid_grandchild_holding_the_pipes_ends_and_says_so(
    daemon_factory: Any, tmp_path: Path
) -> None:
    pidfile = tmp_path / "child.pid"
    daemon = daemon_factory({"spawn": handler_table("spawn", instances=1)}, {"shutdown_grace": 0.5})
    try:
        with daemon.client() as client:
            data = {"pidfile": str(pidfile), "then": "hang", "setsid": True}
            client.post("/queue", json={"type": "spawn", "data": data})
        grandchild = read_pid(pidfile)
        started = time.monotonic()
        assert daemon.stop(signal.SIGTERM, timeout=0.5 + STOP_BOUND + 10) == 0
        assert time.monotonic() - started < 0.5 + STOP_BOUND + 5
        warnings = [line for line in daemon.log().splitlines() if "held open" in line]
        assert warnings and "spawn-0" in warnings[0], daemon.log()[-3000:]
        assert pid_alive(grandchild)  # the documented limit: outside the group, out of reach
    finally:
        if pidfile.exists():
            kill_if_alive(int(pidfile.read_text()))


# -- stderr floods --------------------------------------------------------------------------------


def flood_handler(**settings: Any) -> HandlerConfig:
    return HandlerConfig(task_type="t", command=tuple(handler_command("flood")), **settings)


def tail_size(outcome: Crashed) -> int:
    return sum(len(line.encode()) for line in outcome.stderr_tail)


def test_crash_after_a_huge_stderr_line_keeps_a_bounded_tail_with_a_marker() -> None:
    size = 20 * 1024 * 1024
    outcome, _ = asyncio.run(run_bounded(flood_handler(), {"bytes": size}, 60))
    assert isinstance(outcome, Crashed)
    assert outcome.stderr_tail[-1] == "fatal: flooded"
    cut = outcome.stderr_tail[-2]
    assert cut.startswith("y" * 100)
    assert cut.endswith(f" [... {size - defaults.STDERR_LINE_BYTES} more bytes of this line dropped]")
    assert tail_size(outcome) <= defaults.DEFAULT_STDERR_TAIL_BYTES
    assert len(outcome.error) < defaults.DEFAULT_STDERR_TAIL_BYTES + 1024
    assert outcome.traceback is not None and len(outcome.traceback) <= defaults.DEFAULT_STDERR_TAIL_BYTES


def test_stderr_tail_bytes_bounds_the_tail_of_many_lines() -> None:
    config = flood_handler(stderr_tail_bytes=1000)
    outcome, _ = asyncio.run(run_bounded(config, {"bytes": 5 * 1024 * 1024, "line": 100}, 60))
    assert isinstance(outcome, Crashed)
    assert outcome.stderr_tail[-1] == "fatal: flooded"
    assert 900 <= tail_size(outcome) <= 1000
    assert len(outcome.error) < 1000 + 1024


def test_a_200_mib_stderr_line_is_never_held_in_memory(tmp_path: Path) -> None:
    """Read whole, the line alone would take 200 MiB; the daemon's process stays far below."""
    script = tmp_path / "measure.py"
    script.write_text(
        f"""
import asyncio, json
from taskdaemond.config import HandlerConfig
from taskdaemond.runtime import HandlerInstance, launch_spec

async def main():
    config = HandlerConfig(task_type="t", command={tuple(handler_command("flood"))!r})
    instance = HandlerInstance(launch_spec(config, 0, "test"), "t")
    await instance.start()
    outcome = await instance.run("task-1", json.dumps({{"bytes": 200 << 20}}), 0, 120, lambda e: None)
    await instance.stop()
    # VmHWM, the peak of this process's own memory: ru_maxrss would count the parent's at the fork.
    with open("/proc/self/status") as status:
        peak_kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    print(type(outcome).__name__, peak_kib // 1024)

asyncio.run(main())
"""
    )
    done = subprocess.run([PYTHON, str(script)], capture_output=True, text=True, timeout=180, check=True)
    kind, peak_mib = done.stdout.split()
    assert kind == "Crashed"
    assert int(peak_mib) < 100, f"peak RSS {peak_mib} MiB"


def test_a_100_mib_stderr_crash_leaves_a_small_task_record_and_health(daemon_factory: Any) -> None:
    daemon = daemon_factory({"flood": handler_table("flood", instances=1, retries=0)})
    with daemon.client() as client:
        task_id = client.post("/queue", json={"type": "flood", "data": {"bytes": 100 << 20}}).json()[
            "task_id"
        ]
        task = client.get(f"/api/tasks/{task_id}", params={"wait": 120}).json()
        assert task["status"] == "failed" and task["last_error"].startswith("HandlerCrashed")
        assert "fatal: flooded" in task["last_error"]
        assert len(json.dumps(task)) < 4 * defaults.DEFAULT_STDERR_TAIL_BYTES
        health = client.get("/health")
        assert len(health.content) < 4 * defaults.DEFAULT_STDERR_TAIL_BYTES
        last_error = health.json()["pools"]["flood"]["slots"][0]["last_error"]
        assert "fatal: flooded" in last_error and "bytes of this line dropped]" in last_error
    assert "bytes of this line dropped]" in daemon.log()
    longest = max(len(line) for line in daemon.log().splitlines())
    assert longest < defaults.STDERR_LINE_BYTES + 1024


# -- what a handler can see ---------------------------------------------------------------------

SECRETS = {
    "DAEMON_TOKEN": "token-s3cret-4f1c",
    "DAEMON_DATABASE_URL": "postgresql://td:pw-s3cret-77@127.0.0.1:1/td",
    "SOME_API_KEY": "key-s3cret-9a",
}


def test_handlers_get_a_clean_environment_without_the_daemons_secrets(daemon_factory: Any) -> None:
    daemon = daemon_factory(
        {"env": handler_table("env", instances=1, env={"GIVEN": "by the table"})}, env=SECRETS
    )
    with daemon.client(token=SECRETS["DAEMON_TOKEN"]) as client:
        task_id = client.post("/queue", json={"type": "env", "data": {}}).json()["task_id"]
        task = client.get(f"/api/tasks/{task_id}", params={"wait": 30}).json()
    assert task["status"] == "completed", task
    seen: dict[str, str] = task["result"]
    assert not set(SECRETS) & set(seen)
    assert not any(secret in value for secret in SECRETS.values() for value in seen.values())
    assert seen["PATH"] == os.environ["PATH"]
    assert seen["GIVEN"] == "by the table"
    assert seen["TASKDAEMON_INSTANCE"] == "env-0"
    assert set(seen) <= {*PASSED_THROUGH, "GIVEN", "TASKDAEMON_INSTANCE", "LC_CTYPE"}, set(seen)


def test_the_table_env_wins_over_a_passed_through_variable() -> None:
    config = HandlerConfig(task_type="t", command=("x",), env={"TZ": "UTC", "LANG": "C.UTF-8"})
    env = handler_environment(config, "t-0", {"TZ": "Europe/Paris", "PATH": "/bin", "DAEMON_TOKEN": "s"})
    assert env == {"PATH": "/bin", "TZ": "UTC", "LANG": "C.UTF-8", "TASKDAEMON_INSTANCE": "t-0"}


def test_container_engine_and_container_get_none_of_the_daemons_settings() -> None:
    config = HandlerConfig(task_type="t", image="x:1", engine="podman", env={"MODE": "fast"})
    daemon_env = {**SECRETS, "PATH": "/usr/bin", "XDG_RUNTIME_DIR": "/run/user/0"}
    engine_env = engine_environment(daemon_env)
    assert engine_env == {
        "PATH": "/usr/bin",
        "XDG_RUNTIME_DIR": "/run/user/0",
        "SOME_API_KEY": SECRETS["SOME_API_KEY"],
    }
    argv = container_argv(config, "taskdaemon-t-0-d")
    given = [argv[i + 1] for i, arg in enumerate(argv) if arg == "-e"]
    assert given == ["MODE=fast", "TASKDAEMON_INSTANCE=taskdaemon-t-0-d"]  # only -e reaches the container
    assert "--env-host" not in argv and not any(arg.startswith("--env-file") for arg in argv)
