"""Rate-limit counters, kept in the database so every worker and host shares them."""

from datetime import datetime

from sqlalchemy import Integer, String
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
