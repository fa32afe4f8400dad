"""What an article is to a reader, computed in one place: its public shape and its ETag.

Both ways of reading an article produce the same values from here: the ORM path (a
loaded :class:`~cms.articles.models.Article`, after a write) and the Core read path (a
plain row of :mod:`cms.articles.reads`). The feeds, the back office and the API all use
them, so a 304 can never disagree with the 200 it stands for. The state (draft,
scheduled, published) is :func:`cms.articles.models.state_of`; the author's display name
is :func:`cms.users.models.display_name`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from cms.articles.etags import etag_for
from cms.articles.models import Article, ArticleStatus
from cms.media.projection import cover_from_row, cover_tag, from_asset
from cms.schemas import iso_utc
from cms.site.urls import SiteAddresses
from cms.users.models import display_name


def public_article(
    *,
    id: int,
    title: str,
    slug: str,
    body: str,
    body_html: str,
    status: ArticleStatus | str,
    published_at: datetime | None,
    created_at: datetime,
    updated_at: datetime,
    author_id: int,
    author_name: str | None,
    tags: Iterable[str | None],
    version: int,
    addresses: SiteAddresses,
    cover_image: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The API's article (``ArticlePublic``), as JSON-ready values. Its ``url`` is the
    public address ``addresses`` give it (it changes only with the slug, which bumps the
    version, so the ETag covers it)."""
    return {
        "id": id,
        "title": title,
        "slug": slug,
        "url": addresses.article(slug),
        "body": body,
        "body_html": body_html,
        "status": ArticleStatus(status).value,
        "published_at": iso_utc(published_at) if published_at is not None else None,
        "created_at": iso_utc(created_at),
        "updated_at": iso_utc(updated_at),
        "author_id": author_id,
        "author": display_name(author_name, author_id),
        "tags": sorted(name for name in tags if name is not None),
        "version": version,
        "cover_image": cover_image,
    }


def from_row(row: Mapping[Any, Any], *, addresses: SiteAddresses) -> dict[str, Any]:
    """A read-path row (tags as one JSON array) in the API's shape."""
    return public_article(
        id=row["id"],
        title=row["title"],
        slug=row["slug"],
        body=row["body"],
        body_html=row["body_html"],
        status=row["status"],
        published_at=row["published_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        author_id=row["author_id"],
        author_name=row["author_name"],
        tags=json.loads(row["tags"]) if row["tags"] else [],
        version=row["version"],
        addresses=addresses,
        cover_image=cover_from_row(row),
    )


def from_article(article: Article, *, addresses: SiteAddresses) -> dict[str, Any]:
    """A loaded article (author and tags loaded) in the API's shape."""
    return public_article(
        id=article.id,
        title=article.title,
        slug=article.slug,
        body=article.body,
        body_html=article.body_html,
        status=article.status,
        published_at=article.published_at,
        created_at=article.created_at,
        updated_at=article.updated_at,
        author_id=article.author_id,
        author_name=article.author.name,
        tags=(tag.name for tag in article.tags),
        version=article.version,
        addresses=addresses,
        cover_image=from_asset(article.cover_image) if article.cover_image is not None else None,
    )


def row_etag(row: Mapping[Any, Any]) -> str:
    """The ETag of a read-path row (the narrow one of a 304 check will do)."""
    cover = cover_tag(row["cover_id"], row["cover_alt"], row["cover_focal_x"], row["cover_focal_y"])
    author = display_name(row["author_name"], row["author_id"])
    return etag_for(row["id"], row["version"], author, cover)


def article_etag(article: Article) -> str:
    image = article.cover_image
    cover = "" if image is None else cover_tag(image.id, image.alt, image.focal_x, image.focal_y)
    return etag_for(article.id, article.version, article.author.display_name, cover)
