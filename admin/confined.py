"""Model views confined by the policy: each route that reads a view's rows (the list,
details, edit, export, row actions, history, as-you-type lookups) sees only the rows
:func:`admin.auth.visible_rows` lets through, and a form only the fields its user may set.

One place, so no route can forget: a new page that loads rows through these methods is
confined like the others, and ``tests/admin/test_authors.py`` tries every route."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqladmin import ModelView
from sqlalchemy import ColumnElement, Select
from starlette.requests import Request
from wtforms import Form

from admin.auth import visible_rows


class ConfinedModelView(ModelView):
    """A view whose rows and form fields are the policy's to choose, per request."""

    def __init__(self) -> None:
        super().__init__()
        # A lookup as you type finds only the rows the policy shows this request (an
        # author looking up users finds themselves).
        for loader in self._form_ajax_refs.values():
            if loader.where is not None:
                raise TypeError("ConfinedModelView confines lookups itself: give no `where`")
            loader.where = _rows_of(loader.model)

    def visible_rows(self, request: Request) -> ColumnElement[bool]:
        """The rows of this view the signed-in user may see."""
        return visible_rows(request, self.model)

    def rows_query(self, request: Request) -> Select[Any]:
        """``list_query`` confined to the visible rows: the list and the export."""
        return self.list_query(request).where(self.visible_rows(request))

    async def get_object_for_details(self, request: Request) -> Any:
        return await self._get_object_by_pk(
            self.details_query(request).where(self.visible_rows(request))
        )

    async def get_object_for_edit(self, request: Request) -> Any:
        return await self._get_object_by_pk(
            self.form_edit_query(request).where(self.visible_rows(request))
        )

    def refused_fields(self, request: Request) -> frozenset[str]:
        """Form fields the signed-in user may not set: the form leaves them out (and the
        services refuse them if posted anyway)."""
        return frozenset()

    def form_shown(self, request: Request, form: Form) -> Form:
        """``form`` as this request may see it (the create and edit pages render this)."""
        for name in self.refused_fields(request):
            if name in form:
                del form[name]
        return form


def _rows_of(model: type[Any]) -> Callable[[Request, str], list[ColumnElement[bool]]]:
    return lambda request, _term: [visible_rows(request, model)]
