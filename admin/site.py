"""Mounting the back office on the CMS application."""

import logging
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from jinja2 import pass_context
from sqladmin import Admin
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from admin.auth import UNAVAILABLE, PolicyAuthorization, StaffAuthentication, current_user
from admin.csrf import MAX_FORM_BYTES, csrf_token
from admin.editorial import EditorialPages
from admin.media import MediaPages
from admin.pages import Pages
from admin.views import AdminError, ArticleAdmin, AuditAdmin, TrashAdmin, UserAdmin
from cms.config import Settings
from cms.db import Database, utcnow

logger = logging.getLogger(__name__)

BASE_URL = "/admin"
HERE = Path(__file__).parent
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
    app.state.content_security_policies.append((BASE_URL, CONTENT_SECURITY_POLICY))
    auth = StaffAuthentication(database, settings)
    admin = Admin(
        app,
        session_maker=database.sessionmaker,
        base_url=BASE_URL,
        title="CMS back office",
        templates_dir=str(HERE / "templates"),
        authentication_backend=auth,
        authorization_backend=PolicyAuthorization(),
    )
    # The back office's own Starlette app carries them for its views (request.app there).
    admin.admin.state.database = database
    admin.admin.state.settings = settings
    for view in (ArticleAdmin, UserAdmin, TrashAdmin, AuditAdmin):
        # SQLAdmin configures the class it is given (its session factory, templates):
        # each application gets subclasses of its own, so two apps in one process (as in
        # the tests) never share a database by accident.
        admin.add_view(type(view.__name__, (view,), {}))
    pages = Pages(admin, auth)
    _add_pages(admin, pages)
    media = MediaPages(pages, database, app.state.media)
    admin.admin.router.routes[0:0] = media.routes()
    _template_helpers(admin)
    _answer_errors(admin)
    _log_user_mistakes_as_one_line()
    return admin


def _add_pages(admin: Admin, pages: Pages) -> None:
    """Our pages first; SQLAdmin's login, logout and export are replaced by ours."""
    replaced = {"login", "logout", "export", "index"}
    editorial = EditorialPages(pages)
    ours: list[BaseRoute] = [
        Route("/", editorial.dashboard, methods=["GET"], name="index"),
        Route("/article/preview", editorial.preview, methods=["POST"], name="preview"),
        Route("/article/{pk}/history", editorial.history, methods=["GET"], name="history"),
        Route("/article/{pk}/history/{number}", editorial.compare, methods=["GET"], name="compare"),
        Route(
            "/article/{pk}/history/{number}/restore",
            editorial.restore,
            methods=["POST"],
            name="restore",
        ),
        Mount("/cms-statics", app=StaticFiles(directory=HERE / "statics"), name="cms-statics"),
        Route("/login", pages.login, methods=["GET", "POST"], name="login"),
        Route("/logout", pages.logout, methods=["GET", "POST"], name="logout"),
        Route("/account", pages.account, methods=["GET", "POST"], name="account"),
        Route("/account/password", pages.change_password, methods=["POST"], name="password"),
        Route("/{identity}/export/{export_type}", pages.export, methods=["GET"], name="export"),
        Route("/{identity}/confirm", pages.confirm, methods=["GET"], name="confirm"),
        Route("/{identity}/act/{action}", pages.act, methods=["POST"], name="act"),
    ]
    kept = [
        _with_room_for_a_body(route)
        for route in admin.admin.router.routes
        if getattr(route, "name", None) not in replaced
    ]
    admin.admin.router.routes = ours + kept


def _with_room_for_a_body(route: BaseRoute) -> BaseRoute:
    """SQLAdmin's create and edit pages, parsing their form with room for a whole body.

    Starlette refuses a form field over 1 MiB; a body at its 1 MiB limit arrives larger
    (a browser sends each line break as two bytes). A request keeps the form it parsed
    first, so parsing it here first, with the back office's own bound, is enough."""
    if not isinstance(route, Route) or route.name not in ("create", "edit"):
        return route
    endpoint = route.endpoint

    async def parse_then_answer(request: Request) -> Response:
        if request.method == "POST":
            await request.form(max_part_size=MAX_FORM_BYTES)
        response: Response = await endpoint(request)
        return response

    return Route(route.path, parse_then_answer, methods=route.methods, name=route.name)


def _template_helpers(admin: Admin) -> None:
    env = admin.templates.env
    env.globals["csrf_token"] = csrf_token
    env.globals["current_user"] = current_user
    env.globals["now"] = utcnow
    # Links in pages are paths: never built from whatever Host header a request carried.
    env.globals["url_for"] = _path_for


@pass_context
def _path_for(context: Any, name: str, /, **path_params: Any) -> str:
    request: Request = context["request"]
    return str(request.url_for(name, **path_params).path)


def _answer_errors(admin: Admin) -> None:
    """Readable pages instead of bare 500s."""
    render_http_error = admin.admin.exception_handlers[HTTPException]

    async def malformed(request: Request, exc: Exception) -> Response:
        # A hand-edited address (/admin/user/details/abc, ?author_id=x) makes SQLAdmin
        # raise while parsing it. A user's mistake: the access line says enough.
        logger.debug("malformed back-office request %s: %r", request.url.path, exc)
        response: Response = await render_http_error(
            request, HTTPException(400, "That address has a value that is not valid here.")
        )
        return response

    async def unavailable(request: Request, exc: Exception) -> Response:
        logger.warning("back office: database unavailable: %s", getattr(exc, "orig", exc))
        response: Response = await render_http_error(request, HTTPException(503, UNAVAILABLE))
        response.headers["Retry-After"] = "30"
        return response

    # OverflowError: an id too large for SQLite's INTEGER.
    for kind in (ValueError, LookupError, OverflowError):
        admin.admin.add_exception_handler(kind, malformed)
    admin.admin.add_exception_handler(OperationalError, unavailable)


class _UserMistakes(logging.Filter):
    """SQLAdmin logs every refused save with ``logger.exception``: two tracebacks for a
    blank title. A user's mistake is not a server error: the request's access line is its
    one line; the reason shows at DEBUG, without a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], AdminError):
            record.msg = "back office refused a change: %s"
            record.args = (str(record.exc_info[1]),)
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            # Logged at ERROR, it passed the logger's level; as DEBUG it must pass again.
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


def _log_user_mistakes_as_one_line() -> None:
    sqladmin_logger = logging.getLogger("sqladmin.application")
    if not any(isinstance(f, _UserMistakes) for f in sqladmin_logger.filters):
        sqladmin_logger.addFilter(_UserMistakes())
