"""The back office's model views. Every write goes through the CMS services, inside one
transaction, so the admin obeys exactly the rules the REST API does."""

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from anyio import to_thread
from sqladmin import ModelView
from sqladmin.filters import StaticValuesFilter
from sqlalchemy import Select, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException
from starlette.requests import Request
from wtforms import Form, PasswordField, StringField
from wtforms.validators import Email, Length, Optional, Regexp

from admin.auth import admin_origin, current_user, keep_signed_in
from admin.filters import AuthorFilter
from cms import permissions
from cms.articles import service as articles
from cms.articles.changes import ArticleChanges, ArticleDraft
from cms.articles.models import Article, ArticleStatus
from cms.changes import UNSET
from cms.db import Database, UnitOfWork, utcnow
from cms.errors import DomainError
from cms.fields import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, SLUG_MAX_LENGTH, SLUG_PATTERN
from cms.roles import Role
from cms.users import service as users
from cms.users.changes import AccountChanges, NewAccount
from cms.users.models import User

T = TypeVar("T")
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class AdminError(Exception):
    """A message for the person at the form; SQLAdmin shows ``str(error)`` above it."""


class ServiceModelView(ModelView):
    """A view whose writes run through a CMS service in a single transaction."""

    # Exports go through custom_export_cell, which defuses spreadsheet formulas.
    use_pretty_export: ClassVar[bool] = True

    async def get_object_filepath(self, identifier: str, column_name: str) -> Path:
        """No column holds a file. SQLAdmin would otherwise serve any file under the
        working directory (the SQLite database, ``.env``) named by a text cell's value."""
        raise HTTPException(status_code=404)

    async def custom_export_cell(self, row: Any, name: str, value: Any) -> str | None:
        """Every exported cell as text; one a spreadsheet would run as a formula
        (``=HYPERLINK(…)`` in a title) is prefixed with ``'`` (OWASP's CSV injection advice)."""
        if value is None:
            return ""
        if isinstance(value, bool):
            return "TRUE" if value else "FALSE"
        text = value.isoformat() if isinstance(value, datetime) else str(value)
        if text.startswith(_FORMULA_PREFIXES):
            return "'" + text
        return text

    async def run_as_actor(self, request: Request, work: Callable[[UnitOfWork], T]) -> T:
        """Run ``work(uow)`` in a thread, in one unit of work with the signed-in user as
        its actor, and turn failures into messages safe to show (never SQL)."""
        actor_id = _actor(request).id
        database: Database = request.app.state.database
        origin = admin_origin(request)

        def load_actor(session: Session) -> User:
            actor = session.get(User, actor_id)
            if actor is None or not permissions.can_use_back_office(actor):
                raise AdminError("Your account can no longer use the back office")
            return actor

        def in_transaction() -> T:
            try:
                return database.run(work, actor=load_actor, origin=origin)
            except DomainError as exc:
                raise AdminError(exc.message) from exc
            except SQLAlchemyError as exc:
                raise AdminError(
                    "The database refused the change; reload the page and try again"
                ) from exc

        return await to_thread.run_sync(in_transaction)


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
    try:
        return int(value)
    except (TypeError, ValueError):
        raise AdminError("Author: choose a user from the list") from None


def _as_utc(value: datetime | None) -> datetime | None:
    """The back office edits times in UTC; forms give naive datetimes."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


class UserAdmin(ServiceModelView, model=User):
    name = "User"
    name_plural = "Users"
    icon = "fa-solid fa-user"

    column_list: ClassVar = [
        User.id,
        User.email,
        User.name,
        User.role,
        User.is_active,
        User.created_at,
    ]
    column_details_list: ClassVar = [*column_list, User.updated_at]
    column_export_list: ClassVar = column_list
    column_searchable_list: ClassVar = [User.email, User.name]
    column_sortable_list: ClassVar = [User.id, User.email, User.name, User.role, User.created_at]
    column_default_sort: ClassVar = [(User.id, False)]
    column_filters: ClassVar = [
        StaticValuesFilter(User.role, values=[(role.value, role.value) for role in Role]),
    ]
    # The hash is never a form field; passwords come in through the extra fields below.
    form_columns: ClassVar = [User.email, User.name, User.role, User.is_active]
    form_args: ClassVar = {"email": {"validators": [Email(message="Enter a valid email address")]}}
    form_create_rules: ClassVar = ["email", "name", "role", "is_active", "password"]
    form_edit_rules: ClassVar = [
        "email",
        "name",
        "role",
        "is_active",
        "password",
        "current_password",
    ]

    async def scaffold_form(self, rules: list[str] | None = None) -> type[Form]:
        base: type[Form] = await super().scaffold_form(None)
        creating = rules is not None and "current_password" not in rules
        length = Length(
            min=PASSWORD_MIN_LENGTH,
            max=PASSWORD_MAX_LENGTH,
            message=f"Use {PASSWORD_MIN_LENGTH} to {PASSWORD_MAX_LENGTH} characters",
        )
        password_help = "Required." if creating else "Leave blank to keep the current password."

        class UserForm(base):  # type: ignore[misc]
            password = PasswordField(
                "Password",
                validators=[Optional(), length],
                description=password_help,
                render_kw={"class": "form-control", "autocomplete": "new-password"},
            )

        if creating:
            return UserForm

        class UserEditForm(UserForm):
            current_password = PasswordField(
                "Your current password",
                validators=[Optional()],
                description="Needed only to change your own password.",
                render_kw={"class": "form-control", "autocomplete": "current-password"},
            )

        return UserEditForm

    def list_query(self, request: Request) -> Select[Any]:
        return select(User).where(permissions.visible_users(current_user(request)))

    def details_query(self, request: Request) -> Select[Any]:
        return (
            super().details_query(request).where(permissions.visible_users(current_user(request)))
        )

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
        return await self.run_as_actor(request, lambda uow: users.create_user(uow, account=account))

    async def update_model(self, request: Request, pk: str, data: dict[str, Any]) -> Any:
        changes = AccountChanges(
            email=data.get("email", UNSET),
            name=data.get("name", UNSET),
            is_active=bool(data["is_active"]) if "is_active" in data else UNSET,
            role=Role(data["role"]) if data.get("role") else UNSET,
            password=data.get("password") or UNSET,
        )
        user = await self.run_as_actor(
            request,
            lambda uow: users.update_user(
                uow,
                user_id=int(pk),
                changes=changes,
                current_password=data.get("current_password"),
            ),
        )
        if user.id == _actor(request).id:
            # A new password signs the account out everywhere else, not from this form.
            keep_signed_in(request, user)
        return user

    async def delete_model(self, request: Request, pk: Any) -> None:
        await self.run_as_actor(request, lambda uow: users.delete_user(uow, user_id=int(pk)))


class ArticleAdmin(ServiceModelView, model=Article):
    name = "Article"
    name_plural = "Articles"
    icon = "fa-solid fa-newspaper"

    column_list: ClassVar = [
        Article.id,
        Article.title,
        Article.status,
        Article.published_at,
        Article.author,
        Article.updated_at,
    ]
    column_details_exclude_list: ClassVar = [Article.body_html]
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
    column_searchable_list: ClassVar = [Article.title]
    column_sortable_list: ClassVar = [
        Article.id,
        Article.title,
        Article.status,
        Article.published_at,
        Article.created_at,
        Article.updated_at,
    ]
    column_default_sort: ClassVar = [(Article.updated_at, True)]
    column_filters: ClassVar = [
        StaticValuesFilter(
            Article.status, values=[(status.value, status.value) for status in ArticleStatus]
        ),
        AuthorFilter(),
    ]
    form_columns: ClassVar = [
        Article.title,
        Article.slug,
        Article.body,
        Article.status,
        Article.published_at,
        Article.author,
    ]
    form_args: ClassVar = {
        "published_at": {"description": "UTC. Leave blank to stamp the moment it is published."},
        "author": {
            "description": "Blank: yourself for a new article; unchanged when editing.",
            "allow_blank": True,
        },
    }
    # Authors are looked up as you type: the form never loads every user.
    form_ajax_refs: ClassVar = {
        "author": {"fields": ("email", "name"), "order_by": "email", "page_size": 20}
    }

    async def scaffold_form(self, rules: list[str] | None = None) -> type[Form]:
        base: type[Form] = await super().scaffold_form(rules)

        class ArticleForm(base):  # type: ignore[misc]
            # Optional here although the column is not: the service makes one.
            slug = StringField(
                "Slug",
                validators=[
                    Optional(),
                    Length(max=SLUG_MAX_LENGTH),
                    Regexp(SLUG_PATTERN, message="Use lower-case letters, digits and hyphens"),
                ],
                description="Leave blank to make one from the title.",
                render_kw={"class": "form-control"},
            )
            # WTForms orders fields by creation: keep slug where the model declares it.
            slug.creation_counter = base.slug.creation_counter

        return ArticleForm

    def list_query(self, request: Request) -> Select[Any]:
        return select(Article).where(permissions.visible_articles(current_user(request), utcnow()))

    def details_query(self, request: Request) -> Select[Any]:
        return (
            super()
            .details_query(request)
            .where(permissions.visible_articles(current_user(request), utcnow()))
        )

    async def insert_model(self, request: Request, data: dict[str, Any]) -> Any:
        draft = ArticleDraft(
            title=data.get("title") or "",
            body=data.get("body") or "",
            slug=data.get("slug") or None,
            status=ArticleStatus(data.get("status") or ArticleStatus.DRAFT),
            published_at=_as_utc(data.get("published_at")),
        )
        author_id = _chosen_author(data)
        return await self.run_as_actor(
            request, lambda uow: articles.create_article(uow, draft=draft, author_id=author_id)
        )

    async def update_model(self, request: Request, pk: str, data: dict[str, Any]) -> Any:
        def update(uow: UnitOfWork) -> Article:
            article = articles.get_article_for_change(uow, int(pk))
            # The form shows whole seconds: an untouched time must keep its microseconds.
            published_at = _as_utc(data.get("published_at"))
            stored = article.published_at
            unchanged_time = published_at == (stored.replace(microsecond=0) if stored else None)
            author_id = _chosen_author(data)
            changes = ArticleChanges(
                title=data.get("title") or "",
                body=data.get("body") or "",
                status=ArticleStatus(data.get("status") or article.status),
                slug=data.get("slug") or article.slug,
                published_at=stored if unchanged_time else published_at,
                author_id=article.author_id if author_id is None else author_id,
            )
            return articles.update_article(uow, article_id=article.id, changes=changes)

        return await self.run_as_actor(request, update)

    async def delete_model(self, request: Request, pk: Any) -> None:
        await self.run_as_actor(
            request, lambda uow: articles.delete_article(uow, article_id=int(pk))
        )
