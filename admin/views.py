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

from admin.auth import current_user, keep_signed_in
from admin.filters import AuthorFilter
from cms import permissions
from cms.articles import service as articles
from cms.articles.models import Article, ArticleStatus
from cms.articles.slugs import SLUG_MAX_LENGTH, SLUG_PATTERN
from cms.db import begin_write, utcnow
from cms.errors import DomainError
from cms.security import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH
from cms.users import service as users
from cms.users.models import Role, User

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

    async def run_as_actor(self, request: Request, work: Callable[[Session, User], T]) -> T:
        """Run ``work(session, actor)`` in a thread, commit it, and turn failures into
        messages safe to show (never SQL)."""
        actor_id = _actor(request).id

        def in_transaction() -> T:
            with self.session_maker() as session:
                begin_write(session)
                actor = session.get(User, actor_id)
                if actor is None:
                    raise AdminError("Your account no longer exists")
                try:
                    result = work(session, actor)
                    session.commit()
                except DomainError as exc:
                    session.rollback()
                    raise AdminError(exc.message) from exc
                except SQLAlchemyError as exc:
                    session.rollback()
                    raise AdminError(
                        "The database refused the change; reload the page and try again"
                    ) from exc
                return result

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
        return await self.run_as_actor(
            request,
            lambda session, actor: users.create_user(
                session,
                actor=actor,
                email=data["email"],
                password=data["password"],
                name=data.get("name") or "",
                role=Role(data["role"]) if data.get("role") else None,
                is_active=bool(data.get("is_active")),
                allow_signup=False,
            ),
        )

    async def update_model(self, request: Request, pk: str, data: dict[str, Any]) -> Any:
        def update(session: Session, actor: User) -> User:
            target = users.get_visible_user(session, actor=actor, user_id=int(pk))
            changes: dict[str, Any] = {
                field: data[field]
                for field in ("email", "name", "is_active")
                if field in data and data[field] != getattr(target, field)
            }
            if data.get("role") and Role(data["role"]) is not target.role:
                changes["role"] = Role(data["role"])
            if data.get("password"):
                changes["password"] = data["password"]
            return users.update_user(
                session,
                actor=actor,
                target=target,
                changes=changes,
                current_password=data.get("current_password"),
            )

        user = await self.run_as_actor(request, update)
        if user.id == _actor(request).id:
            # A new password signs the account out everywhere else, not from this form.
            keep_signed_in(request, user)
        return user

    async def delete_model(self, request: Request, pk: Any) -> None:
        def delete(session: Session, actor: User) -> None:
            target = users.get_visible_user(session, actor=actor, user_id=int(pk))
            users.delete_user(session, actor=actor, target=target)

        await self.run_as_actor(request, delete)


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
        def create(session: Session, actor: User) -> Article:
            author_id = _chosen_author(data)
            return articles.create_article(
                session,
                actor=actor,
                author_id=actor.id if author_id is None else author_id,
                title=data.get("title") or "",
                body=data.get("body") or "",
                slug=data.get("slug") or None,
                status=ArticleStatus(data.get("status") or ArticleStatus.DRAFT),
                published_at=_as_utc(data.get("published_at")),
            )

        return await self.run_as_actor(request, create)

    async def update_model(self, request: Request, pk: str, data: dict[str, Any]) -> Any:
        def update(session: Session, actor: User) -> Article:
            article = articles.get_visible_article(
                session, viewer=actor, article_id=int(pk), for_update=True
            )
            submitted: dict[str, Any] = {
                "title": data.get("title") or "",
                "body": data.get("body") or "",
                "status": ArticleStatus(data.get("status") or article.status),
                "slug": data.get("slug") or article.slug,
            }
            changes = {
                field: value
                for field, value in submitted.items()
                if value != getattr(article, field)
            }
            # The form shows whole seconds: an untouched time must keep its microseconds.
            published_at = _as_utc(data.get("published_at"))
            stored = article.published_at
            if published_at != (stored.replace(microsecond=0) if stored else None):
                changes["published_at"] = published_at
            author_id = _chosen_author(data)
            if author_id is not None and author_id != article.author_id:
                articles.reassign_article(
                    session, actor=actor, article=article, author_id=author_id
                )
            return articles.update_article(session, actor=actor, article=article, changes=changes)

        return await self.run_as_actor(request, update)

    async def delete_model(self, request: Request, pk: Any) -> None:
        def delete(session: Session, actor: User) -> None:
            article = articles.get_visible_article(
                session, viewer=actor, article_id=int(pk), for_update=True
            )
            articles.delete_article(session, actor=actor, article=article)

        await self.run_as_actor(request, delete)
