"""Two-factor sign-in in the back office: the sign-in's second step (a code, or setting
one up where the site requires it), *Your account*'s set-up, switch-off and recovery
codes, an admin's reset of someone's, and the site's policy.

The second step holds a :class:`~admin.auth.PendingSignIn` in the signed session cookie
and nothing else: no page but these two answers until :func:`~admin.auth.establish_session`
runs. Recovery codes are shown once, on the answer to the POST that made them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from anyio import to_thread
from sqladmin.authentication import login_required
from sqladmin.flash import Flash
from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from admin.auth import (
    UNAVAILABLE,
    PendingSignIn,
    admin_origin,
    count_second_factor_attempt,
    current_user,
    establish_session,
    pending_second_factor,
    pending_user,
)
from admin.views import AdminError
from cms import permissions
from cms.actions import Action
from cms.audit import service as audit
from cms.auth.service import count_attempt, password_check_limits, verify_second_factor
from cms.db import Database, UnitOfWork
from cms.errors import AuthenticationFailed, DomainError, TooManyAttempts
from cms.twofactor import codes
from cms.twofactor import service as twofactor
from cms.twofactor.codes import Requirement
from cms.users.models import User

if TYPE_CHECKING:
    from admin.pages import Pages

EXPIRED = "That sign-in has expired or used up its tries: sign in with your password again."
REQUIREMENT_LABELS = {
    Requirement.NOBODY: "Nobody: each person chooses",
    Requirement.STAFF: "Editors and admins",
    Requirement.EVERYONE: "Everyone who uses the back office, authors too",
}


class TwoFactorPages:
    def __init__(self, pages: Pages) -> None:
        self.pages = pages
        self._admin_ref = pages.admin  # login_required looks for it on the endpoint's owner

    def _database(self, request: Request) -> Database:
        database: Database = request.app.state.database
        return database

    def _site_key(self, request: Request) -> str:
        return str(request.app.state.settings.secret)

    async def _render(
        self, request: Request, template: str, context: dict[str, Any], status_code: int = 200
    ) -> Response:
        return await self.pages.render(request, template, context, status_code)

    def _back_to_login(self, request: Request) -> Response:
        return RedirectResponse(str(request.url_for("admin:login")), status_code=302)

    async def _pending(self, request: Request) -> tuple[PendingSignIn, User] | None:
        pending = pending_second_factor(request)
        if pending is None:
            return None
        user = await to_thread.run_sync(pending_user, self._database(request), pending)
        if user is None:
            request.session.clear()
            return None
        return pending, user

    # The sign-in's second step

    async def login_code(self, request: Request) -> Response:
        found = await self._pending(request)
        if found is not None and found[0].step == "passkey" and request.method == "GET":
            # Owed: the account's passkey, whose sign-in (cms-passkey-sign-in) ends this.
            return await self._render(request, "cms/login_code.html", {"passkey_only": True})
        if found is None or found[0].step != "code":
            if request.method == "POST":
                return await self._render(
                    request, "cms/login.html", {"error": EXPIRED}, status_code=400
                )
            return self._back_to_login(request)
        _, user = found
        if request.method == "GET":
            return await self._render(request, "cms/login_code.html", {})
        form = await request.form()
        code = str(form.get("code", ""))
        if not codes.cleaned(code):
            return await self._render(
                request,
                "cms/login_code.html",
                {"error": "Enter the 6-digit code your app shows, or a recovery code."},
                status_code=400,
            )
        origin = admin_origin(request)
        settings = request.app.state.settings
        try:
            method = await to_thread.run_sync(
                lambda: verify_second_factor(
                    self._database(request), user=user, code=code, origin=origin, settings=settings
                )
            )
        except TooManyAttempts as exc:
            raise HTTPException(
                status_code=429, detail=f"{exc.message} (in {exc.retry_after} seconds)."
            ) from None
        except AuthenticationFailed:
            left = count_second_factor_attempt(request)
            if left == 0:
                request.session.clear()
                return await self._render(
                    request, "cms/login.html", {"error": EXPIRED}, status_code=400
                )
            return await self._render(
                request,
                "cms/login_code.html",
                {"error": f"That code is not right. {left} tries left."},
                status_code=400,
            )
        except OperationalError:
            return await self._render(
                request, "cms/login_code.html", {"error": UNAVAILABLE}, status_code=503
            )
        await establish_session(request, user)
        if method == "recovery_code":
            left_codes = await to_thread.run_sync(self._codes_left, request, user.id)
            Flash.warning(
                request,
                f"You signed in with a recovery code; {left_codes} left. "
                "If your phone is lost, set up two-factor sign-in again on Your account.",
            )
        return RedirectResponse(str(request.url_for("admin:index")), status_code=302)

    def _codes_left(self, request: Request, user_id: int) -> int:
        with self._database(request).reading() as session:
            return twofactor.remaining_recovery_codes(session, user_id)

    async def login_enrol(self, request: Request) -> Response:
        """The policy requires a second factor this account has not got: it is set up
        here, before anything else, and the session starts once it is confirmed."""
        found = await self._pending(request)
        if found is None or found[0].step != "enrol":
            if request.method == "POST":
                return await self._render(
                    request, "cms/login.html", {"error": EXPIRED}, status_code=400
                )
            return self._back_to_login(request)
        _, user = found
        site_key = self._site_key(request)
        secret = await to_thread.run_sync(
            _pending_secret, self._database(request), user.id, site_key
        )
        if secret is None:  # confirmed meanwhile, elsewhere: sign in again
            request.session.clear()
            return self._back_to_login(request)
        if request.method == "GET":
            return await self._render(
                request, "cms/login_enrol.html", self._setup_context(user, secret)
            )
        form = await request.form()
        action = twofactor.ConfirmEnrolment(code=str(form.get("code", "")), site_key=site_key)

        def enrol_and_sign_in(uow: UnitOfWork) -> list[str]:
            fresh: list[str] = action(uow)
            audit.record(
                uow,
                action="login",
                object_type="user",
                object_id=user.id,
                object_repr=user.email,
                changes={"second_factor": (None, "totp")},
            )
            return fresh

        try:
            fresh = await to_thread.run_sync(self._run_as, request, user, enrol_and_sign_in)
        except AdminError as exc:
            left = count_second_factor_attempt(request)
            if left == 0:
                request.session.clear()
                return await self._render(
                    request, "cms/login.html", {"error": EXPIRED}, status_code=400
                )
            return await self._render(
                request,
                "cms/login_enrol.html",
                {**self._setup_context(user, secret), "error": str(exc)},
                status_code=400,
            )
        await establish_session(request, user)
        return await self._recovery_codes_page(request, fresh)

    def _run_as(self, request: Request, user: User, action: Callable[[UnitOfWork], Any]) -> Any:
        """Run ``action`` as ``user`` (whose password was right, not yet signed in)."""
        try:
            return self._database(request).run(action, actor=user, origin=admin_origin(request))
        except DomainError as exc:
            raise AdminError(exc.message) from exc
        except OperationalError as exc:
            raise AdminError(UNAVAILABLE) from exc

    def _setup_context(self, user: User, secret: str) -> dict[str, Any]:
        uri = codes.provisioning_uri(secret, user.email)
        return {"qr_svg": codes.qr_svg(uri), "secret": codes.grouped(secret), "uri": uri}

    async def _recovery_codes_page(self, request: Request, fresh: list[str]) -> Response:
        return await self._render(
            request,
            "cms/recovery_codes.html",
            {"title": "Your recovery codes", "codes": fresh},
        )

    # Your account

    def _run_as_signed_in(self, request: Request, action: Action[Any]) -> Any:
        return self.pages._view("user").run_as_actor(request, action)

    @login_required
    async def setup_page(self, request: Request) -> Response:
        user = _signed_in(request)
        secret = await to_thread.run_sync(
            lambda: _pending_secret(self._database(request), user.id, self._site_key(request))
        )
        if secret is None:
            return RedirectResponse(str(request.url_for("admin:account")), status_code=302)
        return await self._render(
            request,
            "cms/two_factor_setup.html",
            {"title": "Set up two-factor sign-in", **self._setup_context(user, secret)},
        )

    @login_required
    async def begin(self, request: Request) -> Response:
        _signed_in(request)
        action = twofactor.BeginEnrolment(site_key=self._site_key(request))
        try:
            await self._run_as_signed_in(request, action)
        except AdminError as exc:
            Flash.error(request, str(exc))
            return RedirectResponse(str(request.url_for("admin:account")), status_code=302)
        return RedirectResponse(str(request.url_for("admin:two-factor")), status_code=302)

    @login_required
    async def confirm(self, request: Request) -> Response:
        user = _signed_in(request)
        form = await request.form()
        site_key = self._site_key(request)
        action = twofactor.ConfirmEnrolment(code=str(form.get("code", "")), site_key=site_key)
        try:
            fresh = await self._run_as_signed_in(request, action)
        except AdminError as exc:
            secret = await to_thread.run_sync(
                lambda: _pending_secret(self._database(request), user.id, site_key)
            )
            if secret is None:
                Flash.error(request, str(exc))
                return RedirectResponse(str(request.url_for("admin:account")), status_code=302)
            return await self._render(
                request,
                "cms/two_factor_setup.html",
                {
                    "title": "Set up two-factor sign-in",
                    **self._setup_context(user, secret),
                    "error": str(exc),
                },
                status_code=400,
            )
        return await self._recovery_codes_page(request, fresh)

    async def _proven(self, request: Request) -> tuple[str, str]:
        """The code and password a form proves identity with; each check counts like a
        sign-in (a stolen session must not become a way to guess either)."""
        form = await request.form()
        code, password = str(form.get("code", "")), str(form.get("password", ""))
        if password or code.strip():
            limits = password_check_limits(
                request.app.state.settings, _signed_in(request).id, admin_origin(request).address
            )
            try:
                await run_in_threadpool(
                    count_attempt, self._database(request), limits, admin_origin(request)
                )
            except TooManyAttempts as exc:
                raise AdminError(f"{exc.message} (in {exc.retry_after} seconds).") from None
        return code, password

    @login_required
    async def disable(self, request: Request) -> Response:
        _signed_in(request)
        try:
            code, password = await self._proven(request)
            await self._run_as_signed_in(
                request,
                twofactor.DisableTwoFactor(
                    code=code, password=password, site_key=self._site_key(request)
                ),
            )
        except AdminError as exc:
            Flash.error(request, f"Two-factor sign-in is still on: {exc}")
        else:
            Flash.success(request, "Two-factor sign-in is off for your account.")
        return RedirectResponse(str(request.url_for("admin:account")), status_code=302)

    @login_required
    async def regenerate(self, request: Request) -> Response:
        _signed_in(request)
        try:
            code, password = await self._proven(request)
            fresh = await self._run_as_signed_in(
                request,
                twofactor.RegenerateRecoveryCodes(
                    code=code, password=password, site_key=self._site_key(request)
                ),
            )
        except AdminError as exc:
            Flash.error(request, f"No new recovery codes: {exc}")
            return RedirectResponse(str(request.url_for("admin:account")), status_code=302)
        return await self._recovery_codes_page(request, fresh)

    # Admins: someone's reset, the policy

    @login_required
    async def user_page(self, request: Request) -> Response:
        target = await self._target(request)
        database = self._database(request)

        def load() -> tuple[bool, int]:
            with database.reading() as session:
                return (
                    twofactor.has_second_factor(target, session),
                    twofactor.remaining_recovery_codes(session, target.id),
                )

        enabled, left = await to_thread.run_sync(load)
        return await self._render(
            request,
            "cms/two_factor_user.html",
            {
                "title": f"Two-factor sign-in of {target.display_name}",
                "target": target,
                "enabled": enabled,
                "codes_left": left,
            },
        )

    @login_required
    async def reset(self, request: Request) -> Response:
        target = await self._target(request)
        try:
            await self._run_as_signed_in(request, twofactor.ResetTwoFactor(user_id=target.id))
        except AdminError as exc:
            Flash.error(request, f"Nothing was reset: {exc}")
        else:
            Flash.success(
                request,
                f"Two-factor sign-in of {target.display_name} is off and their sessions are "
                "ended; they are told.",
            )
        return RedirectResponse(
            str(request.url_for("admin:two-factor-user", pk=target.id)), status_code=302
        )

    async def _target(self, request: Request) -> User:
        me = _signed_in(request)
        try:
            pk = int(request.path_params["pk"])
        except ValueError:
            raise HTTPException(404, "No such user.") from None

        def load() -> User | None:
            with self._database(request).reading() as session:
                found = session.get(User, pk)
                if found is not None:
                    session.expunge(found)
                return found

        target = await to_thread.run_sync(load)
        if target is None or not permissions.can_view_user(me, target):
            raise HTTPException(404, "No such user.")
        if not permissions.can_reset_two_factor(me, target):
            raise HTTPException(403, "Only an admin resets another user's two-factor sign-in.")
        return target

    @login_required
    async def policy(self, request: Request) -> Response:
        me = _signed_in(request)
        if not permissions.can_set_two_factor_policy(me):
            raise HTTPException(403, "Only admins set the two-factor policy.")
        error = None
        status_code = 200
        if request.method == "POST":
            form = await request.form()
            action = twofactor.SetTwoFactorPolicy(required_for=str(form.get("required_for", "")))
            try:
                await self._run_as_signed_in(request, action)
            except AdminError as exc:
                error, status_code = str(exc), 400
            else:
                Flash.success(request, "The two-factor policy is saved.")
                return RedirectResponse(
                    str(request.url_for("admin:two-factor-policy")), status_code=302
                )

        def load() -> Requirement:
            with self._database(request).reading() as session:
                return twofactor.requirement(session)

        current = await to_thread.run_sync(load)
        return await self._render(
            request,
            "cms/two_factor_policy.html",
            {
                "title": "Two-factor sign-in policy",
                "current": current.value,
                "choices": [(r.value, label) for r, label in REQUIREMENT_LABELS.items()],
                "error": error,
            },
            status_code=status_code,
        )


def _pending_secret(database: Database, user_id: int, site_key: str) -> str | None:
    with database.reading() as session:
        return twofactor.pending_secret(session, user_id, site_key)


def _signed_in(request: Request) -> User:
    user = current_user(request)
    if user is None:
        raise HTTPException(403)
    return user


def account_two_factor(database: Database, user: User) -> dict[str, Any]:
    """What *Your account* shows of the user's two-factor sign-in."""
    with database.reading() as session:
        return {
            "enabled": twofactor.has_second_factor(user, session),
            "codes_left": twofactor.remaining_recovery_codes(session, user.id),
            "required": twofactor.is_required_of(session, user),
        }
