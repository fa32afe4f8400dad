"""Preview links, stored as a SHA-256 of their secret."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cms.db import TABLE_ARGS, Base, UTCDateTime, utcnow
from cms.fields import NAME_MAX_LENGTH

# How long a link may open its article: 7 days unless the sharer chooses, at most 30.
DEFAULT_EXPIRES_IN = timedelta(days=7)
LONGEST_EXPIRES_IN = timedelta(days=30)
SHORTEST_EXPIRES_IN = timedelta(minutes=1)
# Names as the audit trail writes them (a system actor gets " (system)").
_NAME_LENGTH = NAME_MAX_LENGTH + 8


class PreviewLink(Base):
    """One shared preview of an article: who shared it and when, until when it opens the
    article, and whether (and by whom) it was revoked.

    Deleted with its article: moving an article to the trash ends its links for good
    (restoring the article does not bring them back). The people are kept by id and by
    name, without foreign keys, like a revision's author: a link reads right after its
    creator is renamed or deleted.
    """

    __tablename__ = "preview_links"
    __table_args__ = TABLE_ARGS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), index=True
    )
    # SHA-256 of the token's secret, hex; the token itself is never stored.
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_by_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_by_name: Mapped[str] = mapped_column(String(_NAME_LENGTH), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_by_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    revoked_by_name: Mapped[str | None] = mapped_column(String(_NAME_LENGTH), nullable=True)

    def is_active_at(self, moment: datetime) -> bool:
        """Whether the link opens its article at ``moment`` (the SQL is
        :func:`cms.permissions.previewable_articles`)."""
        return self.revoked_at is None and self.expires_at > moment

    def __repr__(self) -> str:
        return f"<PreviewLink {self.id} article={self.article_id}>"
