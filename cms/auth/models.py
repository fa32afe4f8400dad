"""Rate-limit counters, kept in the database so every worker and host shares them."""

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cms.db import TABLE_ARGS, Base, UTCDateTime


class RateLimit(Base):
    """Attempts counted under one key (say, sign-ins for one email from one address)
    within a fixed window that starts with the first attempt."""

    __tablename__ = "rate_limits"
    __table_args__ = TABLE_ARGS

    # A SHA-256 of the scope and subject: fixed length whatever the email or address,
    # and no email address sits in the table in clear.
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    scope: Mapped[str] = mapped_column(String(32))
    hits: Mapped[int] = mapped_column(Integer)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class StaffSession(Base):
    """A signed-in back-office browser.

    The browser holds a random token in its (signed, HttpOnly) cookie; only the token's
    SHA-256 is stored. Deleting the row ends the session for every copy of the cookie:
    that is what logging out, and "sign out my other sessions", do.
    """

    __tablename__ = "staff_sessions"
    __table_args__ = TABLE_ARGS

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    address: Mapped[str | None] = mapped_column(String(45), nullable=True)
    user_agent: Mapped[str] = mapped_column(String(255), default="")
