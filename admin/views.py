"""The back office's model views. Every write goes through the CMS services, in one unit
of work, so the admin obeys exactly the rules the REST API does."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from anyio import to_thread
from markupsafe import Markup, escape
from sqladmin.filters import StaticValuesFilter
from sqladmin.flash import Flash
from sqladmin.formatters import BASE_FORMATTERS
from sqladmin.pagination import Pagination
from sqlalchemy import Select, True_, func, select
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, selectinload
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse
from wtforms import Form, HiddenField, IntegerField, PasswordField, RadioField, StringField
from wtforms.validators import Optional

from admin import article_details
from admin.actions import Choices, RowAction
from admin.auth import admin_origin, current_user
from admin.confined import ConfinedModelView
from admin.filters import AuthorFilter, StateFilter, TagFilter
from admin.forms import CHOICE_LABELS, FollowsRule, StoredValueConverter, TagsField, choice_label
from cms import permissions
from cms.articles import actions
from cms.articles import service as articles
from cms.articles.changes import ArticleChanges, ArticleDraft
from cms.articles.models import TRASH_DAYS, Article, ArticleState, ArticleStatus
from cms.articles.search import matches_search
from cms.auth import throttle
from cms.changes import UNSET, Unset
from cms.db import Database, UnitOfWork, utcnow
from cms.errors import DomainError
from cms.fields import Email, Name, Password, Slug, Title
from cms.roles import Role
from cms.site.urls import SiteAddresses
from cms.users import service as users
from cms.users.changes import AccountChanges, NewAccount
from cms.users.models import User

T = TypeVar("T")
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# Beyond this many matching rows a filtered list says "more than" instead of counting
# them all: an exact count of a million-row search costs more than the page itself.
COUNT_CAP = 10_000
# Deeper than any real list; past it an offset overflows what the database takes.
MAX_PAGE = 10_000_000
UNAVAILABLE = "The database is unavailable right now; your change was not saved. Try again."

CHOICE_LABELS.update({"draft": "Draft", "published": "Published", "scheduled": "Scheduled"})


class AdminError(Exception):
    """A message for the person at the form; SQLAdmin shows ``str(error)`` above it."""


def format_time(moment: datetime) -> str:
    """``2026-11-22 21:20 UTC``: minutes are enough to read, and the zone is said."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _formatters() -> dict[Any, Any]:
    return {**BASE_FORMATTERS, datetime: format_time}


class ServiceModelView(ConfinedModelView):
    """A view whose writes run through a CMS service in a single unit of work, whose
    forms show what is stored, and whose lists cost the same on page 1 and page 40,000."""

    form_converter = StoredValueConverter
    column_type_formatters: ClassVar = _formatters()
    column_type_formatters_detail: ClassVar = _formatters()
    list_template = "cms/list.html"
    create_template = "cms/create.html"
    edit_template = "cms/edit.html"
    details_template = "cms/details.html"
    page_size = 25
    page_size_options: ClassVar = [25, 50, 100]
    export_types: ClassVar = ["csv"]
    can_import = False
    # SQLAdmin's own delete route (DELETE /admin/{identity}/delete) would delete rows
    # itself, past the services: no audit entry, no trash, no "last admin" rule. Every
    # deletion is a row action here instead (a confirmation page, then a service call).
    can_delete = False
    # Exports go through custom_export_cell, which defuses spreadsheet formulas.
    use_pretty_export: ClassVar[bool] = True
    # What the confirmations and messages call one row.
    row_noun: ClassVar[str] = "item"
    # What can be done to chosen rows from the list (each asked, then POSTed).
    row_actions: ClassVar[list[RowAction]] = []

    def row_action(self, name: str) -> RowAction:
        for action in self.row_actions:
            if action.name == name:
                return action
        raise HTTPException(404, "No such action here.")

    def _can_delete_any(self, request: Request) -> bool:
        return bool(self.row_actions) and any(
            self.has_permission(request, action.permission) for action in self.row_actions
        )

    def row_label(self, row: Any) -> str:
        """How confirmations and messages name ``row``."""
        return str(row)

    async def get_object_filepath(self, identifier: str, column_name: str) -> Path:
        """No column holds a file. SQLAdmin would otherwise serve any file under the
        working directory (the SQLite database, ``.env``) named by a text cell's value."""
        raise HTTPException(status_code=404)

    async def custom_export_cell(self, row: Any, name: str, value: Any) -> str | None:
        """Every exported cell as text; one a spreadsheet would run as a formula
        (``=HYPERLINK(…)`` in a title) is prefixed with ``'`` (OWASP's CSV injection advice)."""
        return export_cell(value)

    def database(self, request: Request) -> Database:
        database: Database = request.app.state.database
        return database

    async def run_as_actor(self, request: Request, work: Callable[[UnitOfWork], T]) -> T:
        """Run ``work(uow)`` in a thread, in one unit of work with the signed-in user as
        its actor, and turn failures into messages safe to show (never SQL)."""
        actor_id = _actor(request).id
        database = self.database(request)
        origin = admin_origin(request)

        def load_actor(session: Session) -> User:
            actor = session.get(User, actor_id)
            if actor is None or not permissions.can_use_back_office(actor):
                raise AdminError("Your account can no longer use the back office")
            throttle.charge_write(session, actor.id, database.limits, utcnow())
            return actor

        def in_transaction() -> T:
            try:
                return database.run(work, actor=load_actor, origin=origin)
            except DomainError as exc:
                raise AdminError(exc.message) from exc
            except OperationalError as exc:
                raise AdminError(UNAVAILABLE) from exc
            except SQLAlchemyError as exc:
                raise AdminError(
                    "The database refused the change; reload the page and try again"
                ) from exc

        return await to_thread.run_sync(in_transaction)

    # The list: filters, search and sort as SQLAdmin does them, then a page that costs
    # the same at any depth and a count that does not read every row.

    def is_filtered(self, request: Request) -> bool:
        if request.query_params.get("search"):
            return True
        return any(request.query_params.get(f.parameter_name) for f in self.get_filters())

    async def list(self, request: Request) -> Pagination:
        page = self.validate_page_number(request.query_params.get("page"), 1)
        page_size = self.validate_page_number(request.query_params.get("pageSize"), self.page_size)
        if not 1 <= page_size <= max(self.page_size_options):
            raise HTTPException(400, "Page size must be between 1 and 100.")
        if page > MAX_PAGE:
            raise HTTPException(400, f"Pages are numbered up to {MAX_PAGE:,}.")
        stmt = await self._filtered(request, self.rows_query(request))
        search = request.query_params.get("search")
        if search:
            stmt = self.search_query(stmt, search)
        count, certainty = await self.count_matching(request, stmt)
        page = max(page, 1)
        if certainty == "exact":
            page = min(page, Pagination.max_page(count, page_size))
        pk = self.pk_columns[0]
        ordered = self.sort_query(stmt, request)
        # Ties broken by id, so deep pages are stable and the (column, id) index serves.
        descending = _sorts_descending(request, self._get_default_sort())
        ordered = ordered.order_by(pk.desc() if descending else pk.asc())
        # The page's ids first, from the index alone; then only those rows. A deep page
        # then walks index entries, not whole rows with their bodies.
        ids = list(
            await self._run_query(
                ordered.with_only_columns(pk).limit(page_size).offset((page - 1) * page_size)
            )
        )
        rows: list[Any] = []
        if ids:
            fetch: Select[Any] = select(self.model).where(pk.in_(ids))
            for relation in self._list_relations:
                fetch = fetch.options(selectinload(relation))
            by_id = {getattr(row, pk.key): row for row in await self._run_query(fetch)}
            rows = [by_id[id_] for id_ in ids if id_ in by_id]
        # Pagination clamps its page to the count: past an estimate, the page asked for is
        # shown (empty if the estimate was generous).
        pagination = Pagination(
            rows=rows, page=page, page_size=page_size, count=max(count, (page - 1) * page_size + 1)
        )
        pagination.count_certainty = certainty  # type: ignore[attr-defined]
        pagination.count_shown = count  # type: ignore[attr-defined]
        return pagination

    async def _filtered(self, request: Request, stmt: Select[Any]) -> Select[Any]:
        for filter_ in self.get_filters():
            value = request.query_params.get(filter_.parameter_name)
            if value:
                stmt = await filter_.get_filtered_query(stmt, value, self.model)  # type: ignore[call-arg]
        return stmt

    async def count_matching(self, request: Request, stmt: Select[Any]) -> tuple[int, str]:
        """How many rows ``stmt`` matches, and how sure that is: ``"exact"``; ``"more"``
        (a filtered list stops counting past ``COUNT_CAP``); or ``"about"`` (a whole
        table past ``COUNT_CAP`` is estimated from its id range, ids never being reused:
        counting a million rows costs more than the page itself)."""
        pk = self.pk_columns[0]
        capped = stmt.with_only_columns(pk).limit(COUNT_CAP + 1).subquery()
        count = int((await self._run_query(select(func.count()).select_from(capped)))[0])
        if count <= COUNT_CAP:
            return count, "exact"
        # The estimate reads the whole table's id range: only for who may see it all.
        if self.is_filtered(request) or not isinstance(self.visible_rows(request), True_):
            return count, "more"
        (low, high), *_ = await to_thread.run_sync(
            self._run_arbitrary_query_sync, select(func.min(pk), func.max(pk))
        )
        return max(count, int(high) - int(low) + 1), "about"


def _sorts_descending(request: Request, default: list[tuple[str, bool]]) -> bool:
    if request.query_params.get("sortBy"):
        return request.query_params.get("sort", "asc") == "desc"
    return bool(default and default[0][1])


def export_cell(value: Any) -> str:
    """A value as one CSV cell, defused against spreadsheet formulas."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    text = value.isoformat() if isinstance(value, datetime) else str(getattr(value, "value", value))
    if text.startswith(_FORMULA_PREFIXES):
        return "'" + text
    return text


def _actor(request: Request) -> User:
    user = current_user(request)
    if user is None:  # login_required guarantees one; this guards misconfiguration
        raise AdminError("Sign in again")
    return user


def _chosen_author(data: dict[str, Any]) -> int | None:
    """The author id picked in the form, or ``None`` when the field was left blank."""
    value = data.get("author")
    if value in (None, ""):
        return None
    if isinstance(value, User):
        return value.id
    try:
        return int(value)
    except (TypeError, ValueError):
        raise AdminError("Author: choose a user from the list") from None


def _as_utc(value: datetime | None) -> datetime | None:
    """The back office edits times in UTC; forms give naive datetimes."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def clipped(text: str) -> Markup:
    """Text cut to its column with an ellipsis; the whole of it in the tooltip."""
    return Markup('<span class="cms-clip" title="{}">{}</span>').format(text, text)


PUBLISH_NOW = "Publish now"
SCHEDULE = "Schedule"
UNPUBLISH = "Unpublish"


def _status_message(article: Article) -> str:
    state = article.state_at(utcnow())
    if state is ArticleState.DRAFT:
        return f"Unpublished “{article.title}”: it is a draft again."
    if state is ArticleState.SCHEDULED:
        assert article.published_at is not None
        return f"Scheduled “{article.title}” for {format_time(article.published_at)}."
    return f"Published “{article.title}”."


def _changed_since_opened(
    request: Request, session: Session, article_id: int, opened: int
) -> AdminError:
    """The refusal of a save over a newer one: who saved it, when, and what changed."""
    conflict = articles.changes_since(session, article_id=article_id, version=opened)
    request.state.conflict = conflict
    fields = ", ".join(conflict.fields) or "nothing you can see"
    return AdminError(
        f"Changed by {conflict.saved_by} at {format_time(conflict.saved_at)} since you opened "
        f"it ({fields}). Your edits are still in the form below: copy what you need, then "
        "reload the page to edit their version."
    )


def _public_url(request: Request, article: Article) -> str | None:
    """Where readers find the article, when they can (it is published and due)."""
    if not article.is_visible_at(utcnow()):
        return None
    return SiteAddresses.from_settings(request.app.state.settings).article(article.slug)


STATE_TONES = {
    ArticleState.DRAFT: "secondary",
    ArticleState.SCHEDULED: "warning",
    ArticleState.PUBLISHED: "success",
}


def state_badge(state: ArticleState) -> Markup:
    """Draft, Scheduled or Published, the same badge in every list and page."""
    tone = STATE_TONES[state]
    return Markup('<span class="badge bg-{} text-{}-fg">{}</span>').format(
        tone, tone, choice_label(state.value)
    )


def status_badge(article: Article) -> Markup:
    return state_badge(article.state_at(utcnow()))


class UserAdmin(ServiceModelView, model=User):
    name = "User"
    name_plural = "Users"
    icon = "fa-solid fa-user"
    row_noun = "user"

    column_list: ClassVar = [User.email, User.name, User.role, User.is_active, User.created_at]
    column_details_list: ClassVar = [
        User.id,
        User.email,
        User.name,
        User.role,
        User.is_active,
        User.created_at,
        User.updated_at,
    ]
    column_export_list: ClassVar = [
        User.id,
        User.email,
        User.name,
        User.role,
        User.is_active,
        User.created_at,
    ]
    column_labels: ClassVar = {
        User.id: "ID",
        User.email: "Email",
        User.name: "Name",
        User.role: "Role",
        User.is_active: "Active",
        User.created_at: "Joined",
        User.updated_at: "Last changed",
    }
    column_formatters: ClassVar = {User.role: lambda m, a: choice_label(m.role.value)}
    column_formatters_detail: ClassVar = column_formatters
    column_searchable_list: ClassVar = [User.email, User.name]
    column_sortable_list: ClassVar = [User.email, User.name, User.role, User.created_at]
    column_default_sort: ClassVar = [(User.created_at, True)]
    column_filters: ClassVar = [
        StaticValuesFilter(
            User.role, values=[(role.value, choice_label(role.value)) for role in Role]
        ),
    ]
    # The hash is never a form field; passwords come in through the extra fields below.
    form_columns: ClassVar = [User.email, User.name, User.role, User.is_active]
    form_args: ClassVar = {
        "email": {"label": "Email", "validators": [FollowsRule(Email, "email")]},
        "name": {"label": "Name", "validators": [FollowsRule(Name, "name")]},
        "role": {"label": "Role"},
        "is_active": {
            "label": "Active",
            "description": "Inactive users cannot sign in; their tokens stop working.",
        },
    }
    form_create_rules: ClassVar = ["email", "name", "role", "is_active", "password"]
    form_edit_rules: ClassVar = ["email", "name", "role", "is_active", "password"]

    def row_label(self, row: Any) -> str:
        return f"{row.display_name} <{row.email}>"

    async def scaffold_form(self, rules: list[str] | None = None) -> type[Form]:
        base: type[Form] = await super().scaffold_form(None)
        creating = rules is self._form_create_rules

        class UserForm(base):  # type: ignore[misc]
            password = PasswordField(
                "Password",
                validators=[Optional(), FollowsRule(Password, "password")],
                description=(
                    "Required."
                    if creating
                    else "Leave blank to keep the current password. A new one signs the "
                    "user out everywhere."
                ),
                render_kw={"class": "form-control", "autocomplete": "new-password"},
            )

        return UserForm

    async def insert_model(self, request: Request, data: dict[str, Any]) -> Any:
        if not data.get("password"):
            raise AdminError("Password: a new user needs a password")
        account = NewAccount(
            email=data["email"],
            password=data["password"],
            name=data.get("name") or "",
            role=Role(data["role"]) if data.get("role") else None,
            is_active=bool(data.get("is_active")),
        )
        user = await self.run_as_actor(request, lambda uow: users.create_user(uow, account=account))
        Flash.success(request, f"Added {self.row_label(user)}.")
        return user

    async def update_model(self, request: Request, pk: str, data: dict[str, Any]) -> Any:
        changes = AccountChanges(
            email=data.get("email", UNSET),
            name=data.get("name", UNSET),
            is_active=bool(data["is_active"]) if "is_active" in data else UNSET,
            role=Role(data["role"]) if data.get("role") else UNSET,
            password=data.get("password") or UNSET,
        )
        user = await self.run_as_actor(
            request, lambda uow: users.update_user(uow, user_id=int(pk), changes=changes)
        )
        Flash.success(request, f"Saved {self.row_label(user)}.")
        return user

    row_actions: ClassVar[list[RowAction]] = [
        RowAction(
            name="delete",
            label="Delete",
            question="Delete {rows}? This cannot be undone.",
            done="Deleted {names}.",
            permission="delete",
            perform=lambda uow, pk, choices: users.delete_user(
                uow, user_id=pk, **_articles_choice(uow, choices)
            ),
            danger=True,
            choices_template="cms/choices/user_articles.html",
        )
    ]


def _articles_choice(uow: UnitOfWork, choices: Choices) -> dict[str, Any]:
    """What the user-deletion page chose to do with the users' articles."""
    if choices.get("articles") == "delete":
        return {"articles": "delete"}
    email = (choices.get("reassign_to") or "").strip()
    if not email:
        return {}
    heir = users.get_user_by_email(uow.session, email)
    if heir is None:
        raise AdminError(f"No user with the email {email!r} to give the articles to")
    return {"reassign_to": heir.id}


def _publish_now(uow: UnitOfWork, pk: int, _choices: Choices) -> Any:
    return actions.PublishArticle(article_id=pk)(uow)


def _unpublish(uow: UnitOfWork, pk: int, _choices: Choices) -> Any:
    return actions.UnpublishArticle(article_id=pk)(uow)


class ArticleAdmin(ServiceModelView, model=Article):
    name = "Article"
    name_plural = "Articles"
    icon = "fa-solid fa-newspaper"
    row_noun = "article"

    column_list: ClassVar = [
        Article.title,
        Article.status,
        Article.author,
        Article.tags,
        Article.published_at,
        Article.updated_at,
    ]
    column_details_list: ClassVar = [
        Article.id,
        Article.title,
        Article.slug,
        Article.status,
        Article.author,
        Article.published_at,
        Article.created_at,
        Article.updated_at,
        article_details.REVISION,
        Article.tags,
        Article.body_html,
    ]
    column_export_list: ClassVar = [
        Article.id,
        Article.title,
        Article.slug,
        Article.status,
        Article.published_at,
        Article.author_id,
        Article.created_at,
        Article.updated_at,
    ]
    column_labels: ClassVar = {
        Article.id: "ID",
        Article.title: "Title",
        Article.slug: "Slug",
        Article.body: "Body (Markdown)",
        Article.status: "State",
        Article.author: "Author",
        Article.tags: "Tags",
        Article.published_at: "Published at",
        Article.created_at: "Created",
        Article.updated_at: "Last changed",
        article_details.REVISION: "Revision",
        Article.tags: "Tags",
        Article.body_html: "Body (as readers see it)",
    }
    column_formatters: ClassVar = {
        Article.status: lambda m, a: status_badge(m),
        Article.author: lambda m, a: clipped(m.author.display_name),
        Article.tags: lambda m, a: clipped(", ".join(tag.name for tag in m.tags)),
        Article.title: lambda m, a: Markup('<span class="cms-title" title="{}">{}</span>').format(
            m.title, m.title
        ),
    }
    column_formatters_detail: ClassVar = {
        Article.status: lambda m, a: status_badge(m),
        Article.author: lambda m, a: escape(f"{m.author.display_name} <{m.author.email}>"),
        article_details.REVISION: article_details.revision_link,
        Article.tags: article_details.tag_badges,
        Article.body_html: article_details.rendered_body,
    }

    async def details_context(self, request: Request) -> dict[str, Any]:
        return await article_details.details_context(self, request)

    column_searchable_list: ClassVar = [Article.title, Article.body]

    def search_placeholder(self) -> str:
        return "title and body"

    def search_query(self, stmt: Select[Any], term: str) -> Select[Any]:
        """Full-text search (the API's), not a LIKE scan over every body."""
        dialect = self.session_maker.kw["bind"].dialect.name
        return stmt.where(matches_search(dialect, term))

    column_sortable_list: ClassVar = [
        Article.title,
        Article.status,
        Article.published_at,
        Article.created_at,
        Article.updated_at,
    ]
    column_default_sort: ClassVar = [(Article.updated_at, True)]
    column_filters: ClassVar = [StateFilter(), AuthorFilter(), TagFilter()]
    # The stored status is not a field: the form's "State" says draft, scheduled or
    # published, and the publication time goes with it.
    form_columns: ClassVar = [
        Article.title,
        Article.slug,
        Article.body,
        Article.published_at,
        Article.author,
    ]
    form_args: ClassVar = {
        "title": {"label": "Title", "validators": [FollowsRule(Title, "title")]},
        "body": {
            "label": "Body",
            "description": "Markdown (GitHub-flavoured); rendered and sanitized on save.",
            "render_kw": {"rows": 16, "class": "form-control"},
            # Browsers send a text area's line breaks as CRLF; the body is stored as typed
            # (LF), so a body at the size limit fits from the form as from the API.
            "filters": [lambda value: value.replace("\r\n", "\n") if value else value],
        },
        "published_at": {
            "label": "Publication time (UTC)",
            "description": "Scheduled: when it appears (required). Published: blank for now, "
            "or a time that has passed. A draft has none.",
        },
        "author": {
            "label": "Author",
            "description": "Blank: yourself for a new article; unchanged when editing.",
            "allow_blank": True,
        },
    }
    # Authors are looked up as you type: the form never loads every user.
    form_ajax_refs: ClassVar = {
        "author": {"fields": ("email", "name"), "order_by": "email", "page_size": 20}
    }

    edit_template = "cms/article_edit.html"
    create_template = "cms/article_create.html"
    row_actions: ClassVar[list[RowAction]] = [
        RowAction(
            name="publish",
            label="Publish",
            question="Publish {rows} now? A time still to come becomes now.",
            done="Published {names}.",
            permission="publish",
            perform=_publish_now,
        ),
        RowAction(
            name="unpublish",
            label="Unpublish",
            question="Unpublish {rows}? They become drafts, gone from the public site.",
            done="Unpublished {names}.",
            permission="unpublish",
            perform=_unpublish,
        ),
        RowAction(
            name="delete",
            label="Delete",
            question=f"Delete {{rows}}? You can restore them from the trash for {TRASH_DAYS} days.",
            done="Moved to the trash: {names}.",
            permission="delete",
            perform=lambda uow, pk, _choices: actions.DeleteArticle(article_id=pk)(uow),
            danger=True,
        ),
    ]

    def row_label(self, row: Any) -> str:
        return f"“{row.title}”"

    async def scaffold_form(self, rules: list[str] | None = None) -> type[Form]:
        base: type[Form] = await super().scaffold_form(rules)

        class ArticleForm(base):  # type: ignore[misc]
            # Optional here although the column is not: the service makes one.
            slug = StringField(
                "Slug",
                validators=[Optional(), FollowsRule(Slug, "slug")],
                description="The article's address. Leave blank to make one from the title.",
                render_kw={"class": "form-control"},
            )
            tags = TagsField(
                "Tags",
                description="Choose tags or type new ones; case and spacing do not matter.",
            )
            state = RadioField(
                "State",
                choices=[(state.value, choice_label(state.value)) for state in ArticleState],
                default=ArticleState.DRAFT.value,
                description="Scheduled articles appear by themselves at their time.",
                render_kw={"class": "cms-states"},
            )
            cover_image_id = IntegerField(
                "Cover image",
                validators=[Optional()],
                description="The number of an image in Media (its alt text describes it). "
                "Blank: none.",
                render_kw={"class": "form-control", "min": 1, "data-cms-cover": ""},
            )
            # The version the form was opened at: a save refuses to overwrite a newer one.
            expected_version = HiddenField()
            # WTForms orders fields by creation: keep them where they belong.
            slug.creation_counter = base.slug.creation_counter
            tags.creation_counter = base.body.creation_counter
            # Just before the publication time it goes with, after the tags.
            state.creation_counter = base.published_at.creation_counter - 0.5

        return ArticleForm

    def form_edit_query(self, request: Request) -> Select[Any]:
        return super().form_edit_query(request).options(selectinload(Article.tags))

    async def get_form_data_for_edit(self, obj: Any) -> dict[str, Any]:
        data = await super().get_form_data_for_edit(obj)
        data["tags"] = sorted(tag.name for tag in obj.tags)
        data["state"] = obj.state_at(utcnow()).value
        data["expected_version"] = obj.version
        data["cover_image_id"] = obj.cover_image_id
        return data

    async def get_object_for_edit(self, request: Request) -> Any:
        article = await super().get_object_for_edit(request)
        if article is not None:
            request.state.view_on_site = _public_url(request, article)
        return article

    def refused_fields(self, request: Request) -> frozenset[str]:
        # An author writes as themselves: no author to choose.
        if permissions.can_choose_author(current_user(request)):
            return frozenset()
        return frozenset({"author"})

    async def insert_model(self, request: Request, data: dict[str, Any]) -> Any:
        button = (await request.form()).get("save")
        publication = _publication(button, data)
        state = publication.changes(None)
        draft = ArticleDraft(
            title=data.get("title") or "",
            body=data.get("body") or "",
            slug=data.get("slug") or None,
            status=ArticleStatus.DRAFT if isinstance(state.status, Unset) else state.status,
            published_at=None if isinstance(state.published_at, Unset) else state.published_at,
            tags=tuple(data.get("tags") or ()),
            cover_image_id=data.get("cover_image_id"),
        )
        action = actions.CreateArticle(draft=draft, author_id=_chosen_author(data))
        article = await self.run_as_actor(request, action)
        Flash.success(request, f"Added {self.row_label(article)}.")
        return article

    async def update_model(self, request: Request, pk: str, data: dict[str, Any]) -> Any:
        button = (await request.form()).get("save")
        expected = data.get("expected_version")
        author_id = _chosen_author(data)
        changes = ArticleChanges(
            title=data.get("title") or "",
            body=data.get("body") or "",
            tags=tuple(data.get("tags") or ()),
            # Blank: unchanged.
            slug=data.get("slug") or UNSET,
            author_id=UNSET if author_id is None else author_id,
            cover_image_id=data.get("cover_image_id"),
        )
        action = actions.UpdateArticle(
            article_id=int(pk),
            changes=changes,
            publication=_publication(button, data),
            opened_version=int(expected) if expected else None,
        )
        try:
            article = await self.run_as_actor(request, action)
        except AdminError as exc:
            if isinstance(exc.__cause__, actions.ChangedSince):
                raise await to_thread.run_sync(
                    self._changed_since_opened, request, int(pk), exc.__cause__.version
                ) from exc
            raise
        if button in (PUBLISH_NOW, SCHEDULE, UNPUBLISH):
            Flash.success(request, _status_message(article))
            # Back to the article: the editor keeps working on it.
            request.state._sqladmin_after_change_response = RedirectResponse(
                str(request.url_for("admin:edit", identity=self.identity, pk=article.id).path),
                status_code=302,
            )
        else:
            Flash.success(request, f"Saved {self.row_label(article)}.")
        return article

    def _changed_since_opened(self, request: Request, article_id: int, opened: int) -> AdminError:
        with self.database(request).reading() as session:
            return _changed_since_opened(request, session, article_id, opened)


def _publication(button: Any, data: dict[str, Any]) -> actions.Publication:
    """The state the editor chose: a button says it outright, else the form's "State"."""
    at = _as_utc(data.get("published_at"))
    if button == PUBLISH_NOW:
        # Now, not at a time to come that the form still holds.
        return actions.Publication(ArticleState.PUBLISHED, None if at and at > utcnow() else at)
    if button == SCHEDULE:
        if at is None or at <= utcnow():
            raise AdminError("Schedule: set the publication time to a time in the future first")
        return actions.Publication(ArticleState.SCHEDULED, at)
    if button == UNPUBLISH:
        return actions.Publication(ArticleState.DRAFT)
    try:
        state = ArticleState(data.get("state") or ArticleState.DRAFT)
    except ValueError:
        raise AdminError("State: choose draft, scheduled or published") from None
    return actions.Publication(state, at)
