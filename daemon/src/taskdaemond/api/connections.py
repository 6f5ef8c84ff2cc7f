"""The HTTP connections themselves: how many may be open, how long a client may take to send a
request's headers, how large they may be, and logs about refused clients that cannot fill a
disk. uvicorn's own keep-alive timeout closes idle connections between requests; before this,
a client that connected and sent nothing held its connection (and a file descriptor) for ever.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import resource
import time
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from taskdaemond import defaults

log = logging.getLogger("taskdaemond.http")

#: Loggers whose warnings and errors are rate-limited: asyncio (a failed accept, e.g. EMFILE,
#: logged with a traceback each time), uvicorn's and ours.
LIMITED_LOGGERS = ("asyncio", "uvicorn.error", "taskdaemond.http")


class OncePerInterval(logging.Filter):
    """Let one warning or error of each kind through per ``interval`` seconds, and count the
    others: the next one let through says how many were dropped. A kind is the logger, the
    message template and the exception's class."""

    def __init__(self, interval: float = defaults.REFUSED_LOG_INTERVAL) -> None:
        super().__init__()
        self.interval = interval
        self._seen: dict[tuple[str, str, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        error = record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else ""
        kind = (record.name, str(record.msg), error)
        now = time.monotonic()
        last, dropped = self._seen.get(kind, (-math.inf, 0))
        if now - last < self.interval:
            self._seen[kind] = (last, dropped + 1)
            return False
        self._seen[kind] = (now, 0)
        if dropped:
            record.msg = (
                f"{record.msg} [{dropped} more like this in the last {self.interval:g} s were not logged]"
            )
        return True


def limit_logs(interval: float = defaults.REFUSED_LOG_INTERVAL) -> None:
    """Put a OncePerInterval filter on each of LIMITED_LOGGERS (once)."""
    for name in LIMITED_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, OncePerInterval) for existing in logger.filters):
            logger.addFilter(OncePerInterval(interval))


def connection_limit(configured: int, instances: int) -> int:
    """The connection limit in force: ``configured``, lowered so that the connections, the
    handlers' pipes and the daemon's own files fit under the open-file limit (RLIMIT_NOFILE)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return configured
    room = soft - defaults.CONNECTION_FD_RESERVE - defaults.FDS_PER_INSTANCE * instances
    return max(1, min(configured, room))


def _raw_response(status: str, message: str) -> bytes:
    body = json.dumps({"error": message}).encode()
    head = (
        f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode() + body


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a connection limit (a connection past it is closed at
    once), a deadline for each request's headers (from connecting, or from the end of the
    previous response) and a bound on their size (431)."""

    max_connections: ClassVar[int] = defaults.DEFAULT_MAX_CONNECTIONS
    header_timeout: ClassVar[float] = defaults.HTTP_HEADER_TIMEOUT
    max_header_bytes: ClassVar[int] = defaults.MAX_HEADER_BYTES

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._refused = False
        self._header_timer: asyncio.TimerHandle | None = None
        self._header_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.max_connections:
            self._refused = True
            log.warning(
                "refused a connection: %d connections are open, the limit ([daemon] max_connections)",
                len(self.connections),
            )
            transport.abort()
            return
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._refused:
            return
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._header_timer is None and (self.cycle is None or self.cycle.response_complete):
            self._arm()  # a new request begins: its headers get a deadline and a size bound
        awaiting_headers = self._header_timer is not None
        super().data_received(data)
        if awaiting_headers and self._header_timer is not None:  # the headers are still incomplete
            self._header_bytes += len(data)
            if self._header_bytes > self.max_header_bytes and not self.transport.is_closing():
                self._disarm()
                message = f"request line and headers are larger than {self.max_header_bytes} bytes"
                self.transport.write(_raw_response("431 Request Header Fields Too Large", message))
                self.transport.close()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def _arm(self) -> None:
        self._header_bytes = 0
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_late)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            if self._header_bytes:
                message = f"request headers not received within {self.header_timeout:g} s"
                self.transport.write(_raw_response("408 Request Timeout", message))
            self.transport.close()


def guarded_protocol(
    max_connections: int,
    header_timeout: float = defaults.HTTP_HEADER_TIMEOUT,
    max_header_bytes: int = defaults.MAX_HEADER_BYTES,
) -> type[GuardedHttpProtocol]:
    """GuardedHttpProtocol with these limits, for uvicorn's ``http`` setting."""
    return type(
        "GuardedHttpProtocol",
        (GuardedHttpProtocol,),
        {
            "max_connections": max_connections,
            "header_timeout": header_timeout,
            "max_header_bytes": max_header_bytes,
        },
    )
