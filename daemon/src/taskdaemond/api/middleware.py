"""ASGI middleware, outermost first: the Host and Origin check, the bearer token, the JSON
Content-Type of bodies, and the body limits (size, bytes in flight, stalls)."""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from taskdaemond import defaults

#: Names of this machine that no other host can claim: a Host header naming one of them
#: cannot come from DNS rebinding.
LOCAL_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
#: Addresses that mean "every interface" when bound.
WILDCARDS = frozenset({"0.0.0.0", "::", ""})  # noqa: S104 - names, not a bind


async def send_error(
    send: Send, status: int, message: str, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps({"error": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def host_name(authority: str) -> str:
    """The host of a Host header or URL authority, lower case, without port or brackets."""
    authority = authority.strip().lower()
    if authority.startswith("["):
        return authority[1 : authority.find("]")] if "]" in authority else authority
    if authority.count(":") == 1:
        return authority.split(":", 1)[0]
    return authority


class HostPolicy:
    """Which Host names the API answers: the bound address, localhost's names, the configured
    names ("*": any); bound to every interface, any IP address too (an address cannot be
    rebound)."""

    def __init__(self, bound: str, allowed: Iterable[str]) -> None:
        allowed = tuple(allowed)
        self.any = "*" in allowed
        self.bound = host_name(bound)
        self.names = LOCAL_NAMES | {self.bound} | {host_name(name) for name in allowed}
        self.any_address = self.bound in WILDCARDS

    def allows(self, name: str) -> bool:
        if self.any or name in self.names:
            return True
        if self.any_address:
            try:
                ipaddress.ip_address(name)
            except ValueError:
                return False
            return True
        return False


class HostCheck:
    """400 for a Host header the policy does not allow (DNS rebinding), 403 for an Origin header
    that names another site (a web page posting to the daemon from a browser)."""

    def __init__(self, app: ASGIApp, policy: HostPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = header(scope, b"host")
        if host is not None:
            name = host_name(host.decode("latin-1"))
            if not self.policy.allows(name):
                await send_error(
                    send,
                    400,
                    f"host {name!r} is not allowed: use the daemon's address or localhost, "
                    "or add the name to [daemon] allowed_hosts",
                )
                return
        origin = header(scope, b"origin")
        if origin is not None:
            text = origin.decode("latin-1")
            if not self.policy.allows(host_name(urlsplit(text).netloc)):
                await send_error(send, 403, f"cross-origin request from {text!r} refused")
                return
        await self.app(scope, receive, send)


class BearerToken:
    """Require ``Authorization: Bearer <token>`` (the scheme in any case) on every path but
    /health, which answers everyone but shows its detail only with the token: it records
    whether the request carried the token as ``request.state.authenticated``."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = token.encode()

    def authenticated(self, scope: Scope) -> bool:
        given = header(scope, b"authorization") or b""
        scheme, _, credentials = given.strip().partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(credentials.strip(), self.expected)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        authenticated = self.authenticated(scope)
        scope.setdefault("state", {})["authenticated"] = authenticated
        if not authenticated and scope["path"] != "/health":
            await send_error(
                send,
                401,
                "missing or wrong bearer token (Authorization: Bearer <token>)",
                [(b"www-authenticate", b"Bearer")],
            )
            return
        await self.app(scope, receive, send)


def has_body(scope: Scope) -> bool:
    length = header(scope, b"content-length")
    if length is not None:
        return length.strip() not in (b"", b"0")
    return header(scope, b"transfer-encoding") is not None


def is_json(content_type: bytes | None) -> bool:
    if content_type is None:
        return False
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or (media.startswith(b"application/") and media.endswith(b"+json"))


class JsonBody:
    """415 for a request body that is not declared ``application/json``: an HTML form or a
    ``text/plain`` fetch from a web page cannot reach the API."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and has_body(scope) and not is_json(header(scope, b"content-type")):
            given = (header(scope, b"content-type") or b"none").decode("latin-1")
            await send_error(
                send, 415, f"request bodies must be Content-Type: application/json (got {given})"
            )
            return
        await self.app(scope, receive, send)


class _Refused(Exception):
    """A request the body limit answers itself, with this status and message."""

    def __init__(self, status: int, message: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


class _Reservation:
    """Bytes of the in-flight budget one request holds."""

    held = 0


class BodyLimit:
    """413 for a body over ``max_bytes``, whether it declares its length or streams; 503 with
    Retry-After while the bodies being read and handled at once would pass ``in_flight_budget``
    bytes (one request alone may always use up to ``max_bytes``); 408 for a body that stalls."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        in_flight_budget: int = defaults.DEFAULT_MAX_BODY_BYTES_IN_FLIGHT,
        idle_timeout: float = defaults.HTTP_BODY_IDLE_TIMEOUT,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.budget = in_flight_budget
        self.idle_timeout = idle_timeout
        #: Bytes of bodies being read or handled now, across all requests.
        self.in_flight = 0

    def _take(self, held: int, more: int) -> bool:
        """Reserve ``more`` bytes for a request that holds ``held``: False if over the budget."""
        if self.in_flight + more > self.budget and self.in_flight > held:
            return False
        self.in_flight += more
        return True

    def _busy(self) -> _Refused:
        return _Refused(
            503,
            f"too many request bodies in flight (more than {self.budget} bytes): retry shortly",
            [(b"retry-after", str(defaults.BODY_BUDGET_RETRY_AFTER).encode())],
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not has_body(scope):
            await self.app(scope, receive, send)
            return
        reservation = _Reservation()
        try:
            body = await self._read(scope, receive, reservation)
        except _Refused as refused:
            self.in_flight -= reservation.held
            await send_error(send, refused.status, refused.message, refused.headers)
            return
        if body is None:  # the client went away
            self.in_flight -= reservation.held
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        try:
            await self.app(scope, replay, send)
        finally:
            self.in_flight -= reservation.held

    async def _read(self, scope: Scope, receive: Receive, reservation: _Reservation) -> bytes | None:
        """The whole body, counted against both limits as it arrives (a streamed body too);
        None when the client disconnects. Raises _Refused."""
        too_big = _Refused(413, f"request body is larger than the limit of {self.max_bytes} bytes")
        declared = header(scope, b"content-length")
        if declared is not None and declared.strip().isdigit():
            if int(declared) > self.max_bytes:
                raise too_big
            if not self._take(0, int(declared)):
                raise self._busy()
            reservation.held = int(declared)
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            try:
                async with asyncio.timeout(self.idle_timeout):
                    message = await receive()
            except TimeoutError:
                raise _Refused(408, f"request body stalled: no data for {self.idle_timeout:g} s") from None
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                raise too_big
            if size > reservation.held:
                if not self._take(reservation.held, size - reservation.held):
                    raise self._busy()
                reservation.held = size
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks)
