"""The audit trail in the back office, read as sentences: each change as
"field: before → after" (a body as "changed", with a link to the difference between its
revisions), times whole to the second in UTC, and the user and the object linked to
their pages while they exist. Read-only, for admins."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from anyio import to_thread
from markupsafe import Markup, escape
from sqladmin.authentication import login_required
from sqladmin.formatters import BASE_FORMATTERS
from sqladmin.pagination import Pagination
from sqlalchemy import Select, func, select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from admin.auth import current_user
from admin.filters import ValueFilter
from admin.forms import choice_label
from admin.views import ServiceModelView
from cms.articles.models import Article, ArticleRevision, TrashedArticle
from cms.audit import service as audit
from cms.audit.models import AuditEntry
from cms.users.models import User

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from admin.pages import Pages

ARROW = "→"
NOTHING = "—"
# Fields whose values a revision keeps in full; the trail says only that they changed.
REVISED_TEXT = frozenset({"body"})
FIELD_NAMES = {
    "author_id": "author",
    "is_active": "active",
    "published_at": "published at",
    "logo_id": "logo (image number)",
    "nav": "navigation links",
}


def exact_time(moment: datetime) -> str:
    """``2026-11-22 21:20:05 UTC``: the trail says when to the second."""
    if moment.tzinfo is None:  # every stored time is UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclass
class Targets:
    """Which of a page's actors and objects still exist (and where), so each is linked
    to a page that answers; read once per page, not once per row."""

    articles: set[int] = field(default_factory=set)
    trashed: set[int] = field(default_factory=set)
    # id -> the name shown for the user today
    users: dict[int, str] = field(default_factory=dict)

    @classmethod
    def of(cls, session: Session, entries: Sequence[AuditEntry]) -> Targets:
        def ids(kind: str) -> set[int]:
            return {e.object_id for e in entries if e.object_type == kind and e.object_id}

        article_ids = ids("article")
        user_ids = ids("user") | {e.actor_id for e in entries if e.actor_id is not None}
        for entry in entries:
            user_ids |= _author_ids(entry)
        found = cls()
        if article_ids:
            found.articles = set(
                session.scalars(select(Article.id).where(Article.id.in_(article_ids)))
            )
            found.trashed = set(
                session.scalars(select(TrashedArticle.id).where(TrashedArticle.id.in_(article_ids)))
            )
        if user_ids:
            found.users = {
                user.id: user.display_name
                for user in session.scalars(select(User).where(User.id.in_(user_ids)))
            }
        return found


def _author_ids(entry: AuditEntry) -> set[int]:
    pair = _changes(entry).get("author_id")
    if not isinstance(pair, list):
        return set()
    return {value for value in pair if isinstance(value, int)}


def _changes(entry: AuditEntry) -> dict[str, Any]:
    try:
        changes = json.loads(entry.changes or "{}")
    except ValueError:
        return {}
    return changes if isinstance(changes, dict) else {}


def _targets(request: Request) -> Targets:
    targets: Targets | None = getattr(request.state, "audit_targets", None)
    return targets if targets is not None else Targets()


def _path(request: Request, name: str, **params: Any) -> str:
    return str(request.url_for(name, **params).path)


def _link(href: str, text: str) -> Markup:
    return Markup('<a href="{}">{}</a>').format(href, text)


def _user(request: Request, user_id: int | None, text: str | None = None) -> Markup:
    """``text`` (by default the user's name today), linked to the user while they exist."""
    users = _targets(request).users
    if user_id is not None and user_id in users:
        path = _path(request, "admin:details", identity="user", pk=user_id)
        return _link(path, text if text is not None else users[user_id])
    return escape(text if text is not None else f"user {user_id} (deleted)")


def actor_cell(entry: AuditEntry, _name: str, request: Request) -> Markup:
    """Who, linked to their user page while the account exists."""
    return _user(request, entry.actor_id, entry.actor_name)


def object_cell(entry: AuditEntry, _name: str, request: Request) -> Markup:
    """The object, linked to its page: an article (or its row in the trash), a user."""
    text, targets, object_id = entry.object_repr or NOTHING, _targets(request), entry.object_id
    if entry.object_type == "article" and object_id is not None:
        if object_id in targets.articles:
            return _link(_path(request, "admin:details", identity="article", pk=object_id), text)
        if object_id in targets.trashed:
            path = _path(request, "admin:details", identity="trashed-article", pk=object_id)
            return _link(path, text) + Markup(' <span class="text-secondary">(in the trash)</span>')
        return escape(text) + Markup(' <span class="text-secondary">(deleted)</span>')
    if entry.object_type == "user":
        return _user(request, object_id, text)
    if entry.object_type == "site_settings":
        return _link(_path(request, "admin:site-settings"), f"Site settings ({text})")
    return escape(text)


def changes_cell(entry: AuditEntry, _name: str, request: Request) -> Markup:
    """Each change on a line of its own: ``title: Old → New``; a body: ``changed``."""
    changes = _changes(entry)
    if not changes:
        return Markup('<span class="text-secondary">{}</span>').format(NOTHING)
    lines = [
        Markup('<li><span class="cms-change-field">{}</span>: {}</li>').format(
            FIELD_NAMES.get(name, name.replace("_", " ")), _change(request, entry, name, value)
        )
        for name, value in changes.items()
    ]
    return Markup('<ul class="cms-changes">{}</ul>').format(Markup("").join(lines))


def _change(request: Request, entry: AuditEntry, name: str, value: Any) -> Markup:
    if name in REVISED_TEXT:
        shown = Markup("changed")
        if entry.object_type == "article" and entry.object_id in _targets(request).articles:
            href = _path(request, "admin:audit-diff", pk=entry.id)
            shown += Markup(" (") + _link(href, "see the difference") + Markup(")")
        return shown
    if not (isinstance(value, list) and len(value) == 2):
        # Secrets and long text are recorded only as "(changed)".
        return Markup("changed") if value == audit.CHANGED else escape(str(value))
    before, after = (_value(request, name, side) for side in value)
    if entry.action == "create" and value[0] is None:
        return after  # nothing was there before: what it was made with is enough
    return Markup("{} {} {}").format(before, ARROW, after)


def _value(request: Request, name: str, value: Any) -> Markup:
    if value is None or value == [] or value == "":
        return Markup('<span class="text-secondary">{}</span>').format(NOTHING)
    if isinstance(value, bool):
        return escape("yes" if value else "no")
    if isinstance(value, list):
        return escape(", ".join(str(item) for item in value))
    if name == "author_id" and isinstance(value, int):
        return _user(request, value)
    if name in ("status", "role") and isinstance(value, str):
        return escape(choice_label(value))
    if isinstance(value, str) and name.endswith("_at"):
        try:
            moment = exact_time(datetime.fromisoformat(value))
            return Markup('<span class="text-nowrap">{}</span>').format(moment)
        except ValueError:
            pass
    return Markup("“{}”").format(value) if isinstance(value, str) else escape(str(value))


class AuditAdmin(ServiceModelView, model=AuditEntry):
    """The audit trail: read-only, for admins. Nothing here can be edited or deleted."""

    name = "Audit entry"
    name_plural = "Audit trail"
    icon = "fa-solid fa-list-check"
    row_noun = "entry"
    can_create = False
    can_edit = False
    column_type_formatters: ClassVar = {**BASE_FORMATTERS, datetime: exact_time}
    column_type_formatters_detail: ClassVar = column_type_formatters

    column_list: ClassVar = [
        AuditEntry.at,
        AuditEntry.actor_name,
        AuditEntry.action,
        AuditEntry.object_type,
        AuditEntry.object_repr,
        AuditEntry.changes,
    ]
    column_details_list: ClassVar = [
        AuditEntry.at,
        AuditEntry.actor_name,
        AuditEntry.actor_id,
        AuditEntry.action,
        AuditEntry.object_type,
        AuditEntry.object_id,
        AuditEntry.object_repr,
        AuditEntry.changes,
        AuditEntry.surface,
        AuditEntry.address,
        AuditEntry.request_id,
    ]
    column_export_list: ClassVar = column_details_list
    column_labels: ClassVar = {
        AuditEntry.at: "When",
        AuditEntry.actor_name: "Who",
        AuditEntry.actor_id: "Who (user id)",
        AuditEntry.action: "Did",
        AuditEntry.object_type: "To a",
        AuditEntry.object_id: "Object id",
        AuditEntry.object_repr: "Object",
        AuditEntry.changes: "Changes",
        AuditEntry.surface: "Through",
        AuditEntry.address: "From address",
        AuditEntry.request_id: "Request id",
    }
    column_formatters: ClassVar = {
        AuditEntry.changes: changes_cell,
        AuditEntry.object_repr: object_cell,
        AuditEntry.actor_name: actor_cell,
        AuditEntry.action: lambda m, a: m.action.replace("_", " "),
    }
    column_formatters_detail: ClassVar = column_formatters
    column_searchable_list: ClassVar = [AuditEntry.object_repr, AuditEntry.actor_name]
    column_sortable_list: ClassVar = [AuditEntry.at]
    column_default_sort: ClassVar = [(AuditEntry.at, True)]
    column_filters: ClassVar = [
        ValueFilter(AuditEntry.action, "Action", "action"),
        ValueFilter(AuditEntry.object_type, "Object type", "object_type"),
        ValueFilter(AuditEntry.actor_name, "Who", "actor"),
    ]

    def row_label(self, row: Any) -> str:
        return f"{row.actor_name} {row.action} {row.object_type} {row.object_repr}"

    def list_query(self, request: Request) -> Select[Any]:
        query: Select[Any] = audit.entries_query(
            current_user(request),
            object_id=_int_param(request, "object_id"),
            actor_id=_int_param(request, "actor_id"),
        )
        return query.order_by(None)

    def details_query(self, request: Request) -> Select[Any]:
        audit.entries_query(current_user(request))  # admins only
        return super().details_query(request)

    async def list(self, request: Request) -> Pagination:
        pagination = await super().list(request)
        await self._find_targets(request, pagination.rows)
        return pagination

    async def get_object_for_details(self, request: Request) -> Any:
        entry = await super().get_object_for_details(request)
        if entry is not None:
            await self._find_targets(request, [entry])
        return entry

    async def _find_targets(self, request: Request, entries: Sequence[AuditEntry]) -> None:
        def find() -> Targets:
            with self.session_maker() as session:
                return Targets.of(session, entries)

        request.state.audit_targets = await to_thread.run_sync(find)


def _int_param(request: Request, name: str) -> int | None:
    value = request.query_params.get(name)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise HTTPException(400, f"{name} must be a number.") from None


class AuditPages:
    """The one page of the trail beyond SQLAdmin's: from an entry to its body's diff."""

    def __init__(self, pages: Pages) -> None:
        self.pages = pages
        self._admin_ref = pages.admin  # login_required looks for it on the endpoint's owner

    @login_required
    async def body_diff(self, request: Request) -> Response:
        """The revisions compared around the change an entry records: the revision it
        saved (the article's newest at the entry's moment) against the one before."""
        view = self.pages._view("audit-entry")
        if not view.has_permission(request, "details"):
            raise HTTPException(403, "Only admins may read the audit trail.")
        entry = await view.get_object_for_details(request)
        if entry is None or entry.object_type != "article" or entry.object_id is None:
            raise HTTPException(404, "No such entry about an article.")

        def saved() -> int | None:
            with view.session_maker() as session:
                number: int | None = session.scalar(
                    select(func.max(ArticleRevision.number)).where(
                        ArticleRevision.article_id == entry.object_id,
                        ArticleRevision.saved_at <= entry.at,
                    )
                )
                return number

        number = await to_thread.run_sync(saved)
        if number is None:
            raise HTTPException(404, "That article's history is gone (purged from the trash).")
        compare = _path(request, "admin:compare", pk=entry.object_id, number=max(number - 1, 1))
        if number > 1:
            compare += f"?against={number}"
        return RedirectResponse(compare, status_code=302)
