"""Mounting the back office on the CMS application."""

import logging
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from jinja2 import pass_context
from sqladmin import Admin
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from admin.accounts import AccountPages
from admin.audit import AuditAdmin, AuditPages
from admin.auth import PolicyAuthorization, StaffAuthentication, current_user
from admin.csrf import MAX_FORM_BYTES, csrf_token
from admin.editorial import EditorialPages
from admin.errors import answer_errors
from admin.integrations import IntegrationPages
from admin.links import render_with_paths
from admin.media import MediaPages
from admin.pages import Pages
from admin.passkeys import PasskeyPages
from admin.previews import PreviewPages
from admin.sign_ins import SignInPages
from admin.site_settings import SiteSettingsPages
from admin.tags import TagAdmin, TagSuggestions
from admin.trash import TrashAdmin
from admin.two_factor import TwoFactorPages
from admin.views import AdminError, ArticleAdmin, UserAdmin
from cms.config import Settings
from cms.db import Database, utcnow

logger = logging.getLogger(__name__)

BASE_URL = "/admin"
# Served by the API application beside /favicon.ico (cms.app).
FAVICON_URL = "/favicon.svg"
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
        # Its pages read with every SELECT bounded by the read time limit.
        session_maker=database.read_sessionmaker,
        base_url=BASE_URL,
        title="CMS back office",
        favicon_url=FAVICON_URL,
        templates_dir=str(HERE / "templates"),
        authentication_backend=auth,
        authorization_backend=PolicyAuthorization(),
    )
    # The back office's own Starlette app carries them for its views (request.app there).
    admin.admin.state.database = database
    admin.admin.state.settings = settings
    for view in (ArticleAdmin, TagAdmin, UserAdmin, TrashAdmin, AuditAdmin):
        # SQLAdmin configures the class it is given (its session factory, templates):
        # each application gets subclasses of its own, so two apps in one process (as in
        # the tests) never share a database by accident.
        admin.add_view(type(view.__name__, (view,), {}))
    pages = Pages(admin, auth)
    _add_pages(admin, pages)
    app.state.back_office = admin
    media = MediaPages(pages, database, app.state.media)
    admin.admin.router.routes[0:0] = media.routes()
    admin.admin.router.routes[0:0] = SiteSettingsPages(pages, database).routes()
    _template_helpers(admin)
    answer_errors(admin, auth)
    render_with_paths(admin)
    admin.admin.add_middleware(NoStoreMiddleware)
    _log_user_mistakes_as_one_line()
    return admin


# Files the same for everyone (scripts, styles): the only back-office answers a cache may keep.
STATIC_PREFIXES = ("/statics/", "/cms-statics/")


class NoStoreMiddleware:
    """``Cache-Control: no-store`` on every back-office answer (pages, exports, ajax,
    errors, redirects) but its static files: they show one signed-in person's view, and
    no browser history, shared cache or proxy may keep a copy."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        inside = scope["path"].removeprefix(scope.get("root_path", ""))
        if inside.startswith(STATIC_PREFIXES):
            await self.app(scope, receive, send)
            return

        async def send_no_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Cache-Control"] = "no-store"
                headers.setdefault("Pragma", "no-cache")
            await send(message)

        await self.app(scope, receive, send_no_store)


def _add_pages(admin: Admin, pages: Pages) -> None:
    """Our pages first; SQLAdmin's login, logout and export are replaced by ours."""
    replaced = {"login", "logout", "export", "index"}
    editorial = EditorialPages(pages)
    trail = AuditPages(pages)
    tags = TagSuggestions(pages)
    integrations = IntegrationPages(pages)
    previews = PreviewPages(pages)
    two_factor = TwoFactorPages(pages)
    links = AccountPages(pages)
    ours: list[BaseRoute] = [
        Route("/", editorial.dashboard, methods=["GET"], name="index"),
        Route("/article/preview", editorial.preview, methods=["POST"], name="preview"),
        Route("/tag/suggest", tags.suggest, methods=["GET"], name="tag-suggestions"),
        Route("/article/{pk}/history", editorial.history, methods=["GET"], name="history"),
        Route("/article/{pk}/history/{number}", editorial.compare, methods=["GET"], name="compare"),
        Route(
            "/article/{pk}/history/{number}/restore",
            editorial.restore,
            methods=["POST"],
            name="restore",
        ),
        Route("/article/{pk}/previews", previews.links, methods=["GET"], name="preview-links"),
        Route(
            "/article/{pk}/previews",
            previews.share,
            methods=["POST"],
            name="preview-link-share",
        ),
        Route(
            "/article/{pk}/previews/{link_id}/revoke",
            previews.revoke,
            methods=["POST"],
            name="preview-link-revoke",
        ),
        Route("/audit-entry/{pk}/diff", trail.body_diff, methods=["GET"], name="audit-diff"),
        Mount("/cms-statics", app=StaticFiles(directory=HERE / "statics"), name="cms-statics"),
        Route("/login", pages.login, methods=["GET", "POST"], name="login"),
        Route("/logout", pages.logout, methods=["GET", "POST"], name="logout"),
        Route("/account", pages.account, methods=["GET", "POST"], name="account"),
        Route("/account/password", pages.change_password, methods=["POST"], name="password"),
        *_two_factor_routes(two_factor),
        *_integration_routes(integrations),
        *_sign_in_routes(PasskeyPages(pages), SignInPages(pages)),
        *_account_link_routes(links),
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


def _two_factor_routes(pages: TwoFactorPages) -> list[BaseRoute]:
    mine = "/account/two-factor"
    return [
        Route("/login/code", pages.login_code, methods=["GET", "POST"], name="login-code"),
        Route("/login/enrol", pages.login_enrol, methods=["GET", "POST"], name="login-enrol"),
        Route(mine, pages.setup_page, methods=["GET"], name="two-factor"),
        Route(f"{mine}/begin", pages.begin, methods=["POST"], name="two-factor-begin"),
        Route(f"{mine}/confirm", pages.confirm, methods=["POST"], name="two-factor-confirm"),
        Route(f"{mine}/disable", pages.disable, methods=["POST"], name="two-factor-disable"),
        Route(f"{mine}/recovery-codes", pages.regenerate, methods=["POST"], name="recovery-codes"),
        Route("/two-factor", pages.policy, methods=["GET", "POST"], name="two-factor-policy"),
        Route("/two-factor/user/{pk}", pages.user_page, methods=["GET"], name="two-factor-user"),
        Route(
            "/two-factor/user/{pk}/reset", pages.reset, methods=["POST"], name="two-factor-reset"
        ),
    ]


def _integration_routes(pages: IntegrationPages) -> list[BaseRoute]:
    hooks = "/integrations/webhooks"
    keys = "/integrations/apikeys"
    return [
        Route(hooks, pages.endpoints, methods=["GET"], name="webhooks"),
        Route(f"{hooks}/add", pages.add_endpoint, methods=["POST"], name="webhook_add"),
        Route(f"{hooks}/{{endpoint_id}}", pages.endpoint, methods=["GET"], name="webhook"),
        Route(f"{hooks}/{{endpoint_id}}/ping", pages.ping, methods=["POST"], name="webhook_ping"),
        Route(
            f"{hooks}/{{endpoint_id}}/remove",
            pages.remove_endpoint,
            methods=["POST"],
            name="webhook_remove",
        ),
        Route(
            f"{hooks}/{{endpoint_id}}/deliveries/{{delivery_id}}/redeliver",
            pages.redeliver,
            methods=["POST"],
            name="webhook_redeliver",
        ),
        Route(keys, pages.keys, methods=["GET"], name="apikeys"),
        Route(f"{keys}/create", pages.create_key, methods=["POST"], name="apikey_create"),
        Route(
            f"{keys}/{{key_id}}/revoke", pages.revoke_key, methods=["POST"], name="apikey_revoke"
        ),
        Route(
            f"{keys}/{{key_id}}/rotate", pages.rotate_key, methods=["POST"], name="apikey_rotate"
        ),
    ]


def _sign_in_routes(passkeys: PasskeyPages, sign_ins: SignInPages) -> list[BaseRoute]:
    mine = "/account/sessions"
    theirs = "/user/{pk}/sessions"
    return [
        Route(
            "/login/passkey/options",
            passkeys.sign_in_options,
            methods=["POST"],
            name="passkey_sign_in_options",
        ),
        Route("/login/passkey", passkeys.sign_in, methods=["POST"], name="passkey_sign_in"),
        Route(
            "/account/passkeys/options",
            passkeys.registration_options,
            methods=["POST"],
            name="passkey_options",
        ),
        Route("/account/passkeys", passkeys.register, methods=["POST"], name="passkey_add"),
        Route(
            "/account/passkeys/{passkey_id}/remove",
            passkeys.remove,
            methods=["POST"],
            name="passkey_remove",
        ),
        Route(
            f"{mine}/others/end",
            sign_ins.end_own_others,
            methods=["POST"],
            name="sessions_end_others",
        ),
        Route(f"{mine}/{{session_id}}/end", sign_ins.end_own, methods=["POST"], name="session_end"),
        Route(f"{theirs}/end", sign_ins.end_users_all, methods=["POST"], name="user_sessions_end"),
        Route(
            f"{theirs}/{{session_id}}/end",
            sign_ins.end_users,
            methods=["POST"],
            name="user_session_end",
        ),
    ]


def _account_link_routes(pages: AccountPages) -> list[BaseRoute]:
    """Password reset, invitations and email changes (the pages mailed links open)."""
    return [
        Route("/password-reset", pages.forgot, methods=["GET", "POST"], name="password_reset"),
        Route(
            "/password-reset/confirm",
            pages.reset,
            methods=["GET", "POST"],
            name="password_reset_confirm",
        ),
        Route("/invitations", pages.invitations, methods=["GET"], name="invitations"),
        Route("/invitations/add", pages.invite, methods=["POST"], name="invite"),
        Route(
            "/invitations/revoke",
            pages.revoke_invitation,
            methods=["POST"],
            name="invitation_revoke",
        ),
        Route("/invitation", pages.accept, methods=["GET", "POST"], name="invitation_accept"),
        Route("/account/email", pages.change_email, methods=["POST"], name="email_change"),
        Route(
            "/account/email/confirm",
            pages.confirm_email,
            methods=["GET", "POST"],
            name="email_change_confirm",
        ),
    ]


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
