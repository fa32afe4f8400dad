"""Passkeys in the back office: registering them on *Your account* and signing in with
one instead of a password (``statics/passkeys.js`` drives the browser's side).

Each ceremony is two requests from the page's script, both POSTs carrying the CSRF
header: the options (a fresh challenge, also kept in this browser's signed session) and
the browser's answer, verified by :mod:`cms.auth.passkeys`. The session's copy is taken
out before anything is checked, and the database's copy is deleted, so an answer is
accepted once, from this browser, within five minutes.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from anyio import to_thread
from sqladmin.authentication import login_required
from sqladmin.flash import Flash
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from admin.auth import NOT_ALLOWED, UNAVAILABLE, admin_origin, current_user, establish_session
from admin.views import AdminError
from cms import permissions
from cms.auth import passkeys
from cms.config import Settings
from cms.db import Database
from cms.errors import DomainError, TooManyAttempts
from cms.users.models import User

if TYPE_CHECKING:
    from admin.pages import Pages

# Where this browser's pending ceremony waits in its session.
SESSION_KEY = "passkey_ceremony"


def page_origin(request: Request) -> str:
    """The origin this back-office page was served from, as the browser names it."""
    return f"{request.url.scheme}://{request.url.netloc}"


def relying_party(request: Request, title: str) -> passkeys.RelyingParty:
    """Whom this back office makes passkeys for (``title``: the name authenticators show)."""
    settings: Settings = request.app.state.settings
    return passkeys.relying_party(settings, page_origin(request), title)


def _keep(request: Request, ceremony: passkeys.Ceremony, purpose: str) -> None:
    expires = time.time() + passkeys.CHALLENGE_LIFETIME.total_seconds()
    request.session[SESSION_KEY] = {
        "challenge": ceremony.challenge,
        "purpose": purpose,
        "expires": expires,
    }


def _take(request: Request, purpose: str) -> str | None:
    """This browser's pending challenge for ``purpose`` (gone from the session either
    way: a second answer finds none)."""
    kept = request.session.pop(SESSION_KEY, None)
    if not isinstance(kept, dict) or kept.get("purpose") != purpose:
        return None
    challenge, expires = kept.get("challenge"), kept.get("expires")
    if not isinstance(challenge, str) or not isinstance(expires, int | float):
        return None
    return challenge if expires > time.time() else None


async def _answer(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("credential"), dict):
        raise _Refused("The browser sent no passkey answer; try again.")
    return body


class _Refused(Exception):
    """A request the page's script should show as a message (400)."""


def _refused(message: str, status_code: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status_code)


class PasskeyPages:
    """The passkey endpoints, bound to the back office's pages."""

    def __init__(self, pages: Pages) -> None:
        self.pages = pages
        self._admin_ref = pages.admin  # login_required looks for it on the endpoint's owner

    def _relying_party(self, request: Request) -> passkeys.RelyingParty | Response:
        try:
            return relying_party(request, self.pages.admin.title)
        except DomainError as exc:
            return _refused(exc.message)

    def _database(self, request: Request) -> Database:
        database: Database = request.app.state.database
        return database

    # Registering, on the account page

    @login_required
    async def registration_options(self, request: Request) -> Response:
        """The options for a new passkey, once the current password is confirmed."""
        user = _signed_in(request)
        rp = self._relying_party(request)
        if isinstance(rp, Response):
            return rp
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            body = None
        password = body.get("password") if isinstance(body, dict) else None
        if not isinstance(password, str) or not password:
            return _refused("Enter your current password to add a passkey.")
        database = self._database(request)
        settings: Settings = request.app.state.settings
        origin = admin_origin(request)
        try:
            await to_thread.run_sync(
                lambda: passkeys.confirm_password(
                    database, user_id=user.id, password=password, origin=origin, settings=settings
                )
            )
        except TooManyAttempts as exc:
            return _refused(f"{exc.message} (in {exc.retry_after} seconds).", 429)
        except DomainError as exc:
            return _refused(exc.message)
        except OperationalError:
            return _refused(UNAVAILABLE, 503)
        secret = settings.secret
        try:
            ceremony = await self.pages._view("user").run_as_actor(
                request, passkeys.BeginRegistration(rp=rp, secret=secret)
            )
        except AdminError as exc:
            return _refused(str(exc))
        _keep(request, ceremony, passkeys.REGISTER)
        return Response(ceremony.options, media_type="application/json")

    @login_required
    async def register(self, request: Request) -> Response:
        user = _signed_in(request)
        challenge = _take(request, passkeys.REGISTER)
        try:
            body = await _answer(request)
        except _Refused as exc:
            return _refused(str(exc))
        rp = self._relying_party(request)
        if isinstance(rp, Response):
            return rp
        database = self._database(request)
        origin = admin_origin(request)
        try:
            taken = challenge is not None and await to_thread.run_sync(
                lambda: passkeys.take_challenge(
                    database, challenge, purpose=passkeys.REGISTER, user_id=user.id, origin=origin
                )
            )
        except OperationalError:
            return _refused(UNAVAILABLE, 503)
        if not taken or challenge is None:
            return _refused(passkeys.CHALLENGE_GONE)
        action = passkeys.RegisterPasskey(
            passkey_name=str(body.get("name") or ""),
            credential=json.dumps(body["credential"]),
            challenge=challenge,
            rp=rp,
        )
        try:
            passkey = await self.pages._view("user").run_as_actor(request, action)
        except AdminError as exc:
            return _refused(str(exc))
        Flash.success(request, f"Passkey “{passkey.name}” added: you can sign in with it now.")
        return JSONResponse({"redirect": str(request.url_for("admin:account").path)})

    @login_required
    async def remove(self, request: Request) -> Response:
        """Remove one of the signed-in user's passkeys (an admin's own, or, from a user's
        page, anyone's: the action checks)."""
        passkey_id = _int(request.path_params["passkey_id"])
        back = request.query_params.get("back")
        try:
            await self.pages._view("user").run_as_actor(
                request, passkeys.RemovePasskey(passkey_id=passkey_id)
            )
        except AdminError as exc:
            Flash.error(request, str(exc))
        else:
            Flash.success(request, "The passkey is removed; it can no longer sign in.")
        target = request.url_for("admin:account")
        if back and back.isdigit():
            target = request.url_for("admin:details", identity="user", pk=back)
        return RedirectResponse(str(target), 303)

    # Signing in, on the login page

    async def sign_in_options(self, request: Request) -> Response:
        rp = self._relying_party(request)
        if isinstance(rp, Response):
            return rp
        database = self._database(request)
        settings: Settings = request.app.state.settings
        origin = admin_origin(request)
        try:
            ceremony = await to_thread.run_sync(
                lambda: passkeys.begin_sign_in(database, rp=rp, origin=origin, settings=settings)
            )
        except TooManyAttempts as exc:
            return _refused(f"{exc.message} (in {exc.retry_after} seconds).", 429)
        except OperationalError:
            return _refused(UNAVAILABLE, 503)
        _keep(request, ceremony, passkeys.SIGN_IN)
        return Response(ceremony.options, media_type="application/json")

    async def sign_in(self, request: Request) -> Response:
        challenge = _take(request, passkeys.SIGN_IN)
        try:
            body = await _answer(request)
        except _Refused as exc:
            return _refused(str(exc))
        if challenge is None:
            return _refused(passkeys.CHALLENGE_GONE)
        rp = self._relying_party(request)
        if isinstance(rp, Response):
            return rp
        database = self._database(request)
        settings: Settings = request.app.state.settings
        origin = admin_origin(request)
        credential = json.dumps(body["credential"])

        def verify() -> User:
            return passkeys.sign_in(
                database,
                credential=credential,
                challenge=challenge,
                rp=rp,
                origin=origin,
                settings=settings,
            )

        try:
            user = await to_thread.run_sync(verify)
        except DomainError as exc:
            return _refused(exc.message)
        except OperationalError:
            return _refused(UNAVAILABLE, 503)
        if not permissions.can_use_back_office(user):
            return _refused(NOT_ALLOWED, 403)
        # A passkey is two factors in one (the device, and its PIN or biometric): the
        # session starts here, with no code asked.
        await establish_session(request, user)
        return JSONResponse({"redirect": str(request.url_for("admin:index").path)})


def _int(value: str) -> int:
    if not value.isdigit():
        raise HTTPException(404)
    return int(value)


def _signed_in(request: Request) -> User:
    user = current_user(request)
    if user is None:
        raise HTTPException(403)
    return user
