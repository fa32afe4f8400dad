"""Articles as the ORM reads them: one article (to change it), its history, tag counts,
someone's articles, the trash. Each read takes a session and the viewer, and applies
:mod:`cms.permissions`; :class:`~cms.errors.NotFound` where the viewer may not look.

Writes are the action classes of :mod:`cms.articles.actions`; the public read path
(one statement per article or page) is :mod:`cms.articles.reads`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, load_only, selectinload

from cms import permissions
from cms.actors import Actor
from cms.articles.etags import matches
from cms.articles.models import (
    TRASH_DAYS,
    Article,
    ArticleRevision,
    ArticleStatus,
    TrashedArticle,
)
from cms.articles.projection import article_etag
from cms.db import utcnow
from cms.errors import (
    NotFound,
    PermissionDenied,
)

ARTICLE_NOT_FOUND = "Article not found"
_WITH_AUTHOR_AND_TAGS = (selectinload(Article.author), selectinload(Article.tags))


# Reading


def get_visible_article(
    session: Session,
    *,
    viewer: Actor | None,
    article_id: int,
    for_update: bool = False,
) -> Article:
    """The article if ``viewer`` may read it, else :class:`NotFound`.

    ``for_update`` locks the row so concurrent edits queue instead of failing.
    """
    stmt = (
        select(Article)
        .where(Article.id == article_id, permissions.visible_articles(viewer, utcnow()))
        .options(*_WITH_AUTHOR_AND_TAGS)
    )
    article = session.scalar(stmt.with_for_update() if for_update else stmt)
    if article is None:
        raise NotFound(ARTICLE_NOT_FOUND)
    return article


def newest_articles_by_author(
    session: Session, *, viewer: Actor | None, author_ids: Sequence[int], limit: int
) -> tuple[dict[int, list[ArticleSummaryRow]], dict[int, int]]:
    """For each author: up to ``limit`` newest articles ``viewer`` may see, as summaries
    (no bodies), and how many there are. Two statements whatever the number of authors
    (a window function picks each author's newest)."""
    if not author_ids:
        return {}, {}
    visible = permissions.visible_articles(viewer, utcnow())
    ranked = (
        select(
            Article.id,
            Article.title,
            Article.slug,
            Article.status,
            Article.published_at,
            Article.updated_at,
            Article.author_id,
            func.row_number()
            .over(
                partition_by=Article.author_id,
                order_by=(Article.created_at.desc(), Article.id.desc()),
            )
            .label("position"),
        )
        .where(Article.author_id.in_(author_ids), visible)
        .subquery()
    )
    rows = session.execute(
        select(ranked)
        .where(ranked.c.position <= limit)
        .order_by(ranked.c.author_id, ranked.c.position)
    ).all()
    articles: dict[int, list[ArticleSummaryRow]] = {author_id: [] for author_id in author_ids}
    for row in rows:
        articles[row.author_id].append(
            ArticleSummaryRow(
                id=row.id,
                title=row.title,
                slug=row.slug,
                status=ArticleStatus(row.status),
                published_at=row.published_at,
                updated_at=row.updated_at,
            )
        )
    counts: dict[int, int] = {
        author_id: count
        for author_id, count in session.execute(
            select(Article.author_id, func.count())
            .where(Article.author_id.in_(author_ids), visible)
            .group_by(Article.author_id)
        )
    }
    return articles, {author_id: counts.get(author_id, 0) for author_id in author_ids}


@dataclass(frozen=True)
class ArticleSummaryRow:
    """An article as a list of someone's articles shows it: no body."""

    id: int
    title: str
    slug: str
    status: ArticleStatus
    published_at: datetime | None
    updated_at: datetime


REVISIONS_PAGE = 100


def list_revisions(
    session: Session,
    *,
    viewer: Actor | None,
    article_id: int,
    skip: int = 0,
    limit: int = REVISIONS_PAGE,
) -> Sequence[ArticleRevision]:
    """A page of the article's saved versions, newest first, without their bodies."""
    _check_history(session, viewer, article_id)
    return session.scalars(
        select(ArticleRevision)
        .where(ArticleRevision.article_id == article_id)
        .options(
            load_only(
                ArticleRevision.number,
                ArticleRevision.title,
                ArticleRevision.status,
                ArticleRevision.published_at,
                ArticleRevision.saved_at,
                ArticleRevision.saved_by_name,
            )
        )
        .order_by(ArticleRevision.number.desc())
        .offset(skip)
        .limit(limit)
    ).all()


def get_revision(
    session: Session, *, viewer: Actor | None, article_id: int, number: int
) -> ArticleRevision:
    _check_history(session, viewer, article_id)
    revision = session.scalar(
        select(ArticleRevision).where(
            ArticleRevision.article_id == article_id, ArticleRevision.number == number
        )
    )
    if revision is None:
        raise NotFound("Revision not found")
    return revision


def latest_revision(session: Session, *, viewer: Actor | None, article_id: int) -> ArticleRevision:
    """The revision that holds the article's current content."""
    _check_history(session, viewer, article_id)
    return session.scalars(
        select(ArticleRevision)
        .where(ArticleRevision.article_id == article_id)
        .order_by(ArticleRevision.number.desc())
        .limit(1)
    ).one()


def _check_history(session: Session, viewer: Actor | None, article_id: int) -> None:
    """An article's history is for those who may edit it: earlier versions can hold what
    was taken out of the published text on purpose."""
    article = get_visible_article(session, viewer=viewer, article_id=article_id)
    if not permissions.can_read_history(viewer, article):
        raise PermissionDenied("Only the article's author and editors may read its history")


@dataclass(frozen=True)
class ChangedSince:
    """What happened to an article after some version of it was read."""

    saved_by: str
    saved_at: datetime
    fields: list[str]
    # The revision that was read (None if that version has no revision).
    opened: int | None
    current: int


def changes_since(session: Session, *, article_id: int, version: int) -> ChangedSince:
    """Who saved the article last, when, and which fields differ from ``version``."""
    latest = session.scalars(
        select(ArticleRevision)
        .where(ArticleRevision.article_id == article_id)
        .order_by(ArticleRevision.number.desc())
        .limit(1)
    ).one()
    opened = session.scalars(
        select(ArticleRevision)
        .where(ArticleRevision.article_id == article_id, ArticleRevision.version <= version)
        .order_by(ArticleRevision.number.desc())
        .limit(1)
    ).first()
    fields = [
        field
        for field in ("title", "slug", "body", "status", "published_at", "tags")
        if opened is None or getattr(opened, field) != getattr(latest, field)
    ]
    return ChangedSince(
        saved_by=latest.saved_by_name,
        saved_at=latest.saved_at,
        fields=fields,
        opened=opened.number if opened is not None else None,
        current=latest.number,
    )


def revision_tags(revision: ArticleRevision) -> list[str]:
    names: list[str] = json.loads(revision.tags)
    return names


# The trash


@dataclass(frozen=True)
class TrashPage:
    items: Sequence[TrashedArticle]
    total: int


def list_trash(
    session: Session, *, viewer: Actor | None, skip: int = 0, limit: int = 50
) -> TrashPage:
    """Deleted articles ``viewer`` may still restore (admins: all; others: what they
    deleted themselves), most recently deleted first."""
    live = (TrashedArticle.deleted_at >= trash_cutoff(), permissions.visible_trash(viewer))
    items = session.scalars(
        select(TrashedArticle)
        .where(*live)
        .order_by(TrashedArticle.deleted_at.desc(), TrashedArticle.id.desc())
        .offset(skip)
        .limit(limit)
    ).all()
    total = session.scalar(select(func.count()).select_from(TrashedArticle).where(*live)) or 0
    return TrashPage(items=items, total=total)


def trash_cutoff() -> datetime:
    """Deleted before this, an article is purged."""
    return utcnow() - timedelta(days=TRASH_DAYS)


# Details


def etag_matches(if_match: str, article: Article) -> bool:
    """Whether an ``If-Match`` value names the article's current version (``*`` always)."""
    return matches(if_match, article_etag(article))
