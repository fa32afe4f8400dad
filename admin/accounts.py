"""Back-office pages for the links sent by mail: *Forgot password?* and the reset form,
invitations (admins invite and revoke; the invitee accepts), and confirming a new email
address. The pages a link opens work without signing in: the token is the authority.
Every change is a POST carrying the CSRF token, run as an action, audited."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqladmin.authentication import login_required
from sqladmin.flash import Flash
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from admin.auth import UNAVAILABLE, admin_origin, current_user
from admin.views import AdminError
from cms import permissions
from cms.accounts import service as accounts
from cms.accounts import tokens
from cms.accounts.models import AccountLink, LinkPurpose
from cms.auth.service import count_attempt, password_check_limits, password_reset_limits
from cms.config import Settings
from cms.db import Database, utcnow
from cms.errors import DomainError, InvalidInput, TooManyAttempts
from cms.fields import Email, validated
from cms.roles import Role
from cms.users.models import User

if TYPE_CHECKING:
    from admin.pages import Pages

RESET_SENT = (
    "If an account has the address {email}, a link to choose a new password is on its way "
    "to it. It works for {minutes} minutes."
)


def link_base(settings: Settings, request: Request) -> str:
    """Where links in mail start: CMS_SITE_URL, else the address this page was asked at
    (development; production with SMTP requires CMS_SITE_URL)."""
    return (settings.site_url or f"{request.url.scheme}://{request.url.netloc}").rstrip("/")


class AccountPages:
    def __init__(self, pages: Pages) -> None:
        self.pages = pages
        self._admin_ref = pages.admin  # login_required looks for it on the endpoint's owner

    def _database(self, request: Request) -> Database:
        database: Database = request.app.state.database
        return database

    def _settings(self, request: Request) -> Settings:
        settings: Settings = request.app.state.settings
        return settings

    async def _run(self, request: Request, work: Any) -> Any:
        """``work`` in a unit of work without a signed-in actor (the link is the authority)."""
        database, origin = self._database(request), admin_origin(request)

        def in_transaction() -> Any:
            try:
                return database.run(work, origin=origin)
            except OperationalError as exc:
                raise AdminError(UNAVAILABLE) from exc

        return await run_in_threadpool(in_transaction)

    async def _render(
        self, request: Request, template: str, context: dict[str, Any], status_code: int = 200
    ) -> Response:
        return await self.pages.render(request, template, context, status_code=status_code)

    # Forgot password

    async def forgot(self, request: Request) -> Response:
        if request.method == "GET":
            return await self._render(request, "cms/password_forgot.html", {})
        form = await request.form()
        email = str(form.get("email", "")).strip()
        settings = self._settings(request)
        try:
            validated(Email, "email", email)
        except InvalidInput as exc:
            return await self._render(
                request, "cms/password_forgot.html", {"error": exc.message, "email": email}, 400
            )
        origin = admin_origin(request)
        limits = password_reset_limits(settings, email, origin.address)
        try:
            await run_in_threadpool(count_attempt, self._database(request), limits, origin)
            await self._run(
                request,
                accounts.RequestPasswordReset(email=email, base=link_base(settings, request)),
            )
        except TooManyAttempts as exc:
            return await self._render(
                request,
                "cms/password_forgot.html",
                {"error": f"{exc.message} (in {exc.retry_after} seconds).", "email": email},
                429,
            )
        except AdminError as exc:
            return await self._render(
                request, "cms/password_forgot.html", {"error": str(exc), "email": email}, 503
            )
        sent = RESET_SENT.format(email=email, minutes=settings.password_reset_expire_minutes)
        return await self._render(request, "cms/password_forgot.html", {"sent": sent})

    async def reset(self, request: Request) -> Response:
        template = "cms/password_reset.html"
        if request.method == "GET":
            token = request.query_params.get("token", "")
            return await self._render(request, template, {"token": token})
        form = await request.form()
        token = str(form.get("token", ""))
        password, again = str(form.get("password", "")), str(form.get("password_again", ""))
        context: dict[str, Any] = {"token": token}
        if password != again:
            context["field_error"] = "The two passwords differ; type the same one twice."
            return await self._render(request, template, context, 400)
        action = accounts.ResetPassword(
            token=token, password=password, secret_key=self._settings(request).secret
        )
        try:
            await self._run(request, action)
        except accounts.LinkInvalid as exc:
            context["error"] = exc.message
            return await self._render(request, template, context, 400)
        except InvalidInput as exc:
            context["field_error"] = exc.message
            return await self._render(request, template, context, 400)
        except (DomainError, AdminError) as exc:
            context["error"] = str(exc)
            return await self._render(request, template, context, 400)
        # Whoever was signed in here (perhaps someone else) is signed out too.
        request.session.clear()
        return await self._render(request, template, {"done": True})

    # Invitations

    def _admin(self, request: Request) -> User:
        user = current_user(request)
        if user is None or not permissions.can_invite(user):
            raise HTTPException(403, "Only admins invite people.")
        return user

    @login_required
    async def invitations(self, request: Request) -> Response:
        user = self._admin(request)

        def load() -> tuple[list[AccountLink], dict[int, str]]:
            with self._database(request).reading() as session:
                pending = list(accounts.pending_invitations(session, user))
                ids = {link.created_by_id for link in pending if link.created_by_id}
                names = dict(
                    session.execute(select(User.id, User.name).where(User.id.in_(ids))).all()
                )
                return pending, {key: name or f"User {key}" for key, name in names.items()}

        pending, inviters = await run_in_threadpool(load)
        return await self._render(
            request,
            "cms/invitations.html",
            {
                "title": "Invitations",
                "pending": pending,
                "inviters": inviters,
                "roles": [role.value for role in Role],
                "days": self._settings(request).invitation_expire_days,
            },
        )

    @login_required
    async def invite(self, request: Request) -> Response:
        self._admin(request)
        form = await request.form()
        settings = self._settings(request)
        email = str(form.get("email", "")).strip()
        try:
            role = Role(str(form.get("role", "")))
        except ValueError:
            Flash.error(request, "Nothing was sent: choose author, editor or admin.")
            return RedirectResponse(str(request.url_for("admin:invitations")), 302)
        action = accounts.Invite(
            email=email,
            role=role,
            base=link_base(settings, request),
            lifetime=timedelta(days=settings.invitation_expire_days),
        )
        try:
            link = await self.pages._view("user").run_as_actor(request, action)
        except AdminError as exc:
            Flash.error(request, f"Nothing was sent: {exc}")
        else:
            Flash.success(request, f"Invitation sent to {link.email} ({role.value}).")
        return RedirectResponse(str(request.url_for("admin:invitations")), 302)

    @login_required
    async def revoke_invitation(self, request: Request) -> Response:
        self._admin(request)
        form = await request.form()
        try:
            invitation_id = int(str(form.get("invitation_id", "")))
        except ValueError:
            raise HTTPException(400, "Choose an invitation to revoke.") from None
        action = accounts.RevokeInvitation(invitation_id=invitation_id)
        try:
            link = await self.pages._view("user").run_as_actor(request, action)
        except AdminError as exc:
            Flash.error(request, f"Nothing was revoked: {exc}")
        else:
            Flash.success(request, f"The invitation of {link.email} is revoked.")
        return RedirectResponse(str(request.url_for("admin:invitations")), 302)

    async def accept(self, request: Request) -> Response:
        template = "cms/invitation_accept.html"
        settings = self._settings(request)
        if request.method == "GET":
            token = request.query_params.get("token", "")
            invited = await run_in_threadpool(self._open_invitation, request, token)
            if invited is None:
                return await self._render(
                    request, template, {"error": accounts.INVITATION_INVALID}, 400
                )
            return await self._render(request, template, {"token": token, "invited": invited})
        form = await request.form()
        token = str(form.get("token", ""))
        name = str(form.get("name", ""))
        password, again = str(form.get("password", "")), str(form.get("password_again", ""))
        invited = await run_in_threadpool(self._open_invitation, request, token)
        context: dict[str, Any] = {"token": token, "invited": invited, "name": name}
        if invited is None:
            return await self._render(
                request, template, {"error": accounts.INVITATION_INVALID}, 400
            )
        if password != again:
            context["errors"] = {"password": "The two passwords differ; type the same one twice."}
            return await self._render(request, template, context, 400)
        action = accounts.AcceptInvitation(
            token=token, display_name=name, password=password, secret_key=settings.secret
        )
        try:
            user = await self._run(request, action)
        except accounts.LinkInvalid as exc:
            return await self._render(request, template, {"error": exc.message}, 400)
        except InvalidInput as exc:
            context["errors"] = {exc.field: exc.message}
            return await self._render(request, template, context, 400)
        except (DomainError, AdminError) as exc:
            return await self._render(request, template, {"error": str(exc)}, 400)
        return await self._render(request, template, {"done": user.email})

    def _open_invitation(self, request: Request, token: str) -> tuple[str, str] | None:
        """The (email, role) an invitation link is for, if it still works."""
        link_id = tokens.read(
            token, purpose=LinkPurpose.INVITATION, secret_key=self._settings(request).secret
        )
        if link_id is None:
            return None
        with self._database(request).reading() as session:
            link = session.get(AccountLink, link_id)
        if (
            link is None
            or link.used_at is not None
            or link.revoked_at is not None
            or link.expires_at <= utcnow()
        ):
            return None
        return link.email, link.role or Role.AUTHOR.value

    # Changing one's email

    @login_required
    async def change_email(self, request: Request) -> Response:
        user = current_user(request)
        if user is None:
            raise HTTPException(403)
        form = await request.form()
        settings = self._settings(request)
        origin = admin_origin(request)
        back = RedirectResponse(str(request.url_for("admin:account")), 302)
        try:
            # Each check of the current password counts, like a sign-in.
            await run_in_threadpool(
                count_attempt,
                self._database(request),
                password_check_limits(settings, user.id, origin.address),
                origin,
            )
        except TooManyAttempts as exc:
            Flash.error(request, f"{exc.message} (in {exc.retry_after} seconds).")
            return back
        action = accounts.RequestEmailChange(
            new_email=str(form.get("new_email", "")).strip(),
            current_password=str(form.get("current_password", "")),
            base=link_base(settings, request),
            lifetime=timedelta(hours=settings.email_change_expire_hours),
        )
        try:
            link = await self.pages._view("user").run_as_actor(request, action)
        except AdminError as exc:
            Flash.error(request, f"Your email is unchanged: {exc}")
        else:
            Flash.success(
                request,
                f"A confirmation link is on its way to {link.email}; your address changes "
                "when you open it. Your current address was told too.",
            )
        return back

    async def confirm_email(self, request: Request) -> Response:
        template = "cms/email_confirm.html"
        if request.method == "GET":
            token = request.query_params.get("token", "")
            return await self._render(request, template, {"token": token})
        form = await request.form()
        action = accounts.ConfirmEmailChange(
            token=str(form.get("token", "")), secret_key=self._settings(request).secret
        )
        try:
            user = await self._run(request, action)
        except (DomainError, AdminError) as exc:
            return await self._render(request, template, {"error": str(exc)}, 400)
        return await self._render(request, template, {"done": user.email})
