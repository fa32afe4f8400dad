"""The outbox, webhook endpoints, their deliveries and every attempt made at one.

An :class:`OutboxEvent` is written by the editorial action that caused it, in the same
transaction as the change, its revision and its audit entry: it exists exactly when the
change was committed. The dispatcher (:mod:`cms.webhooks.dispatcher`) turns each due
event into one :class:`WebhookDelivery` per subscribed endpoint and delivers those.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cms.db import TABLE_ARGS, Base, LongText, UTCDateTime, utcnow

URL_MAX_LENGTH = 2000


class OutboxEvent(Base):
    """Something that happened, to be told to every endpoint that listens for its type.

    ``body`` is the whole JSON body sent (``{"type", "timestamp", "data"}``), fixed when
    the event is written, so every retry and every endpoint receives the same bytes.
    """

    __tablename__ = "outbox_events"
    __table_args__ = (
        # What the dispatcher asks: the events not yet fanned out whose time has come.
        Index("ix_outbox_events_pending", "fanned_out", "due_at"),
        Index("ix_outbox_events_object", "object_type", "object_id"),
        TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The Standard Webhooks message id (`webhook-id`): the same on every retry and
    # every redelivery, so receivers can drop duplicates.
    message_id: Mapped[str] = mapped_column(String(40), unique=True)
    type: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(LongText)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Later than created_at for an article scheduled to appear: its article.published
    # waits for that moment (and is withdrawn if the article is rescheduled meanwhile).
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    fanned_out: Mapped[bool] = mapped_column(Boolean, default=False)
    object_type: Mapped[str] = mapped_column(String(32), default="")
    object_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Set for a ping: only that endpoint receives it.
    endpoint_id: Mapped[int | None] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), nullable=True, index=True
    )


class WebhookEndpoint(Base):
    """A URL that receives the events it subscribed to, signed with its own secret."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = TABLE_ARGS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(URL_MAX_LENGTH))
    # The event types it receives, as a JSON list; empty: every type.
    events: Mapped[str] = mapped_column(Text, default="[]")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # The whsec_ secret, encrypted under the site's key (see cms.webhooks.signing): it
    # must be readable to sign, and a copy of the database alone must not let anyone
    # forge our deliveries.
    secret: Mapped[str] = mapped_column(String(255))
    # After a rotation the old secret signs too (a second signature in the header) until
    # previous_expires_at, so receivers can switch without missing a delivery.
    previous_secret: Mapped[str | None] = mapped_column(String(255), nullable=True)
    previous_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Why the endpoint was disabled (a 410, retries exhausted), shown to its owner.
    disabled_reason: Mapped[str] = mapped_column(String(255), default="")
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    def __repr__(self) -> str:
        return f"<WebhookEndpoint {self.id} {self.url!r}>"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # the last retry failed, or the endpoint was disabled or removed


class WebhookDelivery(Base):
    """One event on its way to one endpoint, across as many attempts as it takes.

    A dispatcher claims a due delivery by moving ``next_attempt_at`` a lease ahead and
    writing its own ``lease`` token: a dispatcher that dies mid-delivery leaves it due
    again when the lease runs out, and an outcome is recorded only by the lease holder.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(
        ForeignKey("outbox_events.id", ondelete="CASCADE"), index=True
    )
    endpoint_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str] = mapped_column(String(255), default="")


# The first kilobyte of a receiver's answer is kept, enough to see what it said.
RESPONSE_KEPT = 1024


class WebhookAttempt(Base):
    """One POST of a delivery and what came back: the delivery log."""

    __tablename__ = "webhook_attempts"
    __table_args__ = TABLE_ARGS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    # None: no answer (refused target, connection error, timeout; see error).
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(String(255), default="")
    response: Mapped[str] = mapped_column(Text, default="")
