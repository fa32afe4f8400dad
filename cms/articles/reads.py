"""The read path for articles: one statement per article or page, plain rows, no ORM.

Reads are nearly all of a CMS's traffic. Here a single article is one SELECT (author and
tags joined in), a page of a list is one SELECT (its ids found from an index first,
keyset-paged, then only those rows read), and everything is filtered by the same
visibility rule as every other query (:mod:`cms.permissions`). Results are plain
dictionaries in the API's shape, serialized once by the router.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Connection,
    RowMapping,
    Select,
    and_,
    bindparam,
    func,
    or_,
    select,
)

from cms import cursors, permissions
from cms.actors import SYSTEM, Actor
from cms.articles.etags import matches
from cms.articles.models import Article, ArticleSlug, ArticleState, Tag, article_tags, state_of
from cms.articles.projection import from_row, row_etag
from cms.articles.search import by_relevance, matches_search
from cms.errors import InvalidInput, NotAuthenticated, NotFound, SlugMoved
from cms.media.models import MediaAsset
from cms.media.projection import cover_columns
from cms.site.urls import SiteAddresses
from cms.users.models import User, display_name

ARTICLE_NOT_FOUND = "Article not found"
ORDERS = ("published_at", "created_at", "updated_at", "title", "id")
StatusFilter = Literal["draft", "scheduled", "all"]
_KEYS: dict[str, Any] = {
    "published_at": Article.published_at,
    "created_at": Article.created_at,
    "updated_at": Article.updated_at,
    "title": Article.title,
    "id": Article.id,
}


# What a reader gets


def _tags_column(dialect: str) -> Any:
    """The article's tag names as one JSON array (one statement for the whole page)."""
    aggregate = (
        func.json_group_array(Tag.name) if dialect == "sqlite" else func.json_arrayagg(Tag.name)
    )
    return (
        select(aggregate)
        .select_from(article_tags.join(Tag, Tag.id == article_tags.c.tag_id))
        .where(article_tags.c.article_id == Article.id)
        .scalar_subquery()
        .label("tags")
    )


def _columns(dialect: str, *, with_body: bool = True) -> list[Any]:
    columns: list[Any] = [
        Article.id,
        Article.title,
        Article.slug,
        Article.status,
        Article.published_at,
        Article.created_at,
        Article.updated_at,
        Article.author_id,
        Article.version,
        User.name.label("author_name"),
        _tags_column(dialect),
        *cover_columns(),
    ]
    if with_body:
        columns[3:3] = [Article.body, Article.body_html]
    return columns


@dataclass(frozen=True)
class Viewer:
    """The caller as the policy needs them, read with one narrow query."""

    id: int
    role: Any
    is_active: bool
    session_version: int
    name: str

    @property
    def display_name(self) -> str:
        return display_name(self.name, self.id)


def load_viewer(connection: Connection, user_id: int, session_version: int) -> Viewer:
    """The signed-in caller; :class:`NotAuthenticated` if the token was revoked."""
    row = connection.execute(
        select(User.id, User.role, User.is_active, User.session_version, User.name).where(
            User.id == user_id
        )
    ).first()
    if row is None or not row.is_active or row.session_version != session_version:
        raise NotAuthenticated("Invalid or expired token; get a new one from /auth/token")
    return Viewer(row.id, row.role, row.is_active, row.session_version, row.name)


# One article


@dataclass(frozen=True)
class ArticleRead:
    etag: str
    # None when the caller's copy is current (answer 304).
    article: dict[str, Any] | None
    public: bool


def read_article(
    connection: Connection,
    *,
    viewer: Actor | None,
    now: datetime,
    article_id: int | None = None,
    slug: str | None = None,
    if_none_match: str | None = None,
    addresses: SiteAddresses,
) -> ArticleRead:
    """One article the viewer may see, by id or slug: one statement (when the caller sent
    ``If-None-Match``, a narrow one first, which answers 304 without reading the body)."""
    dialect = connection.dialect.name
    by_slug = article_id is None
    params = {"now": now, "key": slug if by_slug else article_id}
    if if_none_match is not None:
        statement = _single_read(dialect, viewer, by_slug=by_slug, narrow=True)
        narrow = connection.execute(statement, params).first()
        if narrow is not None:
            current = row_etag(narrow._mapping)
            if matches(if_none_match, current):
                return ArticleRead(current, None, public=_is_public(narrow._mapping, now))
    statement = _single_read(dialect, viewer, by_slug=by_slug, narrow=False)
    row = connection.execute(statement, params).first()
    if row is None:
        if slug is not None:
            _redirect_from_old_slug(connection, viewer, slug, now)
        raise NotFound(ARTICLE_NOT_FOUND)
    mapping = row._mapping
    return ArticleRead(
        row_etag(mapping), from_row(mapping, addresses=addresses), public=_is_public(mapping, now)
    )


def _single_read(dialect: str, viewer: Actor | None, *, by_slug: bool, narrow: bool) -> Select[Any]:
    """The statement of a single read, with parameters ``now`` and ``key`` (the id or
    slug). For anonymous readers and staff it is built once per shape and reused: only
    its parameters change, so SQLAlchemy neither rebuilds it nor recomputes its cache key
    (together 15-20% of a read's time, profiled under wrk)."""
    if viewer is None or permissions.is_staff(viewer):
        return _shared_single_read(
            dialect, staff=viewer is not None, by_slug=by_slug, narrow=narrow
        )
    return _build_single_read(dialect, viewer, by_slug=by_slug, narrow=narrow)


@functools.cache
def _shared_single_read(dialect: str, *, staff: bool, by_slug: bool, narrow: bool) -> Select[Any]:
    # Every staff member sees every article: the command-line actor stands for them all.
    return _build_single_read(dialect, SYSTEM if staff else None, by_slug=by_slug, narrow=narrow)


def _build_single_read(
    dialect: str, viewer: Actor | None, *, by_slug: bool, narrow: bool
) -> Select[Any]:
    key: BindParameter[Any] = bindparam("key")
    where = [
        permissions.visible_articles(viewer, bindparam("now", type_=Article.published_at.type)),
        Article.slug == key if by_slug else Article.id == key,
    ]
    joined = Article.__table__.join(User.__table__, User.id == Article.author_id).outerjoin(
        MediaAsset.__table__, MediaAsset.id == Article.cover_image_id
    )
    columns = (
        [
            Article.id,
            Article.version,
            Article.author_id,
            Article.status,
            Article.published_at,
            User.name.label("author_name"),
            *cover_columns(narrow=True),
        ]
        if narrow
        else _columns(dialect)
    )
    return select(*columns).select_from(joined).where(*where)


def _is_public(row: RowMapping, now: datetime) -> bool:
    """Whether anyone may read this row now (the same rule as ``Article.visible_at``)."""
    return state_of(row["status"], row["published_at"], now) is ArticleState.PUBLISHED


def _redirect_from_old_slug(
    connection: Connection, viewer: Actor | None, slug: str, now: datetime
) -> None:
    current = connection.execute(
        select(Article.slug)
        .join(ArticleSlug, ArticleSlug.article_id == Article.id)
        .where(ArticleSlug.slug == slug, permissions.visible_articles(viewer, now))
    ).scalar()
    if current is not None:
        raise SlugMoved(ARTICLE_NOT_FOUND, current_slug=current)


# A page of a list


@dataclass(frozen=True)
class ListQuery:
    """``GET /articles/``'s parameters, validated by the router."""

    limit: int = 20
    skip: int = 0
    author_id: int | None = None
    tag: str | None = None
    q: str | None = None
    order: str | None = None
    status: StatusFilter | None = None
    cursor: str | None = None
    include_total: bool = False


@dataclass(frozen=True)
class ListPage:
    articles: list[dict[str, Any]]
    next_cursor: str | None
    total: int | None
    etag: str


def list_articles(
    connection: Connection,
    *,
    viewer: Actor | None,
    query: ListQuery,
    now: datetime,
    secret: str,
    addresses: SiteAddresses,
) -> ListPage:
    """A page of the articles the viewer asked for and may see."""
    dialect = connection.dialect.name
    order = query.order or ("relevance" if query.q else "-published_at")
    position = _position(query, order, secret)
    relevance = bool(query.q) and order == "relevance"
    # Ranked by relevance, the ranking itself restricts to the matches.
    conditions = _filters(connection, viewer, query, now, search=not relevance)
    ids = select(Article.id).where(*conditions)
    if relevance:
        ids, offset = by_relevance(ids, dialect, query.q or ""), int(position.get("p", query.skip))
        ids = ids.offset(offset).limit(query.limit + 1)
    else:
        key, descending = _key(order)
        if position:
            ids = ids.where(_after(key, descending, position["k"], position["i"]))
        ids = ids.order_by(*_ordering(key, descending)).limit(query.limit + 1)
        if query.skip and not position:
            ids = ids.offset(query.skip)
    page_ids = ids.subquery()
    page = (
        select(*_columns(dialect))
        .select_from(Article.__table__.join(User.__table__, User.id == Article.author_id))
        .outerjoin(MediaAsset.__table__, MediaAsset.id == Article.cover_image_id)
        .join(page_ids, page_ids.c.id == Article.id)
    )
    if relevance:
        page = page.order_by(page_ids.c.score.desc(), Article.id.desc())
    else:
        key, descending = _key(order)
        page = page.order_by(*_ordering(key, descending))
    rows: list[RowMapping] = [row._mapping for row in connection.execute(page)]
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    next_cursor = None
    if more and rows:
        if relevance:
            start = int(position.get("p", query.skip))
            next_cursor = cursors.encode(secret, {"o": order, "p": start + query.limit})
        else:
            last = rows[-1]
            key_name = order.lstrip("-")
            next_cursor = cursors.encode(
                secret, {"o": order, "k": _cursor_value(last[key_name]), "i": last["id"]}
            )
    total = None
    if query.include_total:
        counted = (
            conditions if not relevance else [*conditions, matches_search(dialect, query.q or "")]
        )
        total = connection.execute(
            select(func.count()).select_from(Article).where(*counted)
        ).scalar_one()
    articles = [from_row(row, addresses=addresses) for row in rows]
    return ListPage(
        articles=articles,
        next_cursor=next_cursor,
        total=total,
        etag=_page_etag(rows),
    )


def next_scheduled(connection: Connection, now: datetime) -> datetime | None:
    """When the next scheduled article becomes visible (no public page may be cached
    past it)."""
    moment: datetime | None = connection.execute(
        select(func.min(Article.published_at)).where(Article.in_state(ArticleState.SCHEDULED, now))
    ).scalar()
    return moment


def _page_etag(rows: Sequence[RowMapping]) -> str:
    digest = hashlib.sha256()
    for row in rows:
        digest.update(row_etag(row).encode())
    return f'"p.{digest.hexdigest()[:32]}"'


def _filters(
    connection: Connection,
    viewer: Actor | None,
    query: ListQuery,
    now: datetime,
    *,
    search: bool,
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if query.status is None:
        conditions.append(permissions.published_articles(now))
    else:
        if viewer is None:
            raise NotAuthenticated(
                "status= lists drafts and scheduled articles: send a token (/auth/token)"
            )
        conditions.append(permissions.visible_articles(viewer, now))
        if not permissions.is_staff(viewer):
            conditions.append(Article.author_id == viewer.id)
        if query.status != "all":
            conditions.append(Article.in_state(query.status, now))
    if query.author_id is not None:
        conditions.append(Article.author_id == query.author_id)
    if query.tag is not None:
        conditions.append(
            select(article_tags.c.article_id)
            .join(Tag, Tag.id == article_tags.c.tag_id)
            .where(Tag.slug == query.tag, article_tags.c.article_id == Article.id)
            .exists()
        )
    if query.q and search:
        conditions.append(matches_search(connection.dialect.name, query.q))
    return conditions


def _key(order: str) -> tuple[Any, bool]:
    descending = order.startswith("-")
    name = order.removeprefix("-")
    if name not in _KEYS:
        raise InvalidInput(
            "order",
            f"order must be one of {', '.join(ORDERS)} (- for descending)",
            location="query",
        )
    return _KEYS[name], descending


def _ordering(key: Any, descending: bool) -> list[Any]:
    if key is Article.id:
        return [Article.id.desc() if descending else Article.id.asc()]
    if descending:
        return [key.desc(), Article.id.desc()]
    return [key.asc(), Article.id.asc()]


def _after(key: Any, descending: bool, value: Any, last_id: int) -> ColumnElement[bool]:
    """Rows after ``(value, last_id)`` in the list's order (NULLs, which sort lowest on
    both backends, come last going down and first going up)."""
    if key is Article.id:
        after_id: ColumnElement[bool] = Article.id < last_id if descending else Article.id > last_id
        return after_id
    if value is None:
        if descending:
            return and_(key.is_(None), Article.id < last_id)
        return or_(and_(key.is_(None), Article.id > last_id), key.is_not(None))
    bound = _from_cursor_value(key, value)
    if descending:
        return or_(key < bound, and_(key == bound, Article.id < last_id), key.is_(None))
    return or_(key > bound, and_(key == bound, Article.id > last_id))


def _cursor_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _from_cursor_value(key: Any, value: Any) -> Any:
    if key is Article.title:
        if not isinstance(value, str):
            raise InvalidInput("cursor", cursors.BAD_CURSOR, location="query")
        return value
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise InvalidInput("cursor", cursors.BAD_CURSOR, location="query") from None


def _position(query: ListQuery, order: str, secret: str) -> dict[str, Any]:
    if query.cursor is None:
        return {}
    if query.skip:
        raise InvalidInput("skip", "use skip or cursor, not both", location="query")
    position = cursors.decode(secret, query.cursor)
    if position.get("o") != order:
        raise InvalidInput(
            "cursor", "this cursor belongs to another order; start again", location="query"
        )
    if order == "relevance":
        if not isinstance(position.get("p"), int) or position["p"] < 0:
            raise InvalidInput("cursor", cursors.BAD_CURSOR, location="query")
    elif not isinstance(position.get("i"), int):
        raise InvalidInput("cursor", cursors.BAD_CURSOR, location="query")
    return position
