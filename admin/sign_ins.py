"""Where an account is signed in, and how: its sessions and passkeys on *Your account*
(and, for admins, on each user's page), with the buttons that end a session, every
other session, or remove a passkey. The rules are :mod:`cms.auth.staff_sessions` and
:mod:`cms.auth.passkeys`; these are their forms."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from anyio import to_thread
from sqladmin.authentication import login_required
from sqladmin.flash import Flash
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from admin.auth import current_user, keep_signed_in
from admin.views import AdminError
from cms import permissions
from cms.auth import passkeys, staff_sessions
from cms.db import Database
from cms.users.models import User

if TYPE_CHECKING:
    from admin.pages import Pages


async def sign_ins_context(request: Request, user_id: int) -> dict[str, Any]:
    """What the sessions and passkeys cards show for ``user_id``: empty for a viewer who
    may not see them."""
    if not permissions.can_manage_sign_ins(current_user(request), user_id):
        return {}
    database: Database = request.app.state.database
    token = request.session.get("sid")

    def read() -> dict[str, Any]:
        with database.reading() as session:
            return {
                "sessions": staff_sessions.signed_in(
                    session, user_id, token if isinstance(token, str) else None
                ),
                "passkeys": passkeys.passkeys_of(session, user_id),
            }

    return await to_thread.run_sync(read)


class SignInPages:
    """Ending sessions from the account page and from a user's page."""

    def __init__(self, pages: Pages) -> None:
        self.pages = pages
        self._admin_ref = pages.admin  # login_required looks for it on the endpoint's owner

    async def _run(self, request: Request, action: Any) -> Any:
        return await self.pages._view("user").run_as_actor(request, action)

    # Your own

    @login_required
    async def end_own(self, request: Request) -> Response:
        user = _signed_in(request)
        session_id = request.path_params["session_id"]
        token = request.session.get("sid")
        this_one = isinstance(token, str) and staff_sessions.session_id(token) == session_id
        try:
            await self._run(
                request, staff_sessions.EndSession(user_id=user.id, session_id=session_id)
            )
        except AdminError as exc:
            Flash.error(request, str(exc))
        else:
            if this_one:
                request.session.clear()
                return RedirectResponse(str(request.url_for("admin:login")), 303)
            Flash.success(request, "That session is signed out.")
        return RedirectResponse(str(request.url_for("admin:account")), 303)

    @login_required
    async def end_own_others(self, request: Request) -> Response:
        user = _signed_in(request)
        token = request.session.get("sid")
        action = staff_sessions.EndOtherSessions(
            user_id=user.id, keep=token if isinstance(token, str) else None
        )
        try:
            updated = await self._run(request, action)
        except AdminError as exc:
            Flash.error(request, str(exc))
        else:
            keep_signed_in(request, updated)
            Flash.success(
                request, "You are signed out everywhere else, and every API token of yours ended."
            )
        return RedirectResponse(str(request.url_for("admin:account")), 303)

    # Anyone's, for admins (the actions check the policy again)

    @login_required
    async def end_users(self, request: Request) -> Response:
        user_id = _admin_target(request)
        try:
            await self._run(
                request,
                staff_sessions.EndSession(
                    user_id=user_id, session_id=request.path_params["session_id"]
                ),
            )
        except AdminError as exc:
            Flash.error(request, str(exc))
        else:
            Flash.success(request, "That session is signed out.")
        return _to_user(request, user_id)

    @login_required
    async def end_users_all(self, request: Request) -> Response:
        user_id = _admin_target(request)
        me = _signed_in(request)
        token = request.session.get("sid")
        # An admin signing themselves out everywhere from their own user page keeps
        # this browser, as on their account page.
        keep = token if me.id == user_id and isinstance(token, str) else None
        try:
            updated = await self._run(
                request, staff_sessions.EndOtherSessions(user_id=user_id, keep=keep)
            )
        except AdminError as exc:
            Flash.error(request, str(exc))
        else:
            if keep is not None:
                keep_signed_in(request, updated)
            Flash.success(request, "Signed out everywhere, and every API token of theirs ended.")
        return _to_user(request, user_id)


def _signed_in(request: Request) -> User:
    user = current_user(request)
    if user is None:
        raise HTTPException(403)
    return user


def _admin_target(request: Request) -> int:
    pk = request.path_params["pk"]
    if not pk.isdigit():
        raise HTTPException(404)
    if not permissions.is_admin(current_user(request)):
        raise HTTPException(403, "Only admins end someone else's sessions.")
    return int(pk)


def _to_user(request: Request, user_id: int) -> Response:
    return RedirectResponse(str(request.url_for("admin:details", identity="user", pk=user_id)), 303)
