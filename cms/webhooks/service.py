"""Managing webhook endpoints: add, list, remove, send a test, redeliver.

Each change is an action (see :mod:`cms.actions`), admins only, audited. A new
endpoint's secret is returned once, by :class:`AddEndpoint`; what is stored is sealed
under the site's key (:mod:`cms.webhooks.signing`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from typing import ClassVar, Generic, TypeVar

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cms import permissions
from cms.actions import Action
from cms.actors import Actor
from cms.audit import service as audit
from cms.db import UnitOfWork, utcnow
from cms.errors import InvalidInput, NotFound, PermissionDenied
from cms.webhooks import outbox, signing, targets
from cms.webhooks.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)

ONLY_ADMINS = "Only admins may manage webhooks"
T = TypeVar("T")


@dataclass(frozen=True)
class NewEndpoint:
    """An endpoint just added, with the one and only copy of its secret in clear."""

    endpoint: WebhookEndpoint
    secret: str


def subscribed_events(endpoint: WebhookEndpoint) -> list[str]:
    """The event types ``endpoint`` receives; empty means every type."""
    events: list[str] = json.loads(endpoint.events)
    return events


def receives(endpoint: WebhookEndpoint, event_type: str) -> bool:
    events = subscribed_events(endpoint)
    return not events or event_type in events


def _checked_events(events: Sequence[str]) -> list[str]:
    unknown = sorted(set(events) - set(outbox.EVENT_TYPES))
    if unknown:
        raise InvalidInput(
            "events",
            f"Unknown event type {unknown[0]!r}; choose from {', '.join(outbox.EVENT_TYPES)}",
        )
    return sorted(set(events))


@dataclass(frozen=True, kw_only=True)
class AddEndpoint(Action[NewEndpoint]):
    """Add an endpoint for ``url`` receiving ``events`` (none: every type).

    The URL must resolve to public addresses only unless ``allow_private``
    (``CMS_WEBHOOKS_ALLOW_PRIVATE_TARGETS``); it is checked again at every delivery."""

    name: ClassVar[str] = "add_webhook"
    url: str
    events: tuple[str, ...] = ()
    site_key: str
    allow_private: bool = False

    @cached_property
    def _secret(self) -> str:
        return signing.new_secret()

    def prepare(self) -> None:
        """Check the URL's form before the transaction begins."""
        targets.parse(self.url)
        self._secret  # noqa: B018 (computed and kept)

    def __call__(self, uow: UnitOfWork) -> NewEndpoint:
        if not permissions.can_manage_webhooks(uow.actor):
            raise PermissionDenied(ONLY_ADMINS)
        # Resolved only for someone allowed to add endpoints: to anyone else, what a
        # host resolves to from inside our network is none of their business.
        targets.resolve(self.url, allow_private=self.allow_private)
        endpoint = WebhookEndpoint(
            url=self.url,
            events=json.dumps(_checked_events(self.events)),
            enabled=True,
            secret=signing.seal(self._secret, self.site_key),
            created_at=utcnow(),
            disabled_reason="",
        )
        uow.session.add(endpoint)
        uow.session.flush()
        audit.record(
            uow,
            action=self.name,
            object_type="webhook",
            object_id=endpoint.id,
            object_repr=self.url,
            changes={"events": (None, subscribed_events(endpoint))},
        )
        return NewEndpoint(endpoint=endpoint, secret=self._secret)


@dataclass(frozen=True, kw_only=True)
class RotateSecret(Action[NewEndpoint]):
    """Give an endpoint a new secret; deliveries carry a signature with the old one too
    for ``grace_seconds``, so the receiver can switch without missing one."""

    name: ClassVar[str] = "rotate_webhook_secret"
    endpoint_id: int
    site_key: str
    grace_seconds: int = 86_400

    @cached_property
    def _secret(self) -> str:
        return signing.new_secret()

    def __call__(self, uow: UnitOfWork) -> NewEndpoint:
        if not 0 <= self.grace_seconds <= 30 * 86_400:
            raise InvalidInput("grace", "The grace period is 0 to 2592000 seconds (30 days)")
        endpoint = _endpoint(uow, self.endpoint_id)
        if self.grace_seconds:
            endpoint.previous_secret = endpoint.secret
            endpoint.previous_expires_at = utcnow() + timedelta(seconds=self.grace_seconds)
        else:
            endpoint.previous_secret = None
            endpoint.previous_expires_at = None
        endpoint.secret = signing.seal(self._secret, self.site_key)
        uow.session.flush()
        audit.record(
            uow,
            action=self.name,
            object_type="webhook",
            object_id=endpoint.id,
            object_repr=endpoint.url,
        )
        return NewEndpoint(endpoint=endpoint, secret=self._secret)


@dataclass(frozen=True, kw_only=True)
class RemoveEndpoint(Action[None]):
    """Remove an endpoint with its deliveries and their log."""

    name: ClassVar[str] = "remove_webhook"
    endpoint_id: int

    def __call__(self, uow: UnitOfWork) -> None:
        endpoint = _endpoint(uow, self.endpoint_id)
        uow.session.delete(endpoint)
        uow.session.flush()
        audit.record(
            uow,
            action=self.name,
            object_type="webhook",
            object_id=self.endpoint_id,
            object_repr=endpoint.url,
        )


@dataclass(frozen=True, kw_only=True)
class SendPing(Action[int]):
    """Send a ``ping`` event to one endpoint (the back office's *Send test*); its id."""

    name: ClassVar[str] = "ping_webhook"
    endpoint_id: int

    def __call__(self, uow: UnitOfWork) -> int:
        endpoint = _endpoint(uow, self.endpoint_id)
        event = outbox.emit(
            uow,
            "ping",
            {"endpoint_id": endpoint.id},
            object_type="webhook",
            object_id=endpoint.id,
            endpoint_id=endpoint.id,
        )
        uow.session.flush()
        audit.record(
            uow,
            action=self.name,
            object_type="webhook",
            object_id=endpoint.id,
            object_repr=endpoint.url,
        )
        return event.id


@dataclass(frozen=True, kw_only=True)
class Redeliver(Action[None]):
    """Send a delivery again now, with the same ``webhook-id`` (and enable its endpoint
    again if it had been disabled)."""

    name: ClassVar[str] = "redeliver_webhook"
    delivery_id: int

    def __call__(self, uow: UnitOfWork) -> None:
        if not permissions.can_manage_webhooks(uow.actor):
            raise PermissionDenied(ONLY_ADMINS)
        delivery = uow.session.get(WebhookDelivery, self.delivery_id, with_for_update=True)
        if delivery is None:
            raise NotFound("No such delivery")
        endpoint = _endpoint(uow, delivery.endpoint_id)
        endpoint.enabled = True
        endpoint.disabled_reason = ""
        endpoint.disabled_at = None
        delivery.status = DeliveryStatus.PENDING
        delivery.next_attempt_at = utcnow()
        delivery.lease = None
        uow.session.flush()
        audit.record(
            uow,
            action=self.name,
            object_type="webhook",
            object_id=endpoint.id,
            object_repr=endpoint.url,
        )


@dataclass(frozen=True)
class Managing(Generic[T]):
    """Other work on webhooks, run through the unit of work (so an API key needs
    ``webhooks:manage`` for it, see :func:`cms.deps.scope_for`)."""

    work: Callable[[UnitOfWork], T]

    def __call__(self, uow: UnitOfWork) -> T:
        if not permissions.can_manage_webhooks(uow.actor):
            raise PermissionDenied(ONLY_ADMINS)
        return self.work(uow)


def disable(session: Session, endpoint_id: int, reason: str) -> None:
    """Stop sending to an endpoint, saying why; its pending deliveries fail with it."""
    now = utcnow()
    session.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id)
        .values(enabled=False, disabled_reason=reason[:255], disabled_at=now)
    )
    session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.endpoint_id == endpoint_id,
            WebhookDelivery.status == DeliveryStatus.PENDING,
        )
        .values(status=DeliveryStatus.FAILED, lease=None, last_error="endpoint disabled")
    )


def list_endpoints(session: Session, viewer: Actor | None) -> Sequence[WebhookEndpoint]:
    """Every endpoint, oldest first."""
    if not permissions.can_manage_webhooks(viewer):
        raise PermissionDenied(ONLY_ADMINS)
    return session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id)).all()


def deliveries(
    session: Session, viewer: Actor | None, *, endpoint_id: int, limit: int = 50
) -> Sequence[WebhookDelivery]:
    """An endpoint's newest deliveries."""
    if not permissions.can_manage_webhooks(viewer):
        raise PermissionDenied(ONLY_ADMINS)
    return session.scalars(
        select(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint_id)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
    ).all()


def attempts(session: Session, viewer: Actor | None, delivery_id: int) -> Sequence[WebhookAttempt]:
    """One delivery's attempts, first first."""
    if not permissions.can_manage_webhooks(viewer):
        raise PermissionDenied(ONLY_ADMINS)
    return session.scalars(
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id == delivery_id)
        .order_by(WebhookAttempt.number)
    ).all()


def _endpoint(uow: UnitOfWork, endpoint_id: int) -> WebhookEndpoint:
    if not permissions.can_manage_webhooks(uow.actor):
        raise PermissionDenied(ONLY_ADMINS)
    endpoint = uow.session.get(WebhookEndpoint, endpoint_id, with_for_update=True)
    if endpoint is None:
        raise NotFound("No webhook endpoint with that id")
    return endpoint
