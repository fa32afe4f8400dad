"""Cross-site request forgery protection for the back office.

Every unsafe request (POST, PUT, PATCH, DELETE) must pass two independent checks:

1. **Where it came from.** Browsers say so in ``Sec-Fetch-Site`` and ``Origin``; anything
   but this very origin is refused. ``SameSite=Lax`` cookies are not enough on their own:
   a page on a sibling port (``localhost:8161`` against ``localhost:8160``) is the same
   *site* and gets the cookie.
2. **A token only our pages know.** Each session holds a random token; forms carry it in
   a hidden ``csrf_token`` field, scripts in an ``X-CSRF-Token`` header.

A refused request changes nothing and gets a 403 page that says what to do.
"""

import hmac
import secrets
from collections.abc import MutableMapping
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import FormData, Headers
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SESSION_KEY = "csrf"
FORM_FIELD = "csrf_token"
HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# Back-office forms are small, but an article body may be 1 MiB (and more, escaped).
MAX_FORM_BYTES = 8 * 1024 * 1024

REFUSED = (
    "This request was refused: it did not come from a page of this back office, or the "
    "page was open for too long. Go back, reload the page and try again."
)


def csrf_token(request: Request) -> str:
    """This session's token (made on first use); what forms and scripts send back."""
    session: MutableMapping[str, Any] = request.session
    token = session.get(SESSION_KEY)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[SESSION_KEY] = token
    return token


def rotate_csrf_token(request: Request) -> None:
    """Forget the token: signing in starts a new session with a new one."""
    request.session.pop(SESSION_KEY, None)


class CSRFMiddleware:
    """Refuses unsafe requests that fail either check. Runs inside the session middleware."""

    def __init__(self, app: ASGIApp, *, refusal_page: str = REFUSED) -> None:
        self.app = app
        self.refusal_page = refusal_page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if not _same_origin(scope, headers):
            await self._refuse(scope, receive, send)
            return
        expected = scope.get("session", {}).get(SESSION_KEY)
        if headers.get(HEADER) is not None:
            # A script's request carries the token in its header: the body streams on
            # unread (an image upload is larger than any form).
            if _same_token(expected, headers.get(HEADER)):
                await self.app(scope, receive, send)
            else:
                await self._refuse(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:
            await HTMLResponse("Request body too large", status_code=413)(scope, receive, send)
            return
        replay = _replaying(body)
        if not _same_token(expected, await _form_token(scope, replay())):
            await self._refuse(scope, receive, send)
            return
        await self.app(scope, replay(), send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        # On the application's own 403 page (the back office's keeps its layout), when
        # it has one; a bare page otherwise.
        handlers = getattr(scope.get("app"), "exception_handlers", {})
        render = handlers.get(HTTPException)
        response: Response
        if render is not None:
            response = await render(Request(scope, receive), HTTPException(403, self.refusal_page))
        else:
            response = HTMLResponse(_page(self.refusal_page), status_code=403)
        await response(scope, receive, send)


def _same_token(expected: object, sent: object) -> bool:
    return (
        isinstance(expected, str)
        and isinstance(sent, str)
        and hmac.compare_digest(expected.encode(), sent.encode())
    )


def _same_origin(scope: Scope, headers: Headers) -> bool:
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return False
    origin = headers.get("origin")
    if origin is None:
        # Not a browser that says (or a same-origin GET-turned-POST from an old one): the
        # token alone decides.
        return True
    host = headers.get("host")
    parts = urlsplit(origin)
    return origin != "null" and host is not None and parts.netloc == host


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replaying(body: bytes) -> Any:
    """A factory of ``receive`` callables that each hand over ``body`` once."""

    def make() -> Receive:
        sent = False

        async def receive() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return {"type": "http.disconnect"}

        return receive

    return make


async def _form_token(scope: Scope, receive: Receive) -> str | None:
    content_type = Headers(scope=scope).get("content-type", "")
    if not content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        return None
    try:
        form: FormData = await Request(scope, receive).form(max_part_size=MAX_FORM_BYTES)
    except (MultiPartException, HTTPException):
        return None  # not a form this back office sent: refused for want of a token
    try:
        value = form.get(FORM_FIELD)
        return value if isinstance(value, str) else None
    finally:
        await form.close()


def _page(message: str) -> str:
    return (
        "<!DOCTYPE html><html lang=en><meta charset=utf-8><title>Request refused</title>"
        f"<body><h1>403 Forbidden</h1><p>{message}</p></body></html>"
    )
