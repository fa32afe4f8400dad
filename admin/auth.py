"""Who may use the back office (authentication) and what they may do there (authorization).

Both defer to :mod:`cms.auth.service` and :mod:`cms.permissions`, the same code the REST
API uses, so a rule changed there changes here too.
"""

from typing import Any

from anyio import to_thread
from sqladmin.authentication import AuthenticationBackend
from sqladmin.authorization import Action, AuthorizationBackend
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from cms import permissions
from cms.actors import Origin
from cms.auth.service import sign_in
from cms.config import Settings
from cms.db import Database, utcnow
from cms.errors import AuthenticationFailed, TooManyAttempts
from cms.users.models import User

SESSION_COOKIE = "cms_admin"
SESSION_MAX_AGE = 8 * 60 * 60  # one working day


def current_user(request: Request) -> User | None:
    """The staff user this back-office request is made by (set by ``authenticate``)."""
    user: User | None = getattr(request.state, "cms_user", None)
    return user


def admin_origin(request: Request) -> Origin:
    """The back office as the surface, with the request's address and id."""
    state = request.scope.get("state", {})
    return Origin(
        surface="admin", address=state.get("client_address"), request_id=state.get("request_id")
    )


def keep_signed_in(request: Request, user: User) -> None:
    """Re-issue this browser's session for ``user``'s current session version."""
    request.session.update({"user_id": user.id, "version": user.session_version})


class StaffAuthentication(AuthenticationBackend):
    """Password login for active editors and admins; a signed, stateless session cookie.

    The cookie carries the user's id and session version, so a password change,
    demotion or deactivation ends back-office sessions at once, as it does tokens.
    """

    def __init__(self, database: Database, settings: Settings) -> None:
        super().__init__(
            secret_key=settings.secret,
            session_cookie=SESSION_COOKIE,
            max_age=SESSION_MAX_AGE,
            same_site="lax",
            https_only=settings.environment == "production",
        )
        self.database = database
        self.settings = settings

    async def login(self, request: Request) -> Response | bool:
        form = await request.form()
        email, password = str(form.get("username", "")), str(form.get("password", ""))
        origin = admin_origin(request)
        identity = await to_thread.run_sync(self._check_credentials, email, password, origin)
        if identity is None:
            return False
        request.session.clear()
        request.session.update({"user_id": identity[0], "version": identity[1]})
        return True

    def _check_credentials(
        self, email: str, password: str, origin: Origin
    ) -> tuple[int, int] | None:
        try:
            user = sign_in(
                self.database, email=email, password=password, origin=origin, settings=self.settings
            )
        except AuthenticationFailed:
            return None
        except TooManyAttempts as exc:
            # The API's 429, on SQLAdmin's error page (which shows the detail only).
            raise HTTPException(
                status_code=429, detail=f"{exc.message} (in {exc.retry_after} seconds)."
            ) from None
        if not permissions.can_use_back_office(user):
            return None
        return user.id, user.session_version

    async def logout(self, request: Request) -> Response | bool:
        request.session.clear()
        return True

    async def authenticate(self, request: Request) -> Response | bool:
        user_id, version = request.session.get("user_id"), request.session.get("version")
        if not isinstance(user_id, int) or not isinstance(version, int):
            return False
        user = await to_thread.run_sync(self._load_user, user_id)
        if (
            user is None
            or user.session_version != version
            or not permissions.can_use_back_office(user)
        ):
            request.session.clear()
            return False
        request.state.cms_user = user
        return True

    def _load_user(self, user_id: int) -> User | None:
        with self.database.sessionmaker() as session:
            return session.get(User, user_id)


class PolicyAuthorization(AuthorizationBackend):
    """SQLAdmin's questions ("may this request do ``action`` on view ``identity``?")
    answered by :mod:`cms.permissions`. ``obj`` is the row, when there is one."""

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
        return False


def _user_permission(user: User | None, action: str, target: User | None) -> bool:
    if action in (Action.LIST, Action.EXPORT):
        return permissions.can_list_users(user)
    if action == Action.DETAILS:
        return target is None or permissions.can_view_user(user, target)
    if action == Action.CREATE:
        return permissions.can_create_user(user, allow_signup=False)
    if action == Action.EDIT:
        if target is None:
            return permissions.can_list_users(user)
        return permissions.can_edit_user(user, target, permissions.SELF_EDITABLE_USER_FIELDS)
    if action == Action.DELETE:
        if target is None:
            return permissions.is_admin(user)
        return permissions.can_delete_user(user, target)
    return False


def _article_permission(user: User | None, action: str, article: Any | None) -> bool:
    if action in (Action.LIST, Action.EXPORT):
        return permissions.is_staff(user)
    if action == Action.DETAILS:
        return article is None or permissions.can_view_article(user, article, utcnow())
    if action == Action.CREATE:
        return permissions.can_create_article(user)
    if action in (Action.EDIT, Action.DELETE):
        return article is None or permissions.can_edit_article(user, article)
    return False
