"""Fixtures shared by every test: daemons started and always stopped, a PostgreSQL cluster."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import Daemon, write_config


@pytest.fixture
def client(daemon: Daemon) -> Iterator[httpx.Client]:
    """A client of the module's ``daemon`` fixture."""
    with daemon.client() as c:
        yield c


@pytest.fixture
def daemon_factory(tmp_path: Path) -> Iterator[Any]:
    """Start daemons for a test and always stop them (and, after a SIGKILL, their handlers)."""
    started: list[Daemon] = []

    def start(
        handlers: dict[str, dict[str, Any]],
        daemon: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
        name: str = "handlers.toml",
        wait: bool = True,
    ) -> Daemon:
        settings = {"db_path": str(tmp_path / "queue.db"), **(daemon or {})}
        config = write_config(tmp_path / name, handlers, settings)
        instance = Daemon(config, tmp_path / f"daemon-{len(started)}.log", env)
        started.append(instance)
        return instance.start(wait=wait)

    yield start
    for instance in started:
        instance.stop()


# -- PostgreSQL ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Any]:
    """A throwaway PostgreSQL cluster for the whole run, stopped at the end. It must start:
    a machine without PostgreSQL fails these tests, saying why, instead of skipping them."""
    from tests.pgcluster import ClusterError, start_cluster

    try:
        cluster = start_cluster()
    except ClusterError as exc:
        pytest.fail(
            f"PostgreSQL is required by the postgres queue tests and could not start: {exc}", pytrace=False
        )
    yield cluster
    cluster.destroy()


@pytest.fixture
def postgres_url(postgres_cluster: Any, request: pytest.FixtureRequest) -> str:
    """The URL of a fresh, empty database of the session's cluster."""
    name = (
        "t_"
        + "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[:40]
        + "_"
        + os.urandom(3).hex()
    )
    url: str = postgres_cluster.create_database(name)
    return url
