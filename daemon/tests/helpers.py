"""Test helpers: configurations, handler commands, a real daemon in a subprocess, bounded waits."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from taskdaemond.config import Config, parse_config

HANDLERS = Path(__file__).parent / "handlers"
PYTHON = sys.executable


def handler_command(name: str) -> list[str]:
    """argv of the test handler tests/handlers/<name>.py."""
    return [PYTHON, "-u", str(HANDLERS / f"{name}.py")]


def handler_table(name: str, **settings: Any) -> dict[str, Any]:
    return {"command": handler_command(name), **settings}


def make_config(
    tmp_path: Path, handlers: dict[str, dict[str, Any]], daemon: dict[str, Any] | None = None
) -> Config:
    raw: dict[str, Any] = {"handlers": handlers}
    if daemon:
        raw["daemon"] = daemon
    return parse_config(raw, source="test.toml", base_dir=tmp_path, env={})


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(value)


def to_toml(raw: dict[str, Any]) -> str:
    """Just enough TOML for test configurations: tables of scalars, lists and inline tables."""
    lines: list[str] = []
    if "daemon" in raw:
        lines.append("[daemon]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in raw["daemon"].items()]
    for section in ("handlers", "schedules"):
        for name, table in raw.get(section, {}).items():
            lines.append(f"\n[{section}.{name}]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def write_config(
    path: Path,
    handlers: dict[str, dict[str, Any]],
    daemon: dict[str, Any] | None = None,
    schedules: dict[str, dict[str, Any]] | None = None,
) -> Path:
    raw: dict[str, Any] = {"handlers": handlers}
    if daemon:
        raw["daemon"] = daemon
    if schedules:
        raw["schedules"] = schedules
    path.write_text(to_toml(raw))
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is as good as gone.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_until(predicate: Any, timeout: float = 20.0, interval: float = 0.05, what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns a truthy value; bounded in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Daemon:
    """``taskdaemond serve`` in a subprocess on a free port of 127.0.0.1, stopped by pid."""

    def __init__(self, config_path: Path, log_path: Path, env: dict[str, str] | None = None) -> None:
        self.config_path = config_path
        self.log_path = log_path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra_env = env or {}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, wait: bool = True) -> Daemon:
        # The test's own settings only: none of the caller's DAEMON_* variables leak in.
        env = {k: v for k, v in os.environ.items() if not k.startswith("DAEMON_") and k != "HANDLER_CONFIG"}
        env.update({"DAEMON_PORT": str(self.port), **self.extra_env})
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [PYTHON, "-m", "taskdaemond", "serve", "--config", str(self.config_path)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        if wait:
            wait_until(self._healthy, timeout=30, what=f"daemon on {self.url} (log: {self.log_path})")
        return self

    def _healthy(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"daemon exited with {self.process.returncode}: {self.log()}")
        try:
            return httpx.get(f"{self.url}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, timeout=60, headers=headers)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def handler_pids(self) -> list[int]:
        health = httpx.get(f"{self.url}/health", timeout=5).json()
        return [slot["pid"] for pool in health["pools"].values() for slot in pool["slots"] if slot["pid"]]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if not self._log.closed:
            self._log.close()
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL, as a crash would: no shutdown sequence runs."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)


@contextlib.contextmanager
def serving(
    directory: Path,
    handlers: dict[str, dict[str, Any]],
    daemon: dict[str, Any] | None = None,
    schedules: dict[str, dict[str, Any]] | None = None,
) -> Iterator[Daemon]:
    """A daemon on ``handlers``, its configuration, queue and log in ``directory``; stopped at the end."""
    config = write_config(
        directory / "handlers.toml",
        handlers,
        {"db_path": str(directory / "queue.db"), **(daemon or {})},
        schedules,
    )
    instance = Daemon(config, directory / "daemon.log").start()
    try:
        yield instance
    finally:
        instance.stop()


#: A retry backoff short enough for tests: retries come within a fraction of a second.
FAST_BACKOFF = {"initial": 0.05, "multiplier": 2, "max": 0.2, "jitter": 0}


def submit(client: httpx.Client, body: dict[str, Any]) -> str:
    """POST /queue ``body``; the new task's id (the submit must succeed)."""
    response = client.post("/queue", json=body)
    assert response.status_code == 200, response.text
    task_id: str = response.json()["task_id"]
    return task_id


def wait(client: httpx.Client, task_id: str, seconds: float = 30) -> dict[str, Any]:
    """The task once it is final (a long poll of at most ``seconds``)."""
    task: dict[str, Any] = client.get(f"/api/tasks/{task_id}", params={"wait": seconds}).json()
    return task
