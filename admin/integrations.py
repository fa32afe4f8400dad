"""Back-office pages for integrations, admins only: webhook endpoints with their delivery
log (*Send test*, *Redeliver*), and API keys. Every change is a POST carrying the CSRF
token (the middleware refuses any without), run as an action, audited. A new secret or
key is shown once, on the page that answers the POST that made it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqladmin.authentication import login_required
from sqladmin.flash import Flash
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from admin.auth import current_user
from admin.views import AdminError, ServiceModelView
from cms import permissions
from cms.apikeys import service as apikeys
from cms.users.models import User
from cms.webhooks import outbox
from cms.webhooks import service as webhooks
from cms.webhooks.models import OutboxEvent, WebhookEndpoint

if TYPE_CHECKING:
    from admin.pages import Pages

DELIVERIES_SHOWN = 50


class IntegrationPages:
    def __init__(self, pages: Pages) -> None:
        self.pages = pages
        self._admin_ref = pages.admin  # login_required looks for it on the endpoint's owner

    def _view(self) -> ServiceModelView:
        # Any of our views runs actions as the signed-in user; the user view is always there.
        return self.pages._view("user")

    def _admin_only(self, request: Request) -> User:
        user = current_user(request)
        if user is None or not permissions.can_manage_webhooks(user):
            raise HTTPException(403, "Only admins manage webhooks and API keys.")
        return user

    async def _run(self, request: Request, action: Any) -> Any:
        return await self._view().run_as_actor(request, action)

    def _settings(self, request: Request) -> Any:
        return request.app.state.settings

    # Webhooks

    @login_required
    async def endpoints(self, request: Request) -> Response:
        user = self._admin_only(request)

        def load() -> list[WebhookEndpoint]:
            with self._view().session_maker() as session:
                return list(webhooks.list_endpoints(session, user))

        listed = await run_in_threadpool(load)
        return await self.pages.render(
            request,
            "cms/webhooks.html",
            {
                "title": "Webhooks",
                "endpoints": listed,
                "event_types": outbox.EVENT_TYPES,
                "subscribed": webhooks.subscribed_events,
            },
        )

    @login_required
    async def add_endpoint(self, request: Request) -> Response:
        self._admin_only(request)
        form = await request.form()
        settings = self._settings(request)
        action = webhooks.AddEndpoint(
            url=str(form.get("url", "")).strip(),
            events=tuple(str(value) for value in form.getlist("events")),
            site_key=settings.secret,
            allow_private=settings.webhooks_allow_private_targets,
        )
        try:
            added = await self._run(request, action)
        except AdminError as exc:
            Flash.error(request, f"The endpoint was not added: {exc}")
            return RedirectResponse(str(request.url_for("admin:webhooks")), 302)
        return await self._shown_once(
            request,
            {
                "title": "Webhook endpoint added",
                "what": f"The signing secret of endpoint {added.endpoint.id} "
                f"({added.endpoint.url})",
                "value": added.secret,
                "back": str(request.url_for("admin:webhooks").path),
            },
        )

    @login_required
    async def endpoint(self, request: Request) -> Response:
        user = self._admin_only(request)
        endpoint_id = _int(request.path_params["endpoint_id"])

        def load() -> tuple[WebhookEndpoint | None, list[tuple[Any, list[Any]]]]:
            with self._view().session_maker() as session:
                found = session.get(WebhookEndpoint, endpoint_id)
                if found is None:
                    return None, []
                shown = webhooks.deliveries(
                    session, user, endpoint_id=endpoint_id, limit=DELIVERIES_SHOWN
                )
                return found, [
                    (delivery, list(webhooks.attempts(session, user, delivery.id)))
                    for delivery in shown
                ]

        found, log = await run_in_threadpool(load)
        if found is None:
            raise HTTPException(404, "No webhook endpoint with that id.")
        types = await run_in_threadpool(self._event_types, [d.event_id for d, _ in log])
        return await self.pages.render(
            request,
            "cms/webhook.html",
            {
                "title": f"Webhook {found.id}",
                "endpoint": found,
                "log": log,
                "types": types,
                "subscribed": webhooks.subscribed_events(found),
            },
        )

    def _event_types(self, event_ids: list[int]) -> dict[int, str]:
        if not event_ids:
            return {}
        with self._view().session_maker() as session:
            rows = session.execute(
                select(OutboxEvent.id, OutboxEvent.type).where(OutboxEvent.id.in_(event_ids))
            ).all()
        return {row.id: row.type for row in rows}

    @login_required
    async def ping(self, request: Request) -> Response:
        self._admin_only(request)
        endpoint_id = _int(request.path_params["endpoint_id"])
        await self._flash_run(
            request, webhooks.SendPing(endpoint_id=endpoint_id), "A test (ping) is on its way."
        )
        return RedirectResponse(str(request.url_for("admin:webhook", endpoint_id=endpoint_id)), 302)

    @login_required
    async def redeliver(self, request: Request) -> Response:
        self._admin_only(request)
        endpoint_id = _int(request.path_params["endpoint_id"])
        delivery_id = _int(request.path_params["delivery_id"])
        await self._flash_run(
            request,
            webhooks.Redeliver(delivery_id=delivery_id),
            f"Delivery {delivery_id} will be sent again, with the same webhook-id.",
        )
        return RedirectResponse(str(request.url_for("admin:webhook", endpoint_id=endpoint_id)), 302)

    @login_required
    async def remove_endpoint(self, request: Request) -> Response:
        self._admin_only(request)
        endpoint_id = _int(request.path_params["endpoint_id"])
        await self._flash_run(
            request,
            webhooks.RemoveEndpoint(endpoint_id=endpoint_id),
            f"Webhook endpoint {endpoint_id} is removed.",
        )
        return RedirectResponse(str(request.url_for("admin:webhooks")), 302)

    # API keys

    @login_required
    async def keys(self, request: Request) -> Response:
        user = self._admin_only(request)

        def load() -> tuple[list[Any], dict[int, str]]:
            with self._view().session_maker() as session:
                listed = list(apikeys.list_keys(session, user))
                owners = {key.owner_id for key in listed if key.owner_id is not None}
                emails = (
                    dict(
                        session.execute(
                            select(User.id, User.email).where(User.id.in_(owners))
                        ).all()
                    )
                    if owners
                    else {}
                )
                return listed, emails

        listed, emails = await run_in_threadpool(load)
        return await self.pages.render(
            request,
            "cms/apikeys.html",
            {"title": "API keys", "keys": listed, "emails": emails, "scopes": list(apikeys.Scope)},
        )

    @login_required
    async def create_key(self, request: Request) -> Response:
        self._admin_only(request)
        form = await request.form()
        owner_email = str(form.get("owner", "")).strip()
        expires = str(form.get("expires", "")).strip()
        try:
            owner_id = await run_in_threadpool(self._owner_id, owner_email)
            if expires and not expires.isdigit():
                raise AdminError("Expires after: give a number of days, or leave it empty")
            made = await self._run(
                request,
                apikeys.CreateKey(
                    key_name=str(form.get("name", "")),
                    scopes=tuple(str(value) for value in form.getlist("scopes")),
                    owner_id=owner_id,
                    expires_days=int(expires) if expires else None,
                ),
            )
        except AdminError as exc:
            Flash.error(request, f"No key was made: {exc}")
            return RedirectResponse(str(request.url_for("admin:apikeys")), 302)
        return await self._shown_once(
            request,
            {
                "title": "API key made",
                "what": f"API key {made.api_key.id} ({made.api_key.scopes})",
                "value": made.key,
                "back": str(request.url_for("admin:apikeys").path),
            },
        )

    def _owner_id(self, email: str) -> int | None:
        if not email:
            return None
        with self._view().session_maker() as session:
            owner: int | None = session.scalar(select(User.id).where(User.email == email.lower()))
        if owner is None:
            raise AdminError(f"No user with email {email}")
        return owner

    @login_required
    async def revoke_key(self, request: Request) -> Response:
        self._admin_only(request)
        key_id = str(request.path_params["key_id"])
        await self._flash_run(
            request, apikeys.RevokeKey(key_id=key_id), f"API key {key_id} is revoked."
        )
        return RedirectResponse(str(request.url_for("admin:apikeys")), 302)

    @login_required
    async def rotate_key(self, request: Request) -> Response:
        self._admin_only(request)
        key_id = str(request.path_params["key_id"])
        form = await request.form()
        grace = str(form.get("grace", "3600")).strip()
        try:
            if not grace.isdigit():
                raise AdminError("Grace: give a number of seconds")
            made = await self._run(
                request, apikeys.RotateKey(key_id=key_id, grace_seconds=int(grace))
            )
        except AdminError as exc:
            Flash.error(request, f"The key was not rotated: {exc}")
            return RedirectResponse(str(request.url_for("admin:apikeys")), 302)
        return await self._shown_once(
            request,
            {
                "title": "API key rotated",
                "what": f"The new key {made.api_key.id}; the old one works for {grace} s more",
                "value": made.key,
                "back": str(request.url_for("admin:apikeys").path),
            },
        )

    async def _shown_once(self, request: Request, context: dict[str, str]) -> Response:
        """The page that shows a new secret or key, which no cache may keep."""
        response = await self.pages.render(request, "cms/shown_once.html", context)
        response.headers["Cache-Control"] = "no-store"
        return response

    async def _flash_run(self, request: Request, action: Any, done: str) -> None:
        try:
            await self._run(request, action)
        except AdminError as exc:
            Flash.error(request, f"Nothing was changed: {exc}")
        else:
            Flash.success(request, done)


def _int(value: Any) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise HTTPException(404) from None
    if not 1 <= number <= 2_147_483_647:
        raise HTTPException(404)
    return number
