"""Pages for editors' work beyond a form: the dashboard, an article's history with diffs
and restore, and the live Markdown preview."""

from __future__ import annotations

import difflib
import json
from typing import TYPE_CHECKING, Any

from markupsafe import Markup
from sqladmin.authentication import login_required
from sqladmin.flash import Flash
from sqlalchemy import func, select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from admin.auth import current_user
from admin.views import AdminError, ServiceModelView, format_time
from cms import permissions
from cms.articles import service as articles
from cms.articles.models import Article, ArticleRevision, ArticleStatus
from cms.articles.rendering import BodyTooComplex, render_markdown
from cms.audit import service as audit
from cms.db import utcnow
from cms.errors import DomainError
from cms.fields import Body, validated

if TYPE_CHECKING:
    from admin.pages import Pages

COMPARED = ("title", "slug", "status", "published_at", "tags", "body")
LATEST_ENTRIES = 10
NEXT_SCHEDULED = 5


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
        now = utcnow()
        view = self._articles()
        with view.session_maker() as session:
            visible = permissions.visible_articles(viewer, now)
            counts = dict(
                session.execute(
                    select(_state(now), func.count())
                    .select_from(Article)
                    .where(visible)
                    .group_by(_state(now))
                ).all()
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
        return await self.pages.render(
            request,
            "cms/dashboard.html",
            {
                "counts": {key: counts.get(key, 0) for key in ("draft", "scheduled", "published")},
                "scheduled": scheduled,
                "latest": latest,
                "format_time": format_time,
            },
        )

    # History

    @login_required
    async def history(self, request: Request) -> Response:
        view = self._articles()
        article = await self._article(request, view)
        with view.session_maker() as session:
            revisions = articles.list_revisions(
                session, viewer=current_user(request), article_id=article.id
            )
        return await self.pages.render(
            request,
            "cms/history.html",
            {
                "model_view": view,
                "article": article,
                "revisions": revisions,
                "format_time": format_time,
                "can_restore": view.has_permission(request, "edit", article),
            },
        )

    @login_required
    async def compare(self, request: Request) -> Response:
        view = self._articles()
        article = await self._article(request, view)
        number = _number(request.path_params["number"])
        viewer = current_user(request)
        with view.session_maker() as session:
            try:
                revision = articles.get_revision(
                    session, viewer=viewer, article_id=article.id, number=number
                )
            except DomainError as exc:
                raise HTTPException(404, exc.message) from exc
            current = articles.list_revisions(session, viewer=viewer, article_id=article.id)[0]
        return await self.pages.render(
            request,
            "cms/compare.html",
            {
                "model_view": view,
                "article": article,
                "revision": revision,
                "current": current,
                "diffs": [
                    (field, _diff(field, _field(revision, field), _field(current, field)))
                    for field in COMPARED
                ],
                "format_time": format_time,
                "can_restore": view.has_permission(request, "edit", article)
                and revision.number != current.number,
            },
        )

    @login_required
    async def restore(self, request: Request) -> Response:
        view = self._articles()
        article = await self._article(request, view)
        number = _number(request.path_params["number"])
        try:
            await view.run_as_actor(
                request,
                lambda uow: articles.restore_revision(uow, article_id=article.id, number=number),
            )
        except AdminError as exc:
            Flash.error(request, str(exc))
        else:
            Flash.success(request, f"Restored revision {number} of “{article.title}” as a new one.")
        return RedirectResponse(
            str(request.url_for("admin:edit", identity="article", pk=article.id).path), 302
        )

    # The live preview

    @login_required
    async def preview(self, request: Request) -> Response:
        """The body rendered and sanitized exactly as a save would store it."""
        if not permissions.can_use_back_office(current_user(request)):
            raise HTTPException(403)
        form = await request.form()
        body = form.get("body")
        if not isinstance(body, str):
            raise HTTPException(400, "Send the body to preview.")
        try:
            html = render_markdown(validated(Body, "body", body))
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


def _state(now: Any) -> Any:
    from sqlalchemy import case

    return case(
        (Article.status == ArticleStatus.DRAFT, "draft"),
        (Article.published_at > now, "scheduled"),
        else_="published",
    )


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


def _diff(field: str, before: str, after: str) -> Markup | None:
    """A side-by-side table of what differs (``None`` when nothing does)."""
    if before == after:
        return None
    table = difflib.HtmlDiff(wrapcolumn=70).make_table(
        before.splitlines() or [""],
        after.splitlines() or [""],
        fromdesc="That revision",
        todesc="Now",
        context=field == "body",
        numlines=2,
    )
    # difflib escapes the text it shows; it writes no scripts and no inline styles.
    return Markup(table)  # noqa: S704
