"""Watching every request once: its metrics, its access-log line, and the traceback of
an error nothing else handled."""

import asyncio
import json
import logging
import time
from collections.abc import Iterable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.middleware import body_limit
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cms.metrics import IN_FLIGHT, METRICS_PATH, REQUEST_DURATION, REQUESTS, UNMATCHED

logger = logging.getLogger(__name__)
access_logger = logging.getLogger("cms.access")

INTERNAL_ERROR_BODY = json.dumps({"detail": "Internal server error"}).encode()
SHUTTING_DOWN_BODY = json.dumps({"detail": "The server is shutting down; retry"}).encode()
# Anything else (a made-up method) shares one label: label values must stay few.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_template(scope: Scope, root_path: str, routes: Iterable[BaseRoute]) -> str:
    """The template of the route that answered (``/articles/{article_id}``), never the
    path itself, so that metric labels and log lines stay few and carry no data.

    Read from the scope once the request is done: the router records the route it chose
    (``scope["route"]``), and each mount adds its path to ``root_path`` (given here as it
    was before routing). A path that reached a mounted application but none of its
    routes is that mount's ``…/{path}``; one that matched nothing is :data:`UNMATCHED`.
    FastAPI records no route for plain Starlette routes such as ``/docs``: those are
    found by matching ``routes``, the application's own.
    """
    mounted: str = scope.get("root_path", "")[len(root_path) :]
    route = scope.get("route")
    if route is not None and not isinstance(route, Mount):
        path = getattr(route, "path_format", None)
        if isinstance(path, str):
            return mounted + path
    if mounted:
        return f"{mounted}/{{path}}"
    partial = None
    for candidate in routes:
        if isinstance(candidate, Route):
            match, _ = candidate.matches(scope)
            if match is Match.FULL:
                return candidate.path_format
            if match is Match.PARTIAL and partial is None:
                partial = candidate.path_format
    return partial or UNMATCHED


# Starlette's body-size limit unwinds with this once it has sent its 413 (no public name).
_LIMIT_ANSWERED: type[BaseException] | tuple[()] = getattr(
    body_limit, "_RequestBodyLimitResponseSent", ()
)


class RequestObserver:
    """Times, counts and logs each HTTP request, and answers errors nothing handled.

    Install it inside :class:`~cms.middleware.RequestContextMiddleware`, so that its log
    lines carry the request's id and its 500s the security headers. An unhandled error
    is logged here, once, with the request's id, and answered with a 500 here: let
    through, Starlette and the server would each log it again, without the id.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        root_path = scope.get("root_path", "")
        # A mounted application puts itself there while it serves.
        application = scope.get("app")
        counted = scope["path"] != METRICS_PATH
        status = 0
        recorded = False

        def record() -> None:
            nonlocal recorded
            if recorded:
                return
            recorded = True
            duration = time.perf_counter() - started
            route = route_template(scope, root_path, getattr(application, "routes", ()))
            method = scope["method"] if scope["method"] in _METHODS else "other"
            code = str(status or 500)  # no answer at all is a failure too
            if counted:
                IN_FLIGHT.dec()
                REQUESTS.labels(method, route, code).inc()
                REQUEST_DURATION.labels(method, route).observe(duration)
            _log_access(scope, method, route, code, duration, quiet=not counted and status == 200)

        async def observed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                # Recorded as the last of the response leaves, not when the application
                # returns (it may still close files or run background tasks): once a
                # client has its answer, the request is counted and logged.
                record()
            await send(message)

        if counted:
            IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, observed_send)
        except HTTPException as exc:
            # An answer meant for a middleware outside this one (the body-size limit's
            # 413, raised while the application reads a body that is too large): the
            # client's mistake, not a bug, so its access line and no traceback.
            status = status or exc.status_code
            raise
        except _LIMIT_ANSWERED:
            # The same limit, having answered 413 itself, unwinding the request.
            status = status or 413
            raise
        except Exception:
            logger.exception("unhandled error")
            if not status:
                await _send_error(observed_send, 500, INTERNAL_ERROR_BODY)
            # Started but unfinished: nothing more can be said on this connection; the
            # server closes it.
        except asyncio.CancelledError:
            # The server cancels what is still running when the graceful shutdown's time
            # is up. That is no bug to show a traceback for: the client gets a 503.
            if not status:
                await _send_error(observed_send, 503, SHUTTING_DOWN_BODY, retry_after=True)
        finally:
            record()


async def _send_error(send: Send, status: int, body: bytes, *, retry_after: bool = False) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    if retry_after:
        headers.append((b"retry-after", b"5"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _log_access(
    scope: Scope, method: str, route: str, status: str, duration: float, *, quiet: bool
) -> None:
    # Scrapes every few seconds would drown the rest; they show at DEBUG.
    level = logging.DEBUG if quiet else logging.INFO
    if not access_logger.isEnabledFor(level):
        return
    state: dict[str, Any] = scope.get("state", {})
    client = state.get("client_address") or "-"
    duration_ms = round(duration * 1000, 1)
    access_logger.log(
        level,
        "%s %s %s %sms client=%s",
        method,
        route,
        status,
        duration_ms,
        client,
        extra={
            "method": method,
            "route": route,
            "status": int(status),
            "duration_ms": duration_ms,
            "client": client,
        },
    )
