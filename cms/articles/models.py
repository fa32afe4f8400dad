"""The ``Article`` model."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import Enum, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cms.db import TABLE_ARGS, Base, LongText, UTCDateTime, exact_string, utcnow
from cms.fields import BODY_MAX_BYTES, TITLE_MAX_LENGTH

if TYPE_CHECKING:
    from cms.users.models import User


# Markdown can multiply (a reference link used thousands of times); HTML past this is refused.
BODY_HTML_MAX_BYTES = 4 * BODY_MAX_BYTES


class ArticleStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"


class Article(Base):
    __tablename__ = "articles"
    __table_args__ = (
        # The public listing: published articles, newest first.
        Index("ix_articles_status_published_at", "status", "published_at"),
        TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Indexed, like the time columns, because the back office sorts by them: without an
    # index every sort reads the whole table, bodies included (2 s at 100,000 articles).
    title: Mapped[str] = mapped_column(String(TITLE_MAX_LENGTH), index=True)
    slug: Mapped[str] = mapped_column(exact_string(255), unique=True)
    body: Mapped[str] = mapped_column(LongText, default="")
    # Rendered and sanitized once on save, so reads never run Markdown.
    body_html: Mapped[str] = mapped_column(LongText, default="")
    status: Mapped[ArticleStatus] = mapped_column(
        Enum(
            ArticleStatus,
            native_enum=False,
            create_constraint=True,
            length=16,
            name="article_status",
            values_callable=lambda statuses: [status.value for status in statuses],
        ),
        default=ArticleStatus.DRAFT,
    )
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow, index=True
    )
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # Optimistic concurrency: an UPDATE that lost a race fails instead of overwriting.
    version: Mapped[int] = mapped_column(Integer, default=1)

    author: Mapped[User] = relationship(back_populates="articles")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 (SQLAlchemy reads it once)

    def is_visible_at(self, moment: datetime) -> bool:
        """Published, and its publication time has come."""
        return (
            self.status is ArticleStatus.PUBLISHED
            and self.published_at is not None
            and self.published_at <= moment
        )

    def __repr__(self) -> str:
        return f"<Article {self.id} {self.slug!r}>"

    def __str__(self) -> str:
        return self.title
