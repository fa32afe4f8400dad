"""The trash in the back office: what its viewer may restore (admins: everything;
everyone else: what they deleted themselves, see :func:`cms.permissions.visible_trash`),
each row with a Restore button and the days left before it is purged for good."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any, ClassVar

from markupsafe import Markup
from sqlalchemy import Select, select
from starlette.requests import Request

from admin.actions import RowAction
from admin.auth import current_user
from admin.views import ServiceModelView, format_time
from cms import permissions
from cms.articles import actions
from cms.articles.models import TRASH_DAYS, TrashedArticle
from cms.db import utcnow

DAY = timedelta(days=1)


def purged_on(row: TrashedArticle) -> datetime:
    """When the trash forgets ``row``: :data:`TRASH_DAYS` after it was deleted."""
    return row.deleted_at + timedelta(days=TRASH_DAYS)


def days_left(row: TrashedArticle, now: datetime) -> int:
    """Whole days before ``row`` is purged, counting a day begun (0: purged any moment)."""
    return max(0, math.ceil((purged_on(row) - now) / DAY))


def _days_left_cell(row: TrashedArticle, _name: str) -> Markup:
    days = days_left(row, utcnow())
    text = "1 day" if days == 1 else f"{days} days"
    return Markup('<span title="Purged for good at {}">{}</span>').format(
        format_time(purged_on(row)), text
    )


class TrashAdmin(ServiceModelView, model=TrashedArticle):
    """Deleted articles, restorable for :data:`TRASH_DAYS` days."""

    name = "Deleted article"
    name_plural = "Trash"
    icon = "fa-solid fa-trash-can"
    row_noun = "deleted article"
    can_create = False
    can_edit = False
    can_export = False

    column_list: ClassVar = [
        TrashedArticle.title,
        TrashedArticle.deleted_at,
        TrashedArticle.deleted_by_name,
        "days_left",
    ]
    column_details_list: ClassVar = [
        TrashedArticle.id,
        TrashedArticle.title,
        TrashedArticle.author_id,
        TrashedArticle.deleted_at,
        TrashedArticle.deleted_by_name,
        "days_left",
    ]
    column_labels: ClassVar = {
        TrashedArticle.id: "ID",
        TrashedArticle.title: "Title",
        TrashedArticle.author_id: "Author (user id)",
        TrashedArticle.deleted_at: "Deleted",
        TrashedArticle.deleted_by_name: "Deleted by",
        "days_left": "Purged in",
    }
    column_formatters: ClassVar = {"days_left": _days_left_cell}
    column_formatters_detail: ClassVar = column_formatters
    column_searchable_list: ClassVar = [TrashedArticle.title]
    column_sortable_list: ClassVar = [TrashedArticle.deleted_at, TrashedArticle.title]
    column_default_sort: ClassVar = [(TrashedArticle.deleted_at, True)]
    row_actions: ClassVar[list[RowAction]] = [
        RowAction(
            name="restore",
            label="Restore",
            question="Restore {rows}? Each comes back under its old address when it is free.",
            done="Restored {names}.",
            permission="restore",
            perform=lambda uow, pk, _choices: actions.UndeleteArticle(article_id=pk)(uow),
            # Undoing a delete needs no second thought: a button on each row does it.
            in_row=True,
        ),
        RowAction(
            name="purge",
            label="Delete for good",
            question="Delete {rows} for good, with their history? This cannot be undone.",
            done="Deleted for good: {names}.",
            permission="purge",
            perform=lambda uow, pk, _choices: actions.PurgeArticle(article_id=pk)(uow),
            danger=True,
        ),
    ]

    def row_label(self, row: Any) -> str:
        return f"“{row.title}”"

    def list_query(self, request: Request) -> Select[Any]:
        return select(TrashedArticle).where(*self._restorable(request))

    def details_query(self, request: Request) -> Select[Any]:
        return super().details_query(request).where(*self._restorable(request))

    @staticmethod
    def _restorable(request: Request) -> tuple[Any, ...]:
        cutoff = utcnow() - timedelta(days=TRASH_DAYS)
        return (
            TrashedArticle.deleted_at >= cutoff,
            permissions.visible_trash(current_user(request)),
        )
