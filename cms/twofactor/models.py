"""Two-factor credentials, recovery codes and the site's policy."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cms.db import TABLE_ARGS, Base, UTCDateTime, utcnow


class TwoFactorCredential(Base):
    """A user's TOTP seed, sealed under the site key (:mod:`cms.sealing`), never in clear.

    ``secret`` is the one in force (two-factor is on when it is set); ``pending_secret``
    is one shown for enrolment and not yet confirmed with a code, so setting up a new
    phone does not switch off the old one before the new one works."""

    __tablename__ = "two_factor_credentials"
    __table_args__ = TABLE_ARGS

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    secret: Mapped[str | None] = mapped_column(String(255), nullable=True)
    pending_secret: Mapped[str | None] = mapped_column(String(255), nullable=True)
    enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The 30-second step of the last accepted code: a code is accepted only for a later
    # step, so none is accepted twice (RFC 6238 section 5.2).
    last_used_step: Mapped[int | None] = mapped_column(Integer, nullable=True)


class RecoveryCode(Base):
    """One single-use recovery code, as an HMAC-SHA256 keyed with a key derived from the
    site key (:func:`cms.twofactor.codes.recovery_digest`).

    A fast keyed hash, not argon2: the codes are random (49.5 bits), so slowing a guess
    down gains nothing against the online attempts the throttle already bounds, while
    checking one against ten argon2 hashes would cost 0.36 s per sign-in (36 ms each, 4 us
    for the HMAC); the key means a copy of the database alone cannot be searched offline."""

    __tablename__ = "recovery_codes"
    __table_args__ = TABLE_ARGS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class TwoFactorPolicy(Base):
    """The site's one policy row (id 1): who must sign in with two factors."""

    __tablename__ = "two_factor_policy"
    __table_args__ = TABLE_ARGS

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    # A cms.twofactor.codes.Requirement value.
    required_for: Mapped[str] = mapped_column(String(16), default="nobody")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
