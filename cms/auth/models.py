"""Rate-limit counters, kept in the database so every worker and host shares them."""

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from cms.db import TABLE_ARGS, Base, UTCDateTime, exact_string


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


class Passkey(Base):
    """A WebAuthn credential a staff member signs in with instead of a password.

    The authenticator keeps the private key; the CMS keeps the public key, and the
    signature counter the authenticator last reported (a counter that does not go up,
    once it is counting, is a cloned authenticator: refused).
    """

    __tablename__ = "passkeys"
    __table_args__ = TABLE_ARGS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # The credential id, base64url (at most 1023 bytes by the specification), and its
    # SHA-256: a fixed-length key that indexes on every backend.
    credential_key: Mapped[str] = mapped_column(String(64), unique=True)
    credential_id: Mapped[str] = mapped_column(exact_string(1400))
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    # An unsigned 32-bit counter: past a signed INTEGER's range.
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    # How the browser may reach the authenticator ("internal hybrid usb"), as it said.
    transports: Mapped[str] = mapped_column(String(255), default="")
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class PasskeyChallenge(Base):
    """A challenge handed to one browser for one passkey ceremony, usable once.

    The browser's signed session cookie holds the challenge too (so only the browser
    that asked can answer it); this row makes it single-use across every worker: the
    answer deletes it, and a second answer finds nothing.
    """

    __tablename__ = "passkey_challenges"
    __table_args__ = TABLE_ARGS

    # SHA-256 of the challenge.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16))
    # Who is registering (None when signing in: the passkey says who).
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=True, index=True
    )
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
