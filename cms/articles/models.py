"""Articles and what belongs to them: tags, revisions, the slugs they had, and the trash."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import (
    Column,
    ColumnElement,
    Enum,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    UniqueConstraint,
    and_,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cms.db import TABLE_ARGS, Base, LongText, UTCDateTime, exact_string, utcnow
from cms.fields import NAME_MAX_LENGTH, TAG_MAX_LENGTH, TITLE_MAX_LENGTH

if TYPE_CHECKING:
    from cms.media.models import MediaAsset
    from cms.users.models import User


# How long a deleted article can be restored.
TRASH_DAYS = 30


class ArticleStatus(StrEnum):
    """What is stored: a draft, or published (from ``published_at`` on)."""

    DRAFT = "draft"
    PUBLISHED = "published"


class ArticleState(StrEnum):
    """What an article is at a given moment, the one word every surface shows: a draft,
    scheduled (published with a time still to come), or published (readers see it)."""

    DRAFT = "draft"
    SCHEDULED = "scheduled"
    PUBLISHED = "published"


def state_of(
    status: ArticleStatus | str, published_at: datetime | None, moment: datetime
) -> ArticleState:
    """The state of stored ``status`` and ``published_at`` at ``moment``; the row twin of
    :meth:`Article.in_state` (a test holds the two to the same answers)."""
    if ArticleStatus(status) is ArticleStatus.DRAFT:
        return ArticleState.DRAFT
    # The actions never store a published row without a time, nor a draft with one.
    if published_at is not None and published_at > moment:
        return ArticleState.SCHEDULED
    return ArticleState.PUBLISHED


def _status_column() -> Enum:
    return Enum(
        ArticleStatus,
        native_enum=False,
        create_constraint=True,
        length=16,
        name="article_status",
        values_callable=lambda statuses: [status.value for status in statuses],
    )


article_tags = Table(
    "article_tags",
    Base.metadata,
    Column("article_id", Integer, ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", Integer, ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
    # The tag filter and the tag counts start from the tag.
    Index("ix_article_tags_tag_id_article_id", "tag_id", "article_id"),
    mysql_engine="InnoDB",
    mysql_charset="utf8mb4",
)


class Tag(Base):
    """A label articles share. ``name`` is shown; ``slug`` identifies it (one tag however
    it is capitalised or spaced)."""

    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(TAG_MAX_LENGTH))
    slug: Mapped[str] = mapped_column(exact_string(TAG_MAX_LENGTH + 12), unique=True)
    # Kept by cms.articles.tag_counts in the transaction of every change, so no read
    # counts articles. ``published_count`` includes scheduled articles (they become
    # visible with no write at all); ``tagged_count`` is every article, drafts too:
    # at 0 the tag is removed.
    published_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    tagged_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __table_args__ = (
        # GET /tags/ in name order, and by name prefix.
        Index("ix_tags_name", "name", "id"),
        TABLE_ARGS,
    )

    def __str__(self) -> str:
        return self.name


# GET /tags/?order=-article_count: most used first, ties by name, straight from the index.
Index("ix_tags_popular", Tag.published_count.desc(), Tag.name, Tag.id)


class ArticleCount(Base):
    """How many articles one author has in one stored status, kept by every write
    (:mod:`cms.articles.counts`) so that no count reads the articles table."""

    __tablename__ = "article_counts"
    __table_args__ = (TABLE_ARGS,)

    # No foreign key: a count of 0 may outlive its author for a moment, and a count
    # must never stop a user from being deleted.
    author_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    status: Mapped[ArticleStatus] = mapped_column(_status_column(), primary_key=True)
    articles: Mapped[int] = mapped_column(Integer, server_default=text("0"))


class Article(Base):
    __tablename__ = "articles"
    __table_args__ = (
        # The public lists, one index per order: the visible rows in (key, id) order,
        # so a keyset page deep in the list costs what the first page costs.
        Index("ix_articles_public_published", "status", "published_at", "id"),
        Index("ix_articles_public_created", "status", "created_at", "id"),
        Index("ix_articles_public_updated", "status", "updated_at", "id"),
        Index("ix_articles_public_title", "status", "title", "id"),
        # One author's articles, newest first (also serves the author foreign key).
        Index("ix_articles_author_listing", "author_id", "status", "published_at", "id"),
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
    status: Mapped[ArticleStatus] = mapped_column(_status_column(), default=ArticleStatus.DRAFT)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow, index=True
    )
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # Optimistic concurrency: an UPDATE that lost a race fails instead of overwriting.
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Which renderer (cms.articles.rendering.RENDERER_VERSION) wrote body_html; 0 when not
    # known, so that `cms rerender` brings the row up to date.
    rendered_with: Mapped[int] = mapped_column(SmallInteger, server_default=text("0"))
    # The picture shown with it (cms.media); the asset's own alt text describes it.
    cover_image_id: Mapped[int | None] = mapped_column(
        ForeignKey("media_assets.id", ondelete="SET NULL"), nullable=True, index=True
    )

    author: Mapped[User] = relationship(back_populates="articles")
    # In the order they were given; shown sorted by name.
    tags: Mapped[list[Tag]] = relationship(secondary=article_tags, order_by=Tag.name)
    # Loaded with the article (a second, keyed SELECT): every surface shows it, and the
    # actions hand back articles whose session has closed.
    cover_image: Mapped[MediaAsset | None] = relationship(lazy="selectin")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 (SQLAlchemy reads it once)

    # "Public" is defined here once, twice spelled: as SQL, which filters every query
    # (lists, single reads, feeds: cms.permissions builds on it), and on a loaded row,
    # for what is shown about it (a badge, a link). Change both or neither.

    @classmethod
    def visible_at(cls, moment: datetime | ColumnElement[datetime]) -> ColumnElement[bool]:
        """SQL: published, and its publication time has come."""
        return and_(
            cls.status == ArticleStatus.PUBLISHED,
            cls.published_at.is_not(None),
            cls.published_at <= moment,
        )

    @classmethod
    def in_state(cls, state: ArticleState | str, moment: datetime) -> ColumnElement[bool]:
        """SQL: articles that are in ``state`` at ``moment`` (see :func:`state_of`)."""
        state = ArticleState(state)
        if state is ArticleState.DRAFT:
            return cls.status == ArticleStatus.DRAFT
        if state is ArticleState.SCHEDULED:
            return and_(cls.status == ArticleStatus.PUBLISHED, cls.published_at > moment)
        return cls.visible_at(moment)

    def state_at(self, moment: datetime) -> ArticleState:
        return state_of(self.status, self.published_at, moment)

    def is_visible_at(self, moment: datetime) -> bool:
        """This row: published, and its publication time has come."""
        return self.state_at(moment) is ArticleState.PUBLISHED

    def __repr__(self) -> str:
        return f"<Article {self.id} {self.slug!r}>"

    def __str__(self) -> str:
        return self.title


class ArticleRevision(Base):
    """One saved version of an article, numbered from 1: what it said, who saved it, when.

    Not tied to the article by a foreign key: an article in the trash keeps its history
    until it is purged. ``saved_by_name`` is kept so the history reads the same after
    the user is renamed, deactivated or deleted.
    """

    __tablename__ = "article_revisions"
    __table_args__ = (
        UniqueConstraint("article_id", "number", name="uq_article_revisions_article_id_number"),
        TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(Integer)
    number: Mapped[int] = mapped_column(Integer)
    # The article's version once this was saved: what an open form or an ETag names.
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(TITLE_MAX_LENGTH))
    slug: Mapped[str] = mapped_column(exact_string(255))
    body: Mapped[str] = mapped_column(LongText, default="")
    status: Mapped[ArticleStatus] = mapped_column(_status_column())
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The tag names, as a JSON list.
    tags: Mapped[str] = mapped_column(LongText, default="[]")
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime)
    saved_by_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    saved_by_name: Mapped[str] = mapped_column(String(NAME_MAX_LENGTH), default="")

    @property
    def state(self) -> ArticleState:
        """What the article was when this was saved (a future time then: scheduled)."""
        return state_of(self.status, self.published_at, self.saved_at)


class ArticleSlug(Base):
    """A slug an article had before: ``GET /articles/slug/{old}`` redirects to the article."""

    __tablename__ = "article_slugs"
    __table_args__ = TABLE_ARGS

    slug: Mapped[str] = mapped_column(exact_string(255), primary_key=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), index=True
    )
    retired_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TrashedArticle(Base):
    """A deleted article, kept for :data:`TRASH_DAYS` days so it can be restored.

    The article row leaves ``articles`` (every public query stays as lean as before); its
    whole state is kept here as JSON, its revisions stay where they are.
    """

    __tablename__ = "trashed_articles"
    __table_args__ = TABLE_ARGS

    # The article's own id, so a restore brings it back under the same address.
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(TITLE_MAX_LENGTH))
    deleted_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    deleted_by_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    deleted_by_name: Mapped[str] = mapped_column(String(NAME_MAX_LENGTH), default="")
    snapshot: Mapped[str] = mapped_column(LongText)

    def __str__(self) -> str:
        return self.title
