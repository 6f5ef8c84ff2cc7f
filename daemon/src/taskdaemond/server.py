"""Run the daemon: scheduler and HTTP API on uvicorn, stopped cleanly by SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Generator
from types import FrameType

import uvicorn

from taskdaemond import defaults, encryption
from taskdaemond.api import create_app
from taskdaemond.api.connections import connection_limit, guarded_protocol, limit_logs
from taskdaemond.config import Config
from taskdaemond.metrics import DaemonMetrics
from taskdaemond.news import TaskNews
from taskdaemond.queue import open_queue
from taskdaemond.scheduler import Scheduler

log = logging.getLogger("taskdaemond")

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format=LOG_FORMAT, stream=sys.stderr, force=True)


class DaemonServer(uvicorn.Server):
    """uvicorn's server, except that a SIGTERM or SIGINT ends in a clean exit (status 0)
    once the shutdown sequence has run, instead of being raised again afterwards."""

    #: The task service's news, closed at the first signal (the live streams end).
    news: TaskNews | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        # Live event streams never end on their own: end them now, so that the shutdown does
        # not wait HTTP_SHUTDOWN_TIMEOUT for their connections.
        if self.news is not None:
            try:
                asyncio.get_running_loop().call_soon_threadsafe(self.news.close)
            except RuntimeError:  # no loop running yet: nothing is streaming
                self.news.closed = True


def build_server(config: Config) -> DaemonServer:
    """The server for ``config``: queue, metrics, scheduler, API."""
    settings = config.daemon
    # Encryption at rest: the keys come from the environment only, never from handlers.toml
    # (a ConfigError names a bad key by its position, never by its value).
    cipher = encryption.cipher_from_environment(os.environ)
    if cipher is not None:
        log.info(
            "task data and results are encrypted at rest (%d key(s) in %s)",
            cipher.key_count,
            encryption.KEY_VARIABLE,
        )
    scheduler = Scheduler(config, open_queue(settings, cipher), DaemonMetrics())
    app = create_app(scheduler)
    # Refused connections and failed accepts are logged once per interval, not once each.
    limit_logs()
    instances = sum(handler.instances for handler in config.handlers.values())
    max_connections = connection_limit(settings.max_connections, instances)
    if max_connections < settings.max_connections:
        log.info(
            "at most %d HTTP connections (max_connections %d is more than the open-file limit leaves)",
            max_connections,
            settings.max_connections,
        )
    uv_config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        lifespan="on",
        # The stdlib loop, even where uvloop is installed: bench/daemon_quick.py measured it
        # faster for this daemon's work (subprocess pipes and a worker thread).
        loop="asyncio",
        timeout_graceful_shutdown=int(defaults.HTTP_SHUTDOWN_TIMEOUT),
        # Idle and slow clients: a deadline for each request's headers and a bound on their
        # size, a connection limit, and uvicorn's keep-alive timeout between requests.
        http=guarded_protocol(max_connections),
        timeout_keep_alive=int(defaults.HTTP_KEEP_ALIVE_TIMEOUT),
        h11_max_incomplete_event_size=defaults.MAX_HEADER_BYTES,
    )
    server = DaemonServer(uv_config)
    server.news = scheduler.service.news
    return server


def database_problem(config: Config) -> str | None:
    """Why the configured shared database cannot be used, or None (also None for SQLite and
    memory, which have nothing to reach)."""
    url = config.daemon.database_url
    if config.daemon.queue != "postgres" or url is None:
        return None
    try:
        from taskdaemond.queue.postgres import preflight  # noqa: PLC0415 - an optional dependency
    except ImportError as exc:
        return (
            f'the postgres queue needs psycopg ({exc}); install it with: pip install "taskdaemond[postgres]"'
        )
    return preflight(url)


def serve(config: Config) -> int:
    """Run until SIGTERM/SIGINT; the exit status (2: the queue's database cannot be used)."""
    problem = database_problem(config)
    if problem is not None:
        print(f"taskdaemond: {problem}", file=sys.stderr)
        return 2
    server = build_server(config)
    log.info(
        "taskdaemond on http://%s:%d with %s queue, handlers: %s",
        config.daemon.host,
        config.daemon.port,
        config.daemon.queue,
        ", ".join(config.handlers),
    )
    server.run()
    return 0 if server.started else 1
