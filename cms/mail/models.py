"""The mail queue: one row per message to send, written in the transaction of the change
that sends it (so it exists exactly when that change was committed)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cms.db import TABLE_ARGS, Base, UTCDateTime, utcnow
from cms.fields import EMAIL_MAX_LENGTH


class MailStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    # Nothing to send after all (a reset asked for an address without an account).
    SKIPPED = "skipped"
    FAILED = "failed"  # the last retry failed


class QueuedMail(Base):
    """A message on its way: what kind it is and what it needs, not its text.

    The text is composed when it is sent (:mod:`cms.mail.worker`), so a link it carries
    is made then and never sits in the table, and a request that asks for mail does the
    same work whether or not there turns out to be anyone to write to."""

    __tablename__ = "mail_outbox"
    __table_args__ = (Index("ix_mail_outbox_due", "status", "next_attempt_at"), TABLE_ARGS)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    to_address: Mapped[str] = mapped_column(String(EMAIL_MAX_LENGTH))
    # What the kind's composer needs, as JSON (ids, a base URL; never a password).
    data: Mapped[str] = mapped_column(Text, default="{}")
    status: Mapped[str] = mapped_column(String(16), default=MailStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The worker holding it (see cms.webhooks.models.WebhookDelivery for the scheme).
    lease: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str] = mapped_column(String(255), default="")
