"""Failed-login bookkeeping, kept in the database so every worker and host shares it."""

from datetime import datetime

from sqlalchemy import Integer
from sqlalchemy.orm import Mapped, mapped_column

from cms.db import TABLE_ARGS, Base, UTCDateTime, exact_string
from cms.users.models import EMAIL_MAX_LENGTH


class LoginThrottle(Base):
    """Failures for one login name within the current window."""

    __tablename__ = "login_throttles"
    __table_args__ = TABLE_ARGS

    # The normalized email that was tried, whether or not an account has it.
    login: Mapped[str] = mapped_column(exact_string(EMAIL_MAX_LENGTH), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
