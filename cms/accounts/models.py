"""The links sent by email: a password reset, an invitation, an email-change confirmation."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cms.db import TABLE_ARGS, Base, UTCDateTime, exact_string, utcnow
from cms.fields import EMAIL_MAX_LENGTH


class LinkPurpose(StrEnum):
    PASSWORD_RESET = "reset"  # noqa: S105 (a purpose, not a password)
    INVITATION = "invite"
    EMAIL_CHANGE = "email"


class AccountLink(Base):
    """One link sent by mail, and what became of it.

    The token in the link is signed (:mod:`cms.accounts.tokens`) and names this row; the
    row decides whether it still works: not used, not revoked or superseded, not
    expired, and (for a user's own links) issued under the user's current session
    version, so a password changed since kills it. Nothing secret is stored here.
    """

    __tablename__ = "account_links"
    __table_args__ = (Index("ix_account_links_open", "purpose", "email"), TABLE_ARGS)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16))
    # The account a reset or an email change is for; none for an invitation (no
    # account exists until it is accepted; then it names the account made).
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=True, index=True
    )
    # Who is invited, or the new address of an email change, or where a reset went.
    email: Mapped[str] = mapped_column(exact_string(EMAIL_MAX_LENGTH))
    # An invitation's role.
    role: Mapped[str | None] = mapped_column(String(16), nullable=True)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The user's session version when the link was made (resets, email changes).
    session_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
