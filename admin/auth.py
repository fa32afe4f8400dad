"""Who may use the back office (authentication) and what they may do there (authorization).

Both defer to :mod:`cms.auth` and :mod:`cms.permissions`, the code the REST API uses, so
a rule changed there changes here too. Sessions live server-side
(:mod:`cms.auth.staff_sessions`); the browser's cookie is signed, HttpOnly, ``Secure`` in
production, expires with the session, and carries only the session's random token, the
user's id and session version, and the CSRF token; between a right password and the
second factor, only a :class:`PendingSignIn` (no session yet).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from anyio import to_thread
from sqladmin.authentication import AuthenticationBackend
from sqladmin.authorization import Action, AuthorizationBackend
from sqlalchemy import ColumnElement, false, true
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from admin.csrf import CSRFMiddleware, rotate_csrf_token
from cms import permissions
from cms.actors import Origin
from cms.articles.models import Article, Tag, TrashedArticle
from cms.audit.models import AuditEntry
from cms.auth import staff_sessions
from cms.auth.service import sign_in
from cms.config import Settings
from cms.db import Database
from cms.errors import AuthenticationFailed, TooManyAttempts
from cms.replicas import ROUTE, is_valid_position
from cms.twofactor import service as twofactor
from cms.users.models import User

SESSION_COOKIE = "cms_admin"
# In production the cookie is Secure and "__Host-" prefixed: browsers then refuse one set
# by a subdomain or over plain HTTP, and send it over HTTPS only. (No cookie is isolated
# by port: serve the back office on a hostname no other service answers on.)
PRODUCTION_SESSION_COOKIE = "__Host-cms_admin"
NOT_ALLOWED = "This account may not use the back office."
UNAVAILABLE = "The site is temporarily unavailable. Try again in a minute."
# The session's key for the GTID of this browser's last write (with replicas).
POSITION_KEY = "gtid"


def current_user(request: Request) -> User | None:
    """The user this back-office request is made by (set by ``authenticate``)."""
    user: User | None = getattr(request.state, "cms_user", None)
    return user


def admin_origin(request: Request) -> Origin:
    """The back office as the surface, with the request's address and id."""
    state = request.scope.get("state", {})
    return Origin(
        surface="admin", address=state.get("client_address"), request_id=state.get("request_id")
    )


def keep_signed_in(request: Request, user: User) -> None:
    """Let this browser's session follow ``user``'s new session version (after they
    changed their own password here, which ends every *other* session)."""
    request.session["version"] = user.session_version


# The state between a right password and the second factor, in the signed session cookie.
PENDING_KEY = "second_factor"
PENDING_LIFETIME_SECONDS = 300
# Codes one pending sign-in may try before the password is asked again (the database
# throttle bounds guesses across cookies: an old copy of this one starts at 0 again).
PENDING_ATTEMPTS = 5


@dataclass(frozen=True)
class PendingSignIn:
    """A browser whose password was right, owing a second factor: a ``code`` (TOTP or
    recovery), its ``passkey`` (the policy requires a second factor, and the user's is a
    passkey), or, where the policy requires one it has not got, ``enrol``-ment first."""

    user_id: int
    session_version: int
    step: Literal["code", "passkey", "enrol"]
    expires_at: float
    attempts: int


def begin_second_factor(
    request: Request, user: User, step: Literal["code", "passkey", "enrol"]
) -> None:
    """Remember that ``user`` gave the right password and owes ``step``, for
    :data:`PENDING_LIFETIME_SECONDS`; this browser is signed in to nothing meanwhile."""
    request.session.clear()
    rotate_csrf_token(request)
    request.session[PENDING_KEY] = {
        "user": user.id,
        "version": user.session_version,
        "step": step,
        "until": time.time() + PENDING_LIFETIME_SECONDS,
        "tries": 0,
    }


def pending_second_factor(request: Request) -> PendingSignIn | None:
    """This browser's pending sign-in, unless it expired, used its attempts or was
    tampered with (the cookie's signature covers it; anything malformed is dropped)."""
    held = request.session.get(PENDING_KEY)
    if not isinstance(held, dict):
        return None
    try:
        pending = PendingSignIn(
            user_id=int(held["user"]),
            session_version=int(held["version"]),
            step=held["step"],
            expires_at=float(held["until"]),
            attempts=int(held["tries"]),
        )
    except (KeyError, TypeError, ValueError):
        pending = None
    if (
        pending is None
        or pending.step not in ("code", "passkey", "enrol")
        or pending.expires_at <= time.time()
        or pending.attempts >= PENDING_ATTEMPTS
    ):
        request.session.pop(PENDING_KEY, None)
        return None
    return pending


def count_second_factor_attempt(request: Request) -> int:
    """One more code tried by this pending sign-in; returns how many are left."""
    held = request.session.get(PENDING_KEY)
    if not isinstance(held, dict):
        return 0
    tries = int(held.get("tries", 0)) + 1
    request.session[PENDING_KEY] = {**held, "tries": tries}
    return max(0, PENDING_ATTEMPTS - tries)


def pending_user(database: Database, pending: PendingSignIn) -> User | None:
    """The user of a pending sign-in, if their credentials are still those it began with
    and they may still use the back office."""
    with database.reading() as session:
        user = session.get(User, pending.user_id)
        if user is not None:
            session.expunge(user)
    if (
        user is None
        or user.session_version != pending.session_version
        or not permissions.can_use_back_office(user)
    ):
        return None
    return user


async def establish_session(request: Request, user: User) -> None:
    """Start ``user``'s back-office session in this browser: the one step every way of
    signing in ends with (password alone, password and code, a passkey). Call it only
    once every factor the account needs has been checked."""
    database: Database = request.app.state.database
    origin = admin_origin(request)
    user_agent = request.headers.get("user-agent", "")
    token = await to_thread.run_sync(
        lambda: database.run(
            lambda uow: staff_sessions.start(uow, user=user, origin=origin, user_agent=user_agent),
            origin=origin,
        )
    )
    # A fresh session: nothing from before sign-in (an attacker-planted cookie, an
    # old CSRF token, a pending second factor) carries over.
    request.session.clear()
    rotate_csrf_token(request)
    request.session.update({"sid": token, "user_id": user.id, "version": user.session_version})


class RememberWrites:
    """Keep the GTID of the request's last commit (:class:`cms.replicas.ReadRoute`) in
    the signed session, so that this browser's next pages read what it wrote even from
    a replica (installed only when there are replicas)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def remember(message: Message) -> None:
            route = ROUTE.get()
            if message["type"] == "http.response.start" and route is not None:
                session = scope.get("session")
                # Not into a session that was just ended (logging out).
                if route.written is not None and session:
                    session[POSITION_KEY] = route.written
            await send(message)

        await self.app(scope, receive, remember)


class LoginRefused(Exception):
    """Credentials were right but the account may not use the back office."""


class StaffAuthentication(AuthenticationBackend):
    """Password login for every account the policy lets in (authors to their own
    articles), with server-side sessions."""

    def __init__(self, database: Database, settings: Settings) -> None:
        super().__init__(secret_key=settings.secret)
        production = settings.environment == "production"
        self.middlewares = [
            Middleware(
                SessionMiddleware,
                secret_key=settings.secret,
                session_cookie=PRODUCTION_SESSION_COOKIE if production else SESSION_COOKIE,
                max_age=int(staff_sessions.LIFETIME.total_seconds()),
                # "__Host-" cookies must have Path=/.
                path="/" if production else "/admin",
                same_site="lax",
                https_only=production,
            ),
            Middleware(CSRFMiddleware),
        ]
        if database.replicas is not None:
            # Inside the session: a commit's position goes into the cookie it signs.
            self.middlewares.append(Middleware(RememberWrites))
        self.database = database
        self.settings = settings

    async def login(self, request: Request) -> Response | bool:
        """The password step. ``True`` once signed in; a redirect to the second step when
        the account has (or, by the site's policy, must set up) a second factor: the
        session starts only after it (:func:`establish_session`)."""
        form = await request.form()
        email, password = str(form.get("username", "")), str(form.get("password", ""))
        origin = admin_origin(request)
        try:
            checked = await to_thread.run_sync(self._sign_in, email, password, origin)
        except LoginRefused:
            request.state.login_error = NOT_ALLOWED
            return False
        if checked is None:
            return False
        user, step = checked
        if step in ("code", "passkey"):
            # A passkey owed is asked for on the same page, which then offers only it.
            begin_second_factor(request, user, step)
            return RedirectResponse(str(request.url_for("admin:login-code")), status_code=302)
        if step == "enrol":
            # The seed is made here, on the POST: the enrolment page only shows it.
            site_key = self.settings.secret
            await to_thread.run_sync(
                lambda: self.database.run(
                    twofactor.BeginEnrolment(site_key=site_key, keep_open=True),
                    actor=user,
                    origin=origin,
                )
            )
            begin_second_factor(request, user, "enrol")
            return RedirectResponse(str(request.url_for("admin:login-enrol")), status_code=302)
        await establish_session(request, user)
        return True

    def _sign_in(
        self, email: str, password: str, origin: Origin
    ) -> tuple[User, twofactor.NextStep | None] | None:
        try:
            user = sign_in(
                self.database, email=email, password=password, origin=origin, settings=self.settings
            )
        except AuthenticationFailed:
            return None
        except TooManyAttempts as exc:
            # The API's 429, on the back office's error page.
            raise HTTPException(
                status_code=429, detail=f"{exc.message} (in {exc.retry_after} seconds)."
            ) from None
        if not permissions.can_use_back_office(user):
            raise LoginRefused
        with self.database.reading() as session:
            step = twofactor.next_step(session, user)
        return user, step

    async def logout(self, request: Request) -> Response | bool:
        token = request.session.get("sid")
        if isinstance(token, str):
            origin = admin_origin(request)
            await to_thread.run_sync(
                lambda: self.database.run(
                    lambda uow: staff_sessions.end(uow, token),
                    # Signing out is recorded as done by whoever the session was for.
                    actor=lambda session: staff_sessions.owner(session, token),
                    origin=origin,
                )
            )
        request.session.clear()
        return False  # SQLAdmin then sends the browser to the login page

    async def authenticate(self, request: Request) -> Response | bool:
        token, version = request.session.get("sid"), request.session.get("version")
        if not isinstance(token, str) or not isinstance(version, int):
            return False
        try:
            found = await to_thread.run_sync(self._resolve, token, version)
        except OperationalError:
            raise HTTPException(status_code=503, detail=UNAVAILABLE) from None
        if found is None:
            request.session.clear()
            return False
        request.state.cms_user = found
        route = ROUTE.get()
        position = request.session.get(POSITION_KEY)
        if route is not None and is_valid_position(position):
            # This browser's own last write: its pages wait for a replica to have it.
            route.after = position
        return True

    def _resolve(self, token: str, version: int) -> User | None:
        # On the primary: a session ended elsewhere ends here at once.
        with self.database.reading(primary=True) as session:
            resolved = staff_sessions.resolve(session, token, version)
        if resolved is None:
            return None
        user, last_seen_at = resolved
        if staff_sessions.needs_touch(last_seen_at):
            self.database.run(lambda uow: staff_sessions.touch(uow, token))
        return user

    async def get_user_id(self, request: Request) -> Any:
        user = current_user(request)
        return None if user is None else user.id


class PolicyAuthorization(AuthorizationBackend):
    """SQLAdmin's questions ("may this request do ``action`` on view ``identity``?")
    answered by :mod:`cms.permissions`. ``obj`` is the row, when there is one.

    The twin question, *which rows* a view shows this request, is :func:`visible_rows`:
    every route that reads a view's rows (list, details, edit, export, row actions,
    history, lookups, the dashboard) filters with it, so a row the policy hides is
    missing everywhere at once."""

    def has_permission(
        self, request: Request, identity: str, action: str, obj: Any | None = None
    ) -> bool:
        user = current_user(request)
        if not permissions.can_use_back_office(user):
            return False
        if identity == "user":
            return _user_permission(user, action, obj)
        if identity == "article":
            return _article_permission(user, action, obj)
        if identity == "audit-entry":
            # The trail is read, never written, here.
            return action in (Action.LIST, Action.DETAILS, Action.EXPORT) and (
                permissions.can_read_audit(user)
            )
        if identity == "tag":
            return action in (Action.LIST, Action.DETAILS, Action.EDIT, "merge", "delete") and (
                permissions.can_manage_tags(user)
            )
        if identity == "trashed-article":
            return _trash_permission(user, action, obj)
        return False


def _all_or_none(
    allowed: Callable[[User | None], bool],
) -> Callable[[User | None], ColumnElement[bool]]:
    """Every row for whoever ``allowed`` admits, none for anyone else."""
    return lambda user: true() if allowed(user) else false()


# Which rows of each model the back office shows: the SQL twins of the answers above.
_ROWS: dict[type[Any], Callable[[User | None], ColumnElement[bool]]] = {
    Article: permissions.editable_articles,
    User: permissions.visible_users,
    AuditEntry: _all_or_none(permissions.can_read_audit),
    TrashedArticle: permissions.visible_trash,
    # Tags are public; the Tags view is for those who may manage them.
    Tag: _all_or_none(permissions.can_manage_tags),
}


def visible_rows(request: Request, model: type[Any]) -> ColumnElement[bool]:
    """The rows of ``model`` this back-office request may see (none of a model the
    policy does not name)."""
    user = current_user(request)
    rows = _ROWS.get(model)
    if rows is None or not permissions.can_use_back_office(user):
        return false()
    return rows(user)


def _trash_permission(user: User | None, action: str, trashed: Any | None) -> bool:
    # The list holds only what the viewer may restore (permissions.visible_trash).
    if action in (Action.LIST, Action.DETAILS, "restore"):
        return trashed is None or permissions.can_restore_from_trash(user, trashed)
    if action == "purge":
        return permissions.can_purge_trash(user)
    return False


def _user_permission(user: User | None, action: str, target: User | None) -> bool:
    if action in (Action.LIST, Action.EXPORT):
        return permissions.can_list_users(user)
    if action == Action.DETAILS:
        # Everyone else has their account page, not the user list.
        return permissions.can_list_users(user) and (
            target is None or permissions.can_view_user(user, target)
        )
    if action == Action.CREATE:
        return permissions.can_create_user(user, allow_signup=False)
    if action in (Action.EDIT, Action.DELETE):
        # Staff change their own name and password on their account page; here only
        # admins edit or delete anyone.
        return permissions.is_admin(user)
    return False


def _article_permission(user: User | None, action: str, article: Any | None) -> bool:
    if action in (Action.LIST, Action.DETAILS, Action.EXPORT):
        # Of the rows visible_rows lets through: an author's own, everyone's for staff.
        return permissions.can_create_article(user)
    if action == Action.CREATE:
        return permissions.can_create_article(user)
    if action == "share_preview":
        return article is not None and permissions.can_share_preview(user, article)
    if action in (Action.EDIT, Action.DELETE, "publish", "unpublish"):
        if article is None:  # "to some article": the buttons that lead to the rows
            return permissions.can_create_article(user)
        return permissions.can_edit_article(user, article)
    return False
