"""Helpers of the PostgreSQL tests: daemons sharing one database, and that database read
directly (the tests check the queue's rows, not only what the API says)."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg

from tests.helpers import Daemon, handler_table, wait_until, write_config


def postgres_env(url: str, lease_seconds: float, **extra: str) -> dict[str, str]:
    return {
        "DAEMON_QUEUE_TYPE": "postgres",
        "DAEMON_DATABASE_URL": url,
        "DAEMON_LEASE_SECONDS": str(lease_seconds),
        **extra,
    }


class Fleet:
    """Daemons started by a test on one database, all stopped (by pid) at the end."""

    def __init__(self, tmp_path: Path, url: str) -> None:
        self.tmp_path = tmp_path
        self.url = url
        self.daemons: list[Daemon] = []
        self.killed_pids: list[int] = []

    def start(
        self,
        handlers: dict[str, dict[str, Any]] | None = None,
        *,
        lease_seconds: float = 2.0,
        env: dict[str, str] | None = None,
        wait: bool = True,
        daemon: dict[str, Any] | None = None,
        schedules: dict[str, dict[str, Any]] | None = None,
    ) -> Daemon:
        index = len(self.daemons)
        config = write_config(
            self.tmp_path / f"handlers-{index}.toml",
            handlers or {"echo": handler_table("behave", instances=2)},
            daemon,
            schedules,
        )
        instance = Daemon(
            config,
            self.tmp_path / f"daemon-{index}.log",
            postgres_env(self.url, lease_seconds, **(env or {})),
        )
        self.daemons.append(instance)
        return instance.start(wait=wait)

    def kill_host(self, daemon: Daemon, handler_pids: list[int] | None = None) -> None:
        """SIGKILL a daemon and its handlers, as when its host goes away. ``handler_pids``: when
        the daemon cannot be asked for them (stopped)."""
        pids = daemon.handler_pids() if handler_pids is None else handler_pids
        daemon.kill()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.killed_pids += pids

    def stop_all(self) -> None:
        for instance in self.daemons:
            if instance.process is not None:
                instance.stop()


@contextlib.contextmanager
def fleet(tmp_path: Path, url: str) -> Iterator[Fleet]:
    daemons = Fleet(tmp_path, url)
    try:
        yield daemons
    finally:
        daemons.stop_all()


def health(daemon: Daemon, timeout: float = 15.0) -> httpx.Response:
    return httpx.get(f"{daemon.url}/health", timeout=timeout)


def wait_for_status(
    daemon: Daemon, task_id: str, statuses: set[str], timeout: float = 30.0
) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        task: dict[str, Any] = httpx.get(f"{daemon.url}/api/tasks/{task_id}", timeout=10).json()
        return task if task["status"] in statuses else None

    found: dict[str, Any] = wait_until(
        check, timeout=timeout, interval=0.05, what=f"task {task_id} in {statuses}"
    )
    return found


def query(url: str, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(statement.encode(), params).fetchall()
