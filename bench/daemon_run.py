"""Start taskdaemond (this repository's daemon, from the bench virtualenv) for a measurement."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from common import HANDLERS, PYTHON, BenchError, free_port, stop

ECHO_COMMAND = [PYTHON, "-u", str(HANDLERS / "sdk_echo.py")]


@dataclass(frozen=True)
class Daemon:
    url: str
    pid: int
    db: Path

    def http_connection(self, timeout: float) -> http.client.HTTPConnection:
        """A stdlib HTTP connection to the daemon: the plainest client there is (httpx adds 0.5-2
        ms per round trip of its own), for measurements of one request at a time."""
        host, port = self.url.removeprefix("http://").split(":")
        return http.client.HTTPConnection(host, int(port), timeout=timeout)


@contextmanager
def running_daemon(
    workdir: Path,
    queue: str,
    instances: int,
    command: list[str] | None = None,
    max_body_size: int = 64 * 1024 * 1024,
) -> Iterator[Daemon]:
    """taskdaemond serving one handler type, `echo`, with `instances` warm instances; its URL.

    Yields once every instance is up (idle), so start-up is never part of a measurement.
    """
    port = free_port()
    db = workdir / f"bench-{port}.db"
    config = workdir / f"handlers-{port}.toml"
    config.write_text(
        f'[daemon]\nport = {port}\nqueue = "{queue}"\ndb_path = {json.dumps(str(db))}\n'
        f'log_level = "warning"\nmax_body_size = {max_body_size}\n\n'
        f"[handlers.echo]\ncommand = {json.dumps(command or ECHO_COMMAND)}\ninstances = {instances}\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAEMON_")}
    log_path = workdir / f"daemon-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own daemon, from the bench interpreter
            [PYTHON, "-m", "taskdaemond", "serve", "--config", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(url, process, instances, log_path)
            yield Daemon(url, process.pid, db)
        finally:
            stop(process, 60)


def wait_healthy(url: str, process: subprocess.Popen[bytes], instances: int, log: Path) -> None:
    deadline = time.monotonic() + 60
    with httpx.Client(base_url=url, timeout=5) as client:
        while True:
            try:
                health = client.get("/health").json()
                if health["pools"]["echo"]["idle"] == instances:
                    return
            except (httpx.HTTPError, KeyError, ValueError):
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise BenchError(f"taskdaemond did not start; its log: {log}\n{log.read_text()[-2000:]}")
            time.sleep(0.05)
