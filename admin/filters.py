"""List filters for the back office."""

from collections.abc import Callable
from typing import Any

from sqlalchemy import Select, false, or_, select
from starlette.exceptions import HTTPException
from starlette.requests import Request

from admin.auth import current_user, visible_rows
from cms import permissions
from cms.articles.models import Article, Tag, article_tags
from cms.db import utcnow
from cms.users.models import User

ALL = "__all"
AnySelect = Select[*tuple[Any, ...]]


STATES = [("draft", "Draft"), ("scheduled", "Scheduled"), ("published", "Published")]


class StateFilter:
    """Articles by what readers see now: drafts, scheduled (published with a time still
    to come) and published (visible). The stored status alone lumps the last two."""

    has_operator = False
    template = "sqladmin/filters/lookup_filter.html"
    title = "Status"
    parameter_name = "status"
    default_value: Any = None

    async def lookups(
        self, request: Request, model: Any, run_query: Callable[[AnySelect], Any]
    ) -> list[tuple[str, str]]:
        return [(ALL, "All"), *STATES]

    async def get_filtered_query(self, query: AnySelect, value: Any, model: Any) -> AnySelect:
        if value in (None, "", ALL):
            return query
        if value not in dict(STATES):
            return query.where(false())  # like any filter value no row has
        return query.where(Article.in_state(value, utcnow()))


class AuthorFilter:
    """Articles by one author.

    SQLAdmin's ``ForeignKeyFilter`` lists every user on every page load; this lists the
    authors of the most recently changed articles (and the one selected), read from the
    index on ``updated_at``: the page costs the same with a million articles and 100,000
    users as with ten. Any author can still be filtered by ``?author_id=``.
    """

    has_operator = False
    template = "sqladmin/filters/lookup_filter.html"
    title = "Author"
    parameter_name = "author_id"
    default_value: Any = None
    shown = 25
    recent_articles = 500

    async def lookups(
        self, request: Request, model: Any, run_query: Callable[[AnySelect], Any]
    ) -> list[tuple[str, str]]:
        selected = _author_id(request.query_params.get(self.parameter_name))
        # Of the rows this request may see: an author's filter names the author alone.
        recent = (
            select(Article.author_id)
            .where(visible_rows(request, Article))
            .order_by(Article.updated_at.desc())
            .limit(self.recent_articles)
            .subquery()
        )
        rows = await run_query(
            select(User.id, User.name, User.email)
            .where(or_(User.id.in_(select(recent.c.author_id)), User.id == selected))
            .where(visible_rows(request, User))
            .order_by(User.name, User.email)
            .limit(self.shown + 1)
        )
        return [(ALL, "All")] + [(str(id_), name or email) for id_, name, email in rows]

    async def get_filtered_query(self, query: AnySelect, value: Any, model: Any) -> AnySelect:
        author_id = _author_id(value)
        if author_id is None:
            return query
        return query.where(Article.author_id == author_id)


def _author_id(value: Any) -> int | None:
    if value in (None, "", ALL):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise HTTPException(400, "The author filter needs a user id.") from None


class ValueFilter:
    """Rows whose ``column`` equals ``?parameter=``; the choices are the values present
    (for short vocabularies: actions, object types, names)."""

    has_operator = False
    template = "sqladmin/filters/lookup_filter.html"
    default_value: Any = None
    shown = 25

    def __init__(self, column: Any, title: str, parameter_name: str) -> None:
        self.column = column
        self.title = title
        self.parameter_name = parameter_name

    async def lookups(
        self, request: Request, model: Any, run_query: Callable[[AnySelect], Any]
    ) -> list[tuple[str, str]]:
        values = await run_query(
            select(self.column).distinct().order_by(self.column).limit(self.shown)
        )
        # Rows of one column: (value,) each.
        return [(ALL, "All")] + [(str(value), str(value)) for (value,) in values if value]

    async def get_filtered_query(self, query: AnySelect, value: Any, model: Any) -> AnySelect:
        if value in (None, "", ALL):
            return query
        return query.where(self.column == value)


class TagFilter:
    """Articles carrying one tag (``?tag=`` its slug). The choices are the most used tags
    (and the one selected), read from the tags' count index: the same cost with 25,000
    tags as with ten."""

    has_operator = False
    template = "sqladmin/filters/lookup_filter.html"
    title = "Tag"
    parameter_name = "tag"
    default_value: Any = None
    shown = 25

    async def lookups(
        self, request: Request, model: Any, run_query: Callable[[AnySelect], Any]
    ) -> list[tuple[str, str]]:
        selected = request.query_params.get(self.parameter_name) or ""
        rows_seen = visible_rows(request, Article)
        # Staff see every article: the most used tags. Anyone else only the tags of the
        # articles they may see (another author's unpublished tag names stay unseen).
        if permissions.is_staff(current_user(request)):
            offered = Tag.id.in_(_most_used(self.shown))
        else:
            offered = Tag.id.in_(
                select(article_tags.c.tag_id)
                .join(Article, Article.id == article_tags.c.article_id)
                .where(rows_seen)
            )
        rows = await run_query(
            select(Tag.slug, Tag.name)
            .where(or_(offered, Tag.slug == selected))
            .order_by(Tag.name)
            .limit(self.shown + 1)
        )
        return [(ALL, "All")] + [(slug, name) for slug, name in rows]

    async def get_filtered_query(self, query: AnySelect, value: Any, model: Any) -> AnySelect:
        if value in (None, "", ALL):
            return query
        return query.where(
            Article.id.in_(
                select(article_tags.c.article_id)
                .join(Tag, Tag.id == article_tags.c.tag_id)
                .where(Tag.slug == str(value))
            )
        )


def _most_used(count: int) -> Any:
    ranked = (
        select(Tag.id)
        .order_by(Tag.published_count.desc(), Tag.name, Tag.id)
        .limit(count)
        .subquery()
    )
    return select(ranked.c.id)
