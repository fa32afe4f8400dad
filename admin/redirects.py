"""Redirects the back office sends point at paths, never at whatever host was asked for.

SQLAdmin builds absolute URLs from the request's ``Host`` header, so a request with
``Host: evil.example`` would be redirected to ``http://evil.example/admin/login`` (a gift
to cache poisoning and phishing). Every ``Location`` on this very host becomes a path.
"""

from urllib.parse import urlsplit, urlunsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send


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
