"""Idle, slow and numerous clients against a real daemon started under a low open-file limit:
the daemon closes what it cannot serve, keeps answering, and its log stays small."""

from __future__ import annotations

import logging
import os
import select
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from taskdaemond import defaults
from taskdaemond.api.connections import OncePerInterval
from tests.helpers import PYTHON, Daemon, handler_table, wait_until, write_config

#: The open-file limit the daemon runs under: far fewer than the idle clients below.
NOFILE = 256
IDLE_CLIENTS = 400


class LimitedDaemon(Daemon):
    """A daemon whose RLIMIT_NOFILE is NOFILE (soft and hard), set before it starts."""

    def start(self, wait: bool = True) -> Daemon:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DAEMON_") and k != "HANDLER_CONFIG"}
        env["DAEMON_PORT"] = str(self.port)
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            # prlimit (util-linux) sets the limit and execs the daemon: the pid is the daemon's.
            [
                "prlimit",
                f"--nofile={NOFILE}:{NOFILE}",
                PYTHON,
                "-m",
                "taskdaemond",
                "serve",
                "--config",
                str(self.config_path),
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        if wait:
            wait_until(self._healthy, timeout=30, what=f"daemon on {self.url}")
        return self


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[Daemon]:
    config = write_config(
        tmp_path / "handlers.toml",
        {"echo": handler_table("behave", instances=1)},
        {"db_path": str(tmp_path / "queue.db"), "shutdown_grace": 1},
    )
    daemon = LimitedDaemon(config, tmp_path / "daemon.log").start()
    yield daemon
    daemon.stop()


def open_idle(port: int, count: int, deadline: float) -> list[socket.socket]:
    sockets: list[socket.socket] = []
    while len(sockets) < count and time.monotonic() < deadline:
        sock = socket.socket()
        sock.settimeout(2)
        try:
            sock.connect(("127.0.0.1", port))
        except OSError:
            sock.close()
            continue
        sockets.append(sock)
    return sockets


def closed_by_peer(sock: socket.socket) -> bool:
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return False
    try:
        return sock.recv(1024) == b""
    except OSError:  # reset
        return True


def test_idle_clients_are_closed_and_the_daemon_keeps_answering(limited: Daemon) -> None:
    assert limited.process is not None
    with open(f"/proc/{limited.process.pid}/limits") as limits:
        assert any(line.startswith("Max open files") and f" {NOFILE} " in line for line in limits)
    sockets = open_idle(limited.port, IDLE_CLIENTS, time.monotonic() + 60)
    try:
        assert len(sockets) >= IDLE_CLIENTS // 2, len(sockets)
        # Past the header timeout every idle client has been closed by the daemon ...
        deadline = defaults.HTTP_HEADER_TIMEOUT * 2 + 10
        wait_until(
            lambda: all(closed_by_peer(s) for s in sockets),
            timeout=deadline,
            interval=0.5,
            what="the daemon closing every idle connection",
        )
        # ... and it answers new clients.
        health = wait_until(limited._healthy, timeout=10, what="/health")
        assert health
    finally:
        for sock in sockets:
            sock.close()
    assert limited.process.poll() is None
    log = limited.log()
    assert len(log) < 20_000, f"log grew to {len(log)} bytes"
    assert log.count("Traceback") <= 2, log[-3000:]
    refused = log.count("refused a connection")
    assert 1 <= refused <= 5, refused
    assert httpx.get(f"{limited.url}/api/tasks", timeout=10).status_code == 200


def test_headers_past_the_limit_get_431(limited: Daemon) -> None:
    with socket.create_connection(("127.0.0.1", limited.port), timeout=10) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        filler = b"X-Filler: " + b"a" * 1000 + b"\r\n"
        try:
            for _ in range(defaults.MAX_HEADER_BYTES // len(filler) + 8):
                sock.sendall(filler)
        except OSError:
            pass  # the daemon may close before the last lines
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 431"), answer[:200]
    assert limited._healthy()


def test_a_client_that_stops_mid_headers_is_closed_after_the_timeout(limited: Daemon) -> None:
    with socket.create_connection(
        ("127.0.0.1", limited.port), timeout=defaults.HTTP_HEADER_TIMEOUT + 20
    ) as sock:
        sock.sendall(b"POST /queue HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        started = time.monotonic()
        answer = sock.recv(65536)
        waited = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert defaults.HTTP_HEADER_TIMEOUT - 1 <= waited <= defaults.HTTP_HEADER_TIMEOUT + 15


class Collect(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__()
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_identical_warnings_are_logged_once_per_interval() -> None:
    records: list[logging.LogRecord] = []
    logger = logging.getLogger("tests.once_per_interval")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    handler = Collect(records)
    logger.addHandler(handler)
    logger.addFilter(OncePerInterval(interval=0.5))
    try:
        for _ in range(1000):
            try:
                raise OSError(24, "Too many open files")
            except OSError:
                logger.exception("socket.accept() out of system resource")
        logger.info("an info line always passes")
        assert len(records) == 2
        time.sleep(0.6)
        logger.error("socket.accept() out of system resource", exc_info=(OSError, OSError(24, "x"), None))
        assert len(records) == 3 and "999 more like this" in records[-1].getMessage()
        logger.warning("another kind passes at once")
        assert len(records) == 4
    finally:
        logger.removeHandler(handler)
