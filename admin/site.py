"""Mounting the back office on the CMS application."""

import logging

from fastapi import FastAPI
from sqladmin import Admin
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from admin.auth import PolicyAuthorization, StaffAuthentication
from admin.views import ArticleAdmin, UserAdmin
from cms.config import Settings
from cms.db import Database

logger = logging.getLogger(__name__)

BASE_URL = "/admin"

# The back office runs only its own scripts (none inline); styles may be inline because
# its widgets (select2, flatpickr) set them.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def install_back_office(app: FastAPI) -> Admin:
    """Serve the back office at ``/admin`` with the app's own database and settings."""
    database: Database = app.state.database
    settings: Settings = app.state.settings
    admin = Admin(
        app,
        session_maker=database.sessionmaker,
        base_url=BASE_URL,
        title="CMS back office",
        authentication_backend=StaffAuthentication(database, settings),
        authorization_backend=PolicyAuthorization(),
    )
    app.state.content_security_policies.append((BASE_URL, CONTENT_SECURITY_POLICY))
    # The back office's own Starlette app carries them for its views (request.app there).
    admin.admin.state.database = database
    admin.admin.state.settings = settings
    admin.add_view(ArticleAdmin)
    admin.add_view(UserAdmin)
    _answer_malformed_addresses(admin)
    return admin


def _answer_malformed_addresses(admin: Admin) -> None:
    """A hand-edited address (``/admin/user/details/abc``, ``?status=zzz``) makes SQLAdmin
    raise ``ValueError``/``LookupError`` while parsing it; show a 400 page, not a 500."""
    render_http_error = admin.admin.exception_handlers[HTTPException]

    async def malformed(request: Request, exc: Exception) -> Response:
        logger.warning("malformed back-office request %s: %r", request.url.path, exc)
        response: Response = await render_http_error(
            request, HTTPException(400, "That address has a value that is not valid here.")
        )
        return response

    # OverflowError: an id too large for SQLite's INTEGER.
    for kind in (ValueError, LookupError, OverflowError):
        admin.admin.add_exception_handler(kind, malformed)
