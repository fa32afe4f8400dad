"""``GET /tags/``: a page of the tags readers can see, one statement whatever their number.

A tag's visible count is its ``published_count`` (kept by every write,
:mod:`cms.articles.tag_counts`) less its scheduled articles whose time has not come.
Those are few, found from the index of future-dated articles; every other tag's count is
its stored one, read in page order straight from an index (``ix_tags_name``,
``ix_tags_popular``). A page is then the first ``limit`` rows of two small sets: up to
``limit + 1`` tags no scheduled article touches, and the tags some scheduled article
does, with their counts corrected.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    CTE,
    ColumnElement,
    Connection,
    Select,
    and_,
    func,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import InstrumentedAttribute

from cms import cursors, permissions
from cms.actors import Actor
from cms.articles.models import Article, ArticleStatus, Tag, article_tags
from cms.errors import InvalidInput

TagOrder = Literal["name", "-article_count"]
Count = ColumnElement[int] | InstrumentedAttribute[int]
_LIKE_ESCAPE = "!"


@dataclass(frozen=True)
class TagQuery:
    """``GET /tags/``'s parameters, validated by the router."""

    limit: int = 50
    order: TagOrder = "name"
    q: str | None = None
    cursor: str | None = None


@dataclass(frozen=True)
class TagPage:
    tags: list[dict[str, Any]]
    next_cursor: str | None
    etag: str


def list_tags(connection: Connection, *, query: TagQuery, now: datetime, secret: str) -> TagPage:
    """A page of the tags with visible articles, in ``query.order``: one statement."""
    position = _position(query, secret)
    scheduled = _scheduled(now)
    unscheduled = _part(
        Tag.published_count, Tag.id.not_in(select(scheduled.c.tag_id)), query, position
    )
    # Wrapped: a member of a UNION may not have its own ORDER BY on SQLite.
    unscheduled = select(
        unscheduled.order_by(*_ordering_on(Tag.published_count, Tag.name, Tag.id, query.order))
        .limit(query.limit + 1)
        .subquery()
    )
    corrected = _part(Tag.published_count - scheduled.c.articles, None, query, position).join(
        scheduled, scheduled.c.tag_id == Tag.id
    )
    both = union_all(unscheduled, corrected).subquery()
    page = select(both).order_by(*_ordering(both.c, query.order)).limit(query.limit + 1)
    rows = connection.execute(page).all()
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    tags = [{"name": row.name, "slug": row.slug, "article_count": int(row.visible)} for row in rows]
    next_cursor = None
    if more:
        last = rows[-1]
        next_cursor = cursors.encode(
            secret, {"o": query.order, "c": int(last.visible), "n": last.name, "i": last.id}
        )
    return TagPage(tags=tags, next_cursor=next_cursor, etag=_etag(tags, next_cursor))


def _scheduled(now: datetime) -> CTE:
    """Per tag, its published articles whose time is still to come."""
    return (
        select(article_tags.c.tag_id, func.count().label("articles"))
        .select_from(Article.__table__.join(article_tags, article_tags.c.article_id == Article.id))
        .where(Article.status == ArticleStatus.PUBLISHED, Article.published_at > now)
        .group_by(article_tags.c.tag_id)
        .cte("scheduled")
    )


def _part(
    visible: Count,
    only: ColumnElement[bool] | None,
    query: TagQuery,
    position: dict[str, Any],
) -> Select[Any]:
    """The tags with ``visible`` articles, filtered and positioned after the cursor."""
    columns: list[Any] = [Tag.id, Tag.name, Tag.slug, visible.label("visible")]
    part = select(*columns).where(visible > 0)
    if only is not None:
        part = part.where(only)
    if query.q is not None:
        part = part.where(name_starts_with(query.q))
    if position:
        part = part.where(_after(visible, query.order, position))
    return part


def _ordering(columns: Any, order: TagOrder) -> list[Any]:
    return _ordering_on(columns.visible, columns.name, columns.id, order)


def _ordering_on(visible: Any, name: Any, id_: Any, order: TagOrder) -> list[Any]:
    if order == "name":
        return [name.asc(), id_.asc()]
    return [visible.desc(), name.asc(), id_.asc()]


def _after(
    visible: ColumnElement[int] | InstrumentedAttribute[int],
    order: TagOrder,
    position: dict[str, Any],
) -> Any:
    """Rows after the cursor's (count, name, id) in ``order``. The first term of each
    is a plain bound, so the index is entered at the cursor rather than read from its
    start."""
    name, last_id = position["n"], position["i"]
    after_name = and_(Tag.name >= name, or_(Tag.name > name, Tag.id > last_id))
    if order == "name":
        return after_name
    count = position["c"]
    return and_(visible <= count, or_(visible < count, after_name))


def name_starts_with(prefix: str) -> ColumnElement[bool]:
    """SQL: the tag's name starts with ``prefix``, in any case (``%`` and ``_`` are plain
    characters); a range of the name index."""
    return Tag.name.like(_prefix_pattern(prefix), escape=_LIKE_ESCAPE)


def _prefix_pattern(q: str) -> str:
    escaped = (
        q.replace(_LIKE_ESCAPE, _LIKE_ESCAPE * 2)
        .replace("%", _LIKE_ESCAPE + "%")
        .replace("_", _LIKE_ESCAPE + "_")
    )
    return escaped + "%"


def _position(query: TagQuery, secret: str) -> dict[str, Any]:
    if query.cursor is None:
        return {}
    position = cursors.decode(secret, query.cursor)
    if position.get("o") != query.order:
        raise InvalidInput(
            "cursor", "this cursor belongs to another order; start again", location="query"
        )
    valid = (
        isinstance(position.get("c"), int)
        and isinstance(position.get("n"), str)
        and isinstance(position.get("i"), int)
    )
    if not valid:
        raise InvalidInput("cursor", cursors.BAD_CURSOR, location="query")
    return position


def _etag(tags: list[dict[str, Any]], next_cursor: str | None) -> str:
    digest = hashlib.sha256()
    for tag in tags:
        digest.update(f"{tag['slug']}\0{tag['name']}\0{tag['article_count']}\n".encode())
    digest.update((next_cursor or "").encode())
    return f'"t.{digest.hexdigest()[:32]}"'


def suggestions(
    connection: Connection,
    prefix: str,
    *,
    viewer: Actor | None,
    now: datetime,
    limit: int = 10,
) -> list[str]:
    """Names of existing tags that start with ``prefix`` (any case), in name order: what
    the back office's tag box offers as someone types. Staff get drafts' tags too (an
    editor reuses a tag before anything with it is published); anyone else only tags on
    articles they may read, so another author's unpublished tag names stay unseen. A range
    of the name index, so its cost does not grow with the number of tags."""
    words = " ".join(prefix.split())
    if not words:
        return []
    stmt = select(Tag.name).where(name_starts_with(words))
    if not permissions.is_staff(viewer):
        stmt = stmt.where(
            select(article_tags.c.article_id)
            .join(Article, Article.id == article_tags.c.article_id)
            .where(article_tags.c.tag_id == Tag.id, permissions.visible_articles(viewer, now))
            .exists()
        )
    return list(connection.execute(stmt.order_by(Tag.name, Tag.id).limit(limit)).scalars())
