"""What every response gets, whichever surface answers it: a request id, the client's
address as far as it can be trusted, and the headers that keep browsers safe."""

import asyncio
import collections
import contextlib
import ipaddress
import re
import secrets
import threading
import time
from collections.abc import Iterable, MutableMapping
from contextvars import ContextVar
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cms.config import Network, address_in
from cms.db import RUNNING, RunningStatements
from cms.replicas import CONSISTENCY_HEADER, ROUTE, ReadRoute, sign_position, verify_token

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

# The request being served, for log lines written anywhere below it.
current_request_id: ContextVar[str | None] = ContextVar("current_request_id", default=None)

_COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
# JSON, feeds and the like: nothing to run, nothing to frame.
API_CSP = "default-src 'none'; frame-ancestors 'none'"


def client_address(scope: Scope, trusted_proxies: Iterable[Network]) -> str | None:
    """The address of the client that sent this request.

    ``X-Forwarded-For`` is believed only as far as it was written by trusted proxies:
    walking it from the right, the first address that is not a trusted proxy is the
    client. Without trusted proxies the header is ignored (anyone can send it).
    """
    peer = scope.get("client")
    address: str | None = peer[0] if peer else None
    proxies = list(trusted_proxies)
    if not proxies or not address_in(address, proxies):
        return address
    forwarded: list[str] = []
    for name, value in scope.get("headers", []):
        if name == b"x-forwarded-for":
            forwarded.extend(part.strip() for part in value.decode("latin-1").split(","))
    for hop in reversed(forwarded):
        if not hop:
            continue
        if not address_in(hop, proxies):
            return hop if _is_address(hop) else address
        address = hop
    return address


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


class RequestContextMiddleware:
    """Gives each request an id (the client's ``X-Request-ID`` when it is a sane token,
    else a new one) and its client address, and adds the id and the security headers
    to every response."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        trusted_proxies: Iterable[Network] = (),
        csp_by_prefix: Iterable[tuple[str, str]] = (),
    ) -> None:
        self.app = app
        self.trusted_proxies = list(trusted_proxies)
        self.csp_by_prefix = sorted(csp_by_prefix, key=lambda pair: -len(pair[0]))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or secrets.token_hex(8)
        state: MutableMapping[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["client_address"] = client_address(scope, self.trusted_proxies)
        csp = self._csp_for(scope["path"])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers[REQUEST_ID_HEADER] = request_id
                for name, value in _COMMON_HEADERS.items():
                    headers.setdefault(name, value)
                headers.setdefault("Content-Security-Policy", csp)
            await send(message)

        token = current_request_id.set(request_id)
        try:
            # Unhandled errors are answered (and logged once) inside, by
            # cms.observability.RequestObserver.
            await self.app(scope, receive, send_with_headers)
        finally:
            current_request_id.reset(token)

    def _csp_for(self, path: str) -> str:
        for prefix, policy in self.csp_by_prefix:
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                return policy
        return API_CSP


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _SAFE_REQUEST_ID.fullmatch(text) else None
    return None


class APICorsMiddleware:
    """CORS for the API's browser consumers on the configured origins only; the back
    office (its own origin, cookie-authenticated) never answers cross-origin requests."""

    def __init__(self, app: ASGIApp, *, origins: list[str], excluded: tuple[str, ...]) -> None:
        self.app = app
        self.excluded = excluded
        self.cors = CORSMiddleware(
            app,
            allow_origins=origins,
            # Bearer tokens travel in a header; nothing needs cookies, so credentials are
            # never allowed (and never paired with "*").
            allow_credentials=False,
            allow_methods=["GET", "HEAD", "POST", "PATCH", "DELETE"],
            # X-Preview-Token: a front end in the browser opens a draft with a preview link.
            allow_headers=[
                "Authorization",
                "Content-Type",
                "If-Match",
                "If-None-Match",
                "X-Preview-Token",
                CONSISTENCY_HEADER,
            ],
            expose_headers=[
                "ETag",
                "Link",
                "X-Total-Count",
                "X-Request-ID",
                "Retry-After",
                CONSISTENCY_HEADER,
            ],
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith(self.excluded):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)


# Redirects point at paths, never at whatever host was asked for. Starlette and SQLAdmin
# build absolute URLs from the request's ``Host`` header, so a request with
# ``Host: evil.example`` would be redirected to ``http://evil.example/…`` (a gift to
# cache poisoning and phishing). Every ``Location`` on this very host becomes a path.


def relative(location: str, host: str | None) -> str:
    """``location`` as a path when it points at ``host`` (or has no host at all)."""
    parts = urlsplit(location)
    if not parts.netloc or parts.netloc == host:
        return urlunsplit(("", "", parts.path or "/", parts.query, parts.fragment))
    return location


class RelativeRedirectsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = Headers(scope=scope).get("host")

        async def send_relative(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                location = headers.get("location")
                if location is not None:
                    headers["location"] = relative(location, host)
            await send(message)

        await self.app(scope, receive, send_relative)


class CancelOnDisconnect:
    """Stop the database statements of a read whose client has gone away.

    A GET or HEAD carries no body, so whatever its client sends after the request can
    only be the end of it. Listening for that costs nothing until it matters: a request
    is only watched (a task awaiting ``http.disconnect``) once one of its statements has
    run for :data:`SLOW_STATEMENT_SECONDS`, which one thread per process checks; then the
    request's running statements (:class:`cms.db.RunningStatements`) are stopped when the
    client leaves, instead of holding a connection to their end. What the app itself asks
    of ``receive`` is handed on unchanged and in order. (A listening task on every
    request cost 45-160 µs a request, on every read's path.)
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        watch = _Watch(receive, asyncio.get_running_loop())
        token = RUNNING.set(watch.running)
        _WATCHDOG.add(watch)
        try:
            await self.app(scope, watch.receive, send)
        finally:
            _WATCHDOG.discard(watch)
            watch.close()
            RUNNING.reset(token)


# A statement running this long has its request watched for a client that leaves.
SLOW_STATEMENT_SECONDS = 0.5


class _Watch:
    """One GET being served: its statements, and (once one is slow) a listener."""

    def __init__(self, receive: Receive, loop: asyncio.AbstractEventLoop) -> None:
        self.running = RunningStatements()
        self.loop = loop
        self._receive = receive
        # Messages the listener read before the app asked for them.
        self._early: collections.deque[Message] = collections.deque()
        self._arrived = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None
        self.watched = False

    async def receive(self) -> Message:
        if self._listener is None:
            return await self._receive()
        while not self._early:
            self._arrived.clear()
            await self._arrived.wait()
        return self._early.popleft()

    def listen(self) -> None:
        """Start listening (on the request's event loop)."""
        if self._listener is None:
            self._listener = self.loop.create_task(self._listen())

    async def _listen(self) -> None:
        while True:
            message = await self._receive()
            self._early.append(message)
            self._arrived.set()
            if message["type"] == "http.disconnect":
                await self.loop.run_in_executor(None, self.running.cancel)
                return

    def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()


class _Watchdog:
    """One thread per process: finds requests with a slow statement and has their event
    loop listen for their client's disconnect."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._watches: set[_Watch] = set()
        self._thread: threading.Thread | None = None

    def add(self, watch: _Watch) -> None:
        with self._lock:
            self._watches.add(watch)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="cms-disconnect-watchdog", daemon=True
                )
                self._thread.start()

    def discard(self, watch: _Watch) -> None:
        with self._lock:
            self._watches.discard(watch)

    def _run(self) -> None:
        while True:
            time.sleep(SLOW_STATEMENT_SECONDS / 2)
            with self._lock:
                watches = list(self._watches)
            for watch in watches:
                if not watch.watched and watch.running.running_for() >= SLOW_STATEMENT_SECONDS:
                    watch.watched = True
                    with contextlib.suppress(RuntimeError):  # its loop has closed
                        watch.loop.call_soon_threadsafe(watch.listen)


_WATCHDOG = _Watchdog()


class ReadRouting:
    """Which server a request's reads may use, and the consistency token of its writes
    (installed only when there are replicas; see :mod:`cms.replicas`).

    A ``GET`` or ``HEAD`` without credentials (no ``Authorization``, no ``X-API-Key``)
    may read from a replica; everything else reads from the primary. A valid
    ``X-Consistency-Token`` makes the request's reads see that write (or go to the
    primary); one that is malformed or forged is answered 422. A request that committed
    answers with the token of its commit.
    """

    def __init__(self, app: ASGIApp, *, secret: str) -> None:
        self.app = app
        self.secret = secret

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        route = ReadRoute(
            replica=scope["method"] in ("GET", "HEAD")
            and "authorization" not in headers
            and "x-api-key" not in headers
        )
        presented = headers.get(CONSISTENCY_HEADER)
        if presented is not None:
            route.after = verify_token(presented, self.secret)
            if route.after is None:
                await JSONResponse(
                    {
                        "detail": [
                            {
                                "loc": ["header", CONSISTENCY_HEADER.lower()],
                                "msg": f"Not a {CONSISTENCY_HEADER} this site gave out; send "
                                "back the header of a response unchanged",
                                "type": "value_error",
                            }
                        ]
                    },
                    status_code=422,
                )(scope, receive, send)
                return

        async def send_token(message: Message) -> None:
            if message["type"] == "http.response.start" and route.written is not None:
                MutableHeaders(scope=message)[CONSISTENCY_HEADER] = sign_position(
                    route.written, self.secret
                )
            await send(message)

        reset = ROUTE.set(route)
        try:
            await self.app(scope, receive, send_token)
        finally:
            ROUTE.reset(reset)
