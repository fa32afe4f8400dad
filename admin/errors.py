"""Error pages that keep the back office around them: the menu, who is signed in, and a
way back (the dashboard, and the list the page belongs to), whatever went wrong: a page
not allowed (403) or not there (404), a malformed address (400), the database away (503),
or a bug (500, logged once by :class:`cms.observability.RequestObserver`)."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from admin.auth import UNAVAILABLE, StaffAuthentication, current_user

if TYPE_CHECKING:
    from sqladmin import Admin
from cms import bulk
from cms.errors import InvalidInput

SEARCH_BEING_BUILT = (
    "Search is unavailable while its index is being built after a bulk load; "
    "try again in a few minutes."
)
logger = logging.getLogger(__name__)

HEADINGS = {
    400: "Not a valid address",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed this way",
    429: "Too many attempts",
    500: "Server error",
    503: "Unavailable",
}
# Said instead of a bare reason phrase ("Forbidden") when the code raising had no more.
EXPLANATIONS = {
    403: "Your account may not open this page. The menu shows what you can use.",
    404: "There is nothing at this address, or nothing you may see.",
    405: "This page cannot be used that way.",
}
SERVER_ERROR = (
    "Nothing you did caused this, and it has been logged. Try again; if it keeps happening, "
    "tell an admin the reference below."
)


def answer_errors(admin: Admin, auth: StaffAuthentication) -> None:
    """Every error the back office answers, on a page of the back office."""

    async def page(
        request: Request, status_code: int, message: str, headers: dict[str, str] | None = None
    ) -> Response:
        # A path no route matched never reached the sign-in check: find out who is
        # asking, so the menu they may use is there (not while the database is away).
        if current_user(request) is None and status_code != 503 and "session" in request.scope:
            try:
                await auth.authenticate(request)
            except Exception:  # an error page must not fail for want of a session
                logger.debug("no session for the error page of %s", request.url.path)
        context = {
            "status_code": status_code,
            "message": message,
            "title": HEADINGS.get(status_code, "That did not work"),
            "back": _list_back(admin, request),
            "reference": request.scope.get("state", {}).get("request_id"),
        }
        response: Response = await admin.templates.TemplateResponse(
            request, "sqladmin/error.html", context, status_code=status_code
        )
        response.headers.update(headers or {})
        if status_code == 503 and "retry-after" not in response.headers:
            response.headers["Retry-After"] = "30"
        return response

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        message = str(exc.detail)
        if message == HTTPStatus(exc.status_code).phrase:
            message = EXPLANATIONS.get(exc.status_code, message)
        return await page(request, exc.status_code, message, dict(exc.headers or {}))

    async def malformed(request: Request, exc: Exception) -> Response:
        # A hand-edited address (/admin/user/details/abc, ?author_id=x) makes SQLAdmin
        # raise while parsing it. A user's mistake: the access line says enough.
        logger.debug("malformed back-office request %s: %r", request.url.path, exc)
        return await page(request, 400, "That address has a value that is not valid here.")

    async def unavailable(request: Request, exc: Exception) -> Response:
        if bulk.is_missing_search_index(exc):
            return await page(request, 503, SEARCH_BEING_BUILT)
        logger.warning("back office: database unavailable: %s", getattr(exc, "orig", exc))
        return await page(request, 503, UNAVAILABLE)

    async def refused(request: Request, exc: Exception) -> Response:
        # A rule below the back office refused what was asked (a search of too many
        # words): the rule's own message, on a page with the layout.
        message = exc.message if isinstance(exc, InvalidInput) else str(exc)
        return await page(request, 422, message)

    async def server_error(request: Request, exc: Exception) -> Response:
        # Starlette re-raises the error after this answer: the observer logs it, once.
        try:
            return await page(request, 500, SERVER_ERROR)
        except Exception:
            logger.exception("the back office's error page failed too")
            return PlainTextResponse("Internal server error", status_code=500)

    admin.admin.add_exception_handler(HTTPException, http_error)
    admin.admin.add_exception_handler(InvalidInput, refused)
    # OverflowError: an id too large for SQLite's INTEGER.
    for kind in (ValueError, LookupError, OverflowError):
        admin.admin.add_exception_handler(kind, malformed)
    admin.admin.add_exception_handler(OperationalError, unavailable)
    admin.admin.add_exception_handler(Exception, server_error)


def _list_back(admin: Admin, request: Request) -> dict[str, str] | None:
    """The list the failed page belongs to, when its viewer may open it (and it was not
    the list itself that failed)."""
    relative = request.url.path.removeprefix(request.scope.get("root_path", ""))
    parts = relative.strip("/").split("/")
    identity = parts[0] if parts else ""
    view: Any = next(
        (v for v in admin.views if getattr(v, "identity", None) == identity),
        None,
    )
    if view is None or parts[1:] == ["list"]:
        return None
    try:
        if not (view.is_visible(request) and view.is_accessible(request)):
            return None
    except Exception:  # asking the policy needs a user; without one there is no list
        return None
    return {
        "url": str(request.url_for("admin:list", identity=identity).path),
        "name": str(view.name_plural),
    }
