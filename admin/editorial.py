"""Pages for editors' work beyond a form: the dashboard, an article's history with diffs
and restore, and the live Markdown preview."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqladmin.authentication import login_required
from sqladmin.flash import Flash
from sqlalchemy import ColumnElement, select
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from admin.auth import current_user
from admin.diffs import MAX_LINES, diff_lines
from admin.views import AdminError, ServiceModelView, format_time, state_badge
from cms import permissions
from cms.articles import actions
from cms.articles import counts as article_counts
from cms.articles import service as articles
from cms.articles.models import Article, ArticleRevision, ArticleState, ArticleStatus
from cms.articles.rendering import BodyTooComplex, render_markdown
from cms.audit import service as audit
from cms.db import utcnow
from cms.errors import DomainError
from cms.fields import Body, validated

if TYPE_CHECKING:
    from admin.pages import Pages

COMPARED = ("title", "slug", "status", "published_at", "tags", "body")
HISTORY_PAGE = 50
MAX_PAGE = 100_000
LATEST_ENTRIES = 10
NEXT_SCHEDULED = 5
# What a restore may do to the publication besides bringing content back ("keep": nothing).
RESTORE_CHOICES = {
    "draft": actions.Publication(ArticleState.DRAFT),
    "publish": actions.Publication(ArticleState.PUBLISHED),
}


class EditorialPages:
    def __init__(self, pages: Pages) -> None:
        self.pages = pages
        self._admin_ref = pages.admin  # login_required looks for it on the endpoint's owner

    def _articles(self) -> ServiceModelView:
        return self.pages._view("article")

    # The dashboard

    @login_required
    async def dashboard(self, request: Request) -> Response:
        viewer = current_user(request)
        view = self._articles()
        context = await run_in_threadpool(
            self._dashboard_context, view, viewer, view.visible_rows(request)
        )
        return await self.pages.render(request, "cms/dashboard.html", context)

    @staticmethod
    def _dashboard_context(
        view: ServiceModelView, viewer: Any, visible: ColumnElement[bool]
    ) -> dict[str, Any]:
        """Counts and lists of the articles the article list shows ``viewer``."""
        now = utcnow()
        with view.session_maker() as session:
            # From the kept counts, not by counting the articles (0.6-0.9 s at a million).
            by_state = article_counts.state_counts(
                session, now, author_id=None if permissions.is_staff(viewer) else viewer.id
            )
            scheduled = session.scalars(
                select(Article)
                .where(
                    visible,
                    Article.status == ArticleStatus.PUBLISHED,
                    Article.published_at > now,
                )
                .order_by(Article.published_at)
                .limit(NEXT_SCHEDULED)
            ).all()
            latest = (
                audit.latest(session, viewer, LATEST_ENTRIES)
                if permissions.can_read_audit(viewer)
                else []
            )
        return {
            "counts": {state.value: by_state[state] for state in ArticleState},
            "scheduled": scheduled,
            "latest": latest,
            "format_time": format_time,
        }

    # History

    @login_required
    async def history(self, request: Request) -> Response:
        view = self._articles()
        article = await self._article(request, view)
        page = _page(request.query_params.get("page"))
        viewer = current_user(request)

        def load() -> Sequence[ArticleRevision]:
            with view.session_maker() as session:
                return articles.list_revisions(
                    session,
                    viewer=viewer,
                    article_id=article.id,
                    skip=(page - 1) * HISTORY_PAGE,
                    limit=HISTORY_PAGE + 1,
                )

        revisions = await run_in_threadpool(load)
        return await self.pages.render(
            request,
            "cms/history.html",
            {
                "model_view": view,
                "article": article,
                "revisions": revisions[:HISTORY_PAGE],
                "page": page,
                "has_next": len(revisions) > HISTORY_PAGE,
                "format_time": format_time,
                "can_restore": view.has_permission(request, "edit", article),
                "state_badge": state_badge,
            },
        )

    @login_required
    async def compare(self, request: Request) -> Response:
        view = self._articles()
        article = await self._article(request, view)
        number = _number(request.path_params["number"])
        # ?against=M compares with revision M (what one change did), not with now.
        against = request.query_params.get("against")
        against_number = _number(against) if against else None
        viewer = current_user(request)

        def load() -> dict[str, Any]:
            with view.session_maker() as session:
                try:
                    revision = articles.get_revision(
                        session, viewer=viewer, article_id=article.id, number=number
                    )
                    current = (
                        articles.latest_revision(session, viewer=viewer, article_id=article.id)
                        if against_number is None
                        else articles.get_revision(
                            session, viewer=viewer, article_id=article.id, number=against_number
                        )
                    )
                except DomainError as exc:
                    raise HTTPException(404, exc.message) from exc
                restoring = actions.restore_preview(
                    session, viewer=viewer, article_id=article.id, number=number
                )
            return {
                "restoring": restoring,
                "revision": revision,
                "current": current,
                "diffs": [
                    (field, diff_lines(_field(revision, field), _field(current, field)))
                    for field in COMPARED
                ],
            }

        # Comparing a long body takes a while: a worker thread does it, not the event loop.
        compared = await run_in_threadpool(load)
        return await self.pages.render(
            request,
            "cms/compare.html",
            {
                **compared,
                "model_view": view,
                "article": article,
                "max_lines": MAX_LINES,
                "format_time": format_time,
                "against_now": against_number is None,
                "can_restore": view.has_permission(request, "edit", article)
                and against_number is None
                and compared["revision"].number != compared["current"].number,
                "state": article.state_at(utcnow()),
                "state_badge": state_badge,
            },
        )

    @login_required
    async def restore(self, request: Request) -> Response:
        view = self._articles()
        article = await self._article(request, view)
        number = _number(request.path_params["number"])
        choice = (await request.form()).get("publication") or "keep"
        publication = RESTORE_CHOICES.get(str(choice))
        if choice != "keep" and publication is None:
            raise HTTPException(400, "Choose what happens to the article's publication.")
        action = actions.RestoreRevision(
            article_id=article.id, number=number, publication=publication
        )
        try:
            restored = await view.run_as_actor(request, action)
        except AdminError as exc:
            Flash.error(request, str(exc))
        else:
            Flash.success(
                request,
                f"Restored revision {number} of “{restored.title}” as a new one; it is "
                f"{restored.state_at(utcnow()).value} now.",
            )
        return RedirectResponse(
            str(request.url_for("admin:edit", identity="article", pk=article.id).path), 302
        )

    # The live preview

    @login_required
    async def preview(self, request: Request) -> Response:
        """The body rendered and sanitized exactly as a save would store it."""
        view = self._articles()
        if not (view.has_permission(request, "create") or view.has_permission(request, "edit")):
            raise HTTPException(403)
        form = await request.form()
        body = form.get("body")
        if not isinstance(body, str):
            raise HTTPException(400, "Send the body to preview.")
        try:
            # Rendering a long body takes CPU time: off the event loop.
            html = await run_in_threadpool(render_markdown, validated(Body, "body", body))
        except DomainError as exc:
            return JSONResponse({"error": exc.message}, status_code=422)
        except BodyTooComplex as exc:
            return JSONResponse({"error": str(exc)}, status_code=422)
        return JSONResponse({"html": html})

    async def _article(self, request: Request, view: ServiceModelView) -> Any:
        article = await view.get_object_for_details(request)
        if article is None:
            raise HTTPException(404, "No such article (or not one you may see).")
        return article


def _page(value: str | None) -> int:
    try:
        page = int(value or 1)
    except ValueError:
        raise HTTPException(400, "A page number is a number.") from None
    if not 1 <= page <= MAX_PAGE:
        raise HTTPException(400, f"Pages are numbered from 1 to {MAX_PAGE}.")
    return page


def _number(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise HTTPException(400, "A revision number is a number.") from None


def _field(revision: ArticleRevision, field: str) -> str:
    if field == "tags":
        return ", ".join(json.loads(revision.tags))
    value = getattr(revision, field)
    if field == "published_at":
        return format_time(value) if value else "—"
    if field == "status":
        return str(value.value)
    return str(value)
