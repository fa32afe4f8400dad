"""API keys, stored as a SHA-256 of their secret."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from cms.db import TABLE_ARGS, Base, UTCDateTime, exact_string, utcnow

KEY_ID_LENGTH = 12


class ApiKey(Base):
    """A key ``cms_<id>_<secret><checksum>``: the id is public (it finds the row), the
    secret is 256 random bits of which only the SHA-256 is kept.

    A fast hash, not argon2: the secret is random, so nothing is gained by slowing down
    a guess, and every request with a key pays the hash."""

    __tablename__ = "api_keys"
    __table_args__ = TABLE_ARGS

    id: Mapped[str] = mapped_column(exact_string(KEY_ID_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    # None: an admin's integration key, owned by nobody. A user's key acts as that user
    # (capped by their role) and is deleted with them.
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=True, index=True
    )
    # Space-separated, e.g. "content:read drafts:read".
    scopes: Mapped[str] = mapped_column(String(255))
    secret_hash: Mapped[str] = mapped_column(String(64))
    # After a rotation the previous secret keeps working until previous_expires_at.
    previous_secret_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    previous_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Written at most once a minute, after the request that used the key.
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    def __repr__(self) -> str:
        return f"<ApiKey {self.id} {self.name!r}>"
