"""What the feeds and the sitemap list: visible articles only, at the moment of asking.

A scheduled article appears by itself once its time comes (the same visibility rule as
every read; no job has to run).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from cms import permissions
from cms.articles.models import Article, Tag, article_tags
from cms.db import utcnow
from cms.errors import NotFound

FEED_SIZE = 20
# sitemaps.org: at most 50,000 URLs per sitemap file; past that, an index of files.
SITEMAP_URLS = 50_000


def newest_for_feed(
    session: Session, *, tag_slug: str | None = None
) -> tuple[Sequence[Article], Tag | None]:
    """The newest visible articles (of one tag), newest first."""
    tag = None
    stmt = select(Article).where(permissions.published_articles(utcnow()))
    if tag_slug is not None:
        tag = session.scalar(select(Tag).where(Tag.slug == tag_slug))
        if tag is None:
            raise NotFound("Tag not found")
        stmt = stmt.where(
            Article.id.in_(select(article_tags.c.article_id).where(article_tags.c.tag_id == tag.id))
        )
    articles = session.scalars(
        stmt.order_by(Article.published_at.desc(), Article.id.desc())
        .limit(FEED_SIZE)
        .options(
            selectinload(Article.author),
            selectinload(Article.tags),
            selectinload(Article.cover_image),
        )
    ).all()
    if tag is not None and not articles:
        # A tag only drafts or scheduled articles carry is not public yet (its name can
        # say what is coming): as unknown as a tag that does not exist.
        raise NotFound("Tag not found")
    return articles, tag


def visible_count(session: Session) -> int:
    """How many articles anyone may read now."""
    total = session.scalar(
        select(func.count()).select_from(Article).where(permissions.published_articles(utcnow()))
    )
    return int(total or 0)


def sitemap_pages(session: Session, count: int | None = None) -> int:
    """How many sitemap files the visible articles (``count`` of them) fill (at least one)."""
    total = visible_count(session) if count is None else count
    return max(1, -(-total // SITEMAP_URLS))


def sitemap_tags(session: Session, limit: int) -> list[str]:
    """The slugs of at most ``limit`` tags that some visible article carries, by name."""
    if limit <= 0:
        return []
    visible = (
        select(article_tags.c.article_id)
        .join(Article, Article.id == article_tags.c.article_id)
        .where(article_tags.c.tag_id == Tag.id, permissions.published_articles(utcnow()))
        .exists()
    )
    return list(session.scalars(select(Tag.slug).where(visible).order_by(Tag.name).limit(limit)))


def sitemap_entries(session: Session, page: int) -> Iterator[tuple[str, datetime]]:
    """``(slug, lastmod)`` of page ``page`` (from 1) of the visible articles, by id,
    streamed from the database so memory stays flat."""
    stmt = (
        select(Article.slug, Article.updated_at)
        .where(permissions.published_articles(utcnow()))
        .order_by(Article.id)
        .offset((page - 1) * SITEMAP_URLS)
        .limit(SITEMAP_URLS)
        .execution_options(stream_results=True, yield_per=2_000)
    )
    for row in session.execute(stmt):
        yield row.slug, row.updated_at
