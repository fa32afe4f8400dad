"""The back office's own pages beside SQLAdmin's: signing in and out, the account page,
confirmations that name what they act on, and exports that stream.

Every page that changes something is a POST behind a confirmation or a form; no GET
changes state.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sqladmin.authentication import login_required
from sqladmin.flash import Flash
from sqladmin.helpers import get_object_identifier
from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from wtforms import Form, PasswordField, StringField
from wtforms.validators import DataRequired

from admin.actions import RowAction
from admin.auth import (
    UNAVAILABLE,
    StaffAuthentication,
    admin_origin,
    current_user,
    keep_signed_in,
)
from admin.forms import FollowsRule
from admin.sign_ins import sign_ins_context
from admin.two_factor import account_two_factor
from admin.views import AdminError, ServiceModelView, export_cell
from cms.auth import staff_sessions
from cms.auth.service import count_attempt, password_check_limits
from cms.changes import UNSET
from cms.errors import TooManyAttempts
from cms.fields import Name, Password
from cms.users import service as users
from cms.users.changes import AccountChanges
from cms.users.models import User
from cms.users.service import articles_of

if TYPE_CHECKING:
    from sqladmin import Admin

# Rows a confirmation page lists by name; more are summarised.
CONFIRM_LISTED = 50
EXPORT_BATCH = 1_000


class NameForm(Form):  # type: ignore[misc]
    name = StringField(
        "Name", validators=[FollowsRule(Name, "name")], render_kw={"class": "form-control"}
    )


class PasswordForm(Form):  # type: ignore[misc]
    current_password = PasswordField(
        "Current password",
        validators=[DataRequired("Enter your current password")],
        render_kw={"class": "form-control", "autocomplete": "current-password"},
    )
    password = PasswordField(
        "New password",
        validators=[DataRequired("Enter a new password"), FollowsRule(Password, "password")],
        render_kw={"class": "form-control", "autocomplete": "new-password"},
    )


class Pages:
    """Endpoints bound to one :class:`sqladmin.Admin` (its templates, views, auth)."""

    def __init__(self, admin: Admin, auth: StaffAuthentication) -> None:
        self.admin = admin
        self.auth = auth
        # login_required looks for the admin on the endpoint's owner.
        self._admin_ref = admin

    async def render(
        self, request: Request, template: str, context: dict[str, Any], status_code: int = 200
    ) -> Response:
        response: Response = await self.admin.templates.TemplateResponse(
            request, template, context, status_code=status_code
        )
        return response

    # Signing in and out

    async def login(self, request: Request) -> Response:
        if request.method == "GET":
            return await self.render(request, "cms/login.html", {})
        form = await request.form()
        email = str(form.get("username", ""))
        try:
            signed_in = await self.auth.login(request)
        except OperationalError:
            return await self.render(
                request,
                "cms/login.html",
                {"error": UNAVAILABLE, "email": email},
                status_code=503,
            )
        if isinstance(signed_in, Response):  # on to the second factor
            return signed_in
        if not signed_in:
            message = getattr(request.state, "login_error", None) or (
                "Incorrect email or password."
            )
            status_code = 403 if getattr(request.state, "login_error", None) else 400
            return await self.render(
                request,
                "cms/login.html",
                {"error": message, "email": email},
                status_code=status_code,
            )
        return RedirectResponse(str(request.url_for("admin:index")), status_code=302)

    async def logout(self, request: Request) -> Response:
        if request.method == "GET":
            # Signing out changes state, so it is a POST; a GET only asks.
            return await self.render(request, "cms/logout.html", {})
        await self.auth.logout(request)
        response = RedirectResponse(str(request.url_for("admin:login")), status_code=302)
        return response

    # The account page: every staff user's own name and password

    @login_required
    async def account(self, request: Request) -> Response:
        user = _signed_in(request)
        form = NameForm(data={"name": user.name})
        password_form = PasswordForm()
        if request.method == "POST":
            form = NameForm(await request.form())
            if form.validate():
                changes = AccountChanges(name=form.name.data or "")
                try:
                    await self._update_self(request, changes, None)
                except AdminError as exc:
                    form.name.errors = [str(exc)]
                else:
                    Flash.success(request, "Your name is saved.")
                    return RedirectResponse(str(request.url_for("admin:account")), 302)
            return await self._account_page(request, form, password_form, status_code=400)
        return await self._account_page(request, form, password_form)

    async def _account_page(
        self, request: Request, form: NameForm, password_form: PasswordForm, status_code: int = 200
    ) -> Response:
        user = _signed_in(request)
        database = self._view("user").database(request)
        two_factor = await run_in_threadpool(account_two_factor, database, user)
        return await self.render(
            request,
            "cms/account.html",
            {
                "form": form,
                "password_form": password_form,
                "user": user,
                "two_factor": two_factor,
                **await sign_ins_context(request, user.id),
            },
            status_code=status_code,
        )

    @login_required
    async def change_password(self, request: Request) -> Response:
        user = _signed_in(request)
        password_form = PasswordForm(await request.form())
        if password_form.validate():
            changes = AccountChanges(password=password_form.password.data or "")
            try:
                updated = await self._update_self(
                    request, changes, password_form.current_password.data or ""
                )
            except AdminError as exc:
                password_form.current_password.errors = [str(exc)]
            else:
                # Every other browser and every API token of this account is signed out;
                # this browser stays in.
                keep_signed_in(request, updated)
                Flash.success(
                    request, "Your password is changed. Your other sessions are signed out."
                )
                return RedirectResponse(str(request.url_for("admin:account")), 302)
        return await self._account_page(
            request, NameForm(data={"name": user.name}), password_form, status_code=400
        )

    async def _update_self(
        self, request: Request, changes: AccountChanges, current_password: str | None
    ) -> User:
        view = self._view("user")
        keep = request.session.get("sid")
        if current_password is not None:
            # Each check of the current password counts, like a sign-in.
            limits = password_check_limits(
                request.app.state.settings, _signed_in(request).id, admin_origin(request).address
            )
            try:
                await run_in_threadpool(
                    count_attempt, view.database(request), limits, admin_origin(request)
                )
            except TooManyAttempts as exc:
                raise AdminError(f"{exc.message} (in {exc.retry_after} seconds).") from None

        def update(uow: Any) -> User:
            user = users.update_user(
                uow,
                user_id=_signed_in(request).id,
                changes=changes,
                current_password=current_password,
            )
            if changes.password is not UNSET:
                staff_sessions.end_others(
                    uow, user_id=user.id, keep=keep if isinstance(keep, str) else None
                )
            return user

        return await view.run_as_actor(request, update)

    # Actions on chosen rows: a page that names them, then the POST that acts

    @login_required
    async def confirm(self, request: Request) -> Response:
        view = self._view(request.path_params["identity"])
        action = view.row_action(request.query_params.get("action", ""))
        chosen = [request.query_params.get("pks", ""), *request.query_params.getlist("pk")]
        rows = await self._rows_for(request, view, action.permission, ",".join(chosen))
        return await self.render(
            request,
            "cms/confirm.html",
            {
                "model_view": view,
                "action": action,
                "rows": rows[:CONFIRM_LISTED],
                "more": max(0, len(rows) - CONFIRM_LISTED),
                "pks": ",".join(str(get_object_identifier(row)) for row in rows),
                "question": action.ask(len(rows), view.row_noun),
                "extra": await self._confirmation_extras(view, action, rows),
            },
        )

    async def _confirmation_extras(
        self, view: ServiceModelView, action: RowAction, rows: list[Any]
    ) -> dict[str, Any]:
        """What a choice on the confirmation page needs to be made knowingly."""
        if action.choices_template != "cms/choices/user_articles.html":
            return {}

        def count() -> dict[int, int]:
            with view.session_maker() as session:
                return {row.id: articles_of(session, row.id) for row in rows}

        written = await run_in_threadpool(count)
        return {"written": written, "total": sum(written.values())}

    @login_required
    async def act(self, request: Request) -> Response:
        view = self._view(request.path_params["identity"])
        action = view.row_action(request.path_params["action"])
        form = await request.form()
        pks = form.get("pks")
        rows = await self._rows_for(
            request, view, action.permission, pks if isinstance(pks, str) else None
        )
        choices = {key: str(value) for key, value in form.items() if isinstance(value, str)}
        ids = [int(get_object_identifier(row)) for row in rows]
        names = [view.row_label(row) for row in rows]

        def perform(uow: Any) -> None:
            for pk in ids:
                action.perform(uow, pk, choices)

        try:
            await view.run_as_actor(request, perform)
        except AdminError as exc:
            Flash.error(request, f"Nothing was changed: {exc}")
        else:
            Flash.success(request, action.report(names))
        return RedirectResponse(str(request.url_for("admin:list", identity=view.identity)), 302)

    async def _rows_for(
        self, request: Request, view: ServiceModelView, permission: str, pks: str | None
    ) -> list[Any]:
        """The rows named by ``pks`` that exist, each checked for ``permission``."""
        if not view.is_accessible(request):
            raise HTTPException(403)
        identifiers = [pk for pk in (pks or "").split(",") if pk.strip()]
        if not identifiers:
            raise HTTPException(400, "Choose at least one row first.")
        rows = []
        for pk in identifiers[:1000]:
            request.path_params["pk"] = pk
            row = await view.get_object_for_details(request)
            if row is None:
                raise HTTPException(404, "One of the chosen rows no longer exists.")
            if not view.has_permission(request, permission, row):
                raise HTTPException(403, f"You may not do that to {view.row_label(row)}.")
            rows.append(row)
        return rows

    # Exports that stream in constant memory

    @login_required
    async def export(self, request: Request) -> Response:
        view = self._view(request.path_params["identity"])
        if not view.can_export or not view.is_accessible(request):
            raise HTTPException(403)
        if not await view.check_can_export(request):
            raise HTTPException(403)
        if request.path_params["export_type"] != "csv":
            raise HTTPException(404)
        names = view._export_prop_names
        # Plain column values (no ORM objects), from a server-side cursor in batches:
        # memory stays flat whatever the table's size.
        stmt = (
            view.rows_query(request)
            .with_only_columns(*(getattr(view.model, name) for name in names))
            .order_by(view.pk_columns[0])
            .execution_options(stream_results=True, yield_per=EXPORT_BATCH)
        )
        database = view.database(request)
        filename = view.get_export_name("csv")

        def rows() -> Iterator[str]:
            buffer = io.StringIO()
            # Every cell quoted: a value with ; or a tab cannot shift into other columns
            # in a spreadsheet that guesses the separator.
            writer = csv.writer(buffer, quoting=csv.QUOTE_ALL)
            writer.writerow(names)
            # Not under the read time limit: its one statement lasts as long as the
            # download does.
            with database.reading(bounded=False) as session:
                for values in session.execute(stmt):
                    writer.writerow([export_cell(value) for value in values])
                    if buffer.tell() > 64 * 1024:
                        yield buffer.getvalue()
                        buffer.seek(0)
                        buffer.truncate()
            yield buffer.getvalue()

        return StreamingResponse(
            rows(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    def _view(self, identity: str) -> ServiceModelView:
        view = self.admin._find_model_view(identity)
        if not isinstance(view, ServiceModelView):
            raise HTTPException(404)
        return view


def _signed_in(request: Request) -> User:
    user = current_user(request)
    if user is None:
        raise HTTPException(403)
    return user
