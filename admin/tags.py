"""Tags in the back office: the Tags view (counts, rename, merge, delete) and the
suggestions the article form's tag box offers as an editor types."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from sqladmin.authentication import login_required
from sqladmin.flash import Flash
from sqlalchemy import Select, select
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from admin.actions import Choices, RowAction
from admin.auth import current_user
from admin.forms import FollowsRule
from admin.views import AdminError, ServiceModelView
from cms import permissions
from cms.articles import tag_reads
from cms.articles.models import Tag
from cms.articles.tag_actions import DeleteTag, MergeTags, RenameTag
from cms.db import Database, UnitOfWork, utcnow
from cms.fields import TAG_MAX_LENGTH, TagName

if TYPE_CHECKING:
    from admin.pages import Pages

SUGGESTIONS_SHOWN = 10


class TagAdmin(ServiceModelView, model=Tag):
    """Every tag with how many articles carry it; rename, merge into another, delete."""

    name = "Tag"
    name_plural = "Tags"
    icon = "fa-solid fa-tags"
    row_noun = "tag"
    can_create = False  # a tag is made by tagging an article with it
    can_export = False

    column_list: ClassVar = [Tag.name, Tag.slug, Tag.published_count, Tag.tagged_count]
    column_details_list: ClassVar = column_list
    column_labels: ClassVar = {
        Tag.name: "Name",
        Tag.slug: "Slug",
        Tag.published_count: "Published articles",
        Tag.tagged_count: "All articles",
    }
    column_searchable_list: ClassVar = [Tag.name]
    column_sortable_list: ClassVar = [Tag.name, Tag.published_count, Tag.tagged_count]
    column_default_sort: ClassVar = [(Tag.name, False)]
    form_columns: ClassVar = [Tag.name]
    form_args: ClassVar = {
        "name": {
            "label": "Name",
            "description": "Renaming changes it on every article that carries it; their "
            "history keeps the old name.",
            "validators": [FollowsRule(TagName, "name")],
        }
    }
    row_actions: ClassVar[list[RowAction]] = [
        RowAction(
            name="merge",
            label="Merge",
            question="Merge {rows} into one? Every article with any of them gets the one "
            "you choose; the others are removed.",
            done="Merged {names}.",
            permission="merge",
            perform=lambda uow, pk, choices: _merge(uow, pk, choices),
            choices_template="cms/choices/merge_into.html",
        ),
        RowAction(
            name="delete",
            label="Delete",
            question="Delete {rows}? They are taken off every article (whose history keeps them).",
            done="Deleted {names}.",
            permission="delete",
            perform=lambda uow, pk, _choices: DeleteTag(tag_id=pk)(uow),
            danger=True,
        ),
    ]

    def row_label(self, row: Any) -> str:
        return f"“{row.name}”"

    def search_placeholder(self) -> str:
        return "names starting with"

    def search_query(self, stmt: Select[Any], term: str) -> Select[Any]:
        """Names starting with ``term``, from the name index (not a scan of every tag)."""
        return stmt.where(tag_reads.name_starts_with(term))

    def list_query(self, request: Request) -> Select[Any]:
        return select(Tag)

    async def update_model(self, request: Request, pk: str, data: dict[str, Any]) -> Any:
        rename = RenameTag(tag_id=int(pk), new_name=data.get("name") or "")
        tag = await self.run_as_actor(request, rename)
        Flash.success(request, f"Renamed the tag to {self.row_label(tag)}.")
        return tag


def _merge(uow: UnitOfWork, pk: int, choices: Choices) -> None:
    """One of the chosen tags, ``pk``, merged into the one chosen to keep."""
    try:
        into = int(choices.get("into", ""))
    except ValueError:
        raise AdminError("Choose the tag the others are merged into") from None
    chosen = {int(value) for value in (choices.get("pks") or "").split(",") if value.strip()}
    if len(chosen) < 2:
        raise AdminError("Choose at least two tags to merge")
    if into not in chosen:
        raise AdminError("Merge into one of the chosen tags")
    if pk != into:
        MergeTags(source_id=pk, into_id=into)(uow)


class TagSuggestions:
    """``GET /admin/tag/suggest?q=Coo``: existing tag names for the tag box (select2's
    ajax format), for anyone signed in to the back office."""

    def __init__(self, pages: Pages) -> None:
        self._admin_ref = pages.admin  # login_required looks for it on the endpoint's owner

    @login_required
    async def suggest(self, request: Request) -> Response:
        if not permissions.can_use_back_office(current_user(request)):
            raise HTTPException(403)
        prefix = (request.query_params.get("q") or "")[:TAG_MAX_LENGTH]
        database: Database = request.app.state.database
        viewer = current_user(request)

        def read(connection: Any) -> list[str]:
            return tag_reads.suggestions(
                connection, prefix, viewer=viewer, now=utcnow(), limit=SUGGESTIONS_SHOWN
            )

        names = await run_in_threadpool(database.read, read)
        return JSONResponse({"results": [{"id": name, "text": name} for name in names]})
