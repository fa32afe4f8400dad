"""An article's preview links in the back office: *Share preview* (a draft or scheduled
article, an expiry to choose), the new link shown once, and the links still open, each
with *Revoke*. The article's author and staff only, like editing it; every change is a
POST carrying the CSRF token, run as an action, audited."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqladmin.authentication import login_required
from sqladmin.flash import Flash
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from admin.auth import current_user
from admin.views import AdminError, ServiceModelView, format_time, state_badge
from cms.articles.models import ArticleState
from cms.db import utcnow
from cms.errors import DomainError
from cms.previews import actions, service
from cms.previews.models import DEFAULT_EXPIRES_IN, PreviewLink
from cms.site.urls import SiteAddresses

if TYPE_CHECKING:
    from admin.pages import Pages

# What the expiry choice posts: seconds, one of these.
CHOICES = {str(int(span.total_seconds())): (span, label) for span, label in service.EXPIRY_CHOICES}
DEFAULT_CHOICE = str(int(DEFAULT_EXPIRES_IN.total_seconds()))


class PreviewPages:
    def __init__(self, pages: Pages) -> None:
        self.pages = pages
        self._admin_ref = pages.admin  # login_required looks for it on the endpoint's owner

    def _articles(self) -> ServiceModelView:
        return self.pages._view("article")

    async def _article(self, request: Request) -> Any:
        """The article named in the path, if this user may share its previews."""
        view = self._articles()
        article = await view.get_object_for_details(request)
        if article is None:
            raise HTTPException(404, "No such article (or not one you may see).")
        if not view.has_permission(request, "share_preview", article):
            raise HTTPException(403, "Only the article's author and editors share previews.")
        return article

    def _page(self, request: Request, article_id: int) -> str:
        return str(request.url_for("admin:preview-links", pk=article_id).path)

    @login_required
    async def links(self, request: Request) -> Response:
        article = await self._article(request)
        viewer = current_user(request)
        view = self._articles()

        def load() -> Sequence[PreviewLink]:
            with view.session_maker() as session:
                return service.active_links(
                    session, viewer=viewer, article_id=article.id, now=utcnow()
                )

        try:
            links = await run_in_threadpool(load)
        except DomainError as exc:
            raise HTTPException(404, exc.message) from exc
        state = article.state_at(utcnow())
        return await self.pages.render(
            request,
            "cms/preview_links.html",
            {
                "title": f"Preview links of “{article.title}”",
                "article": article,
                "links": links,
                "state": state,
                "state_badge": state_badge,
                "can_share": state is not ArticleState.PUBLISHED,
                "choices": [(value, label) for value, (_, label) in CHOICES.items()],
                "default_choice": DEFAULT_CHOICE,
                "format_time": format_time,
            },
        )

    @login_required
    async def share(self, request: Request) -> Response:
        article = await self._article(request)
        form = await request.form()
        choice = CHOICES.get(str(form.get("expires_in", "")))
        if choice is None:
            Flash.error(
                request, "No link was made: choose how long the link works (1 hour to 30 days)."
            )
            return RedirectResponse(self._page(request, article.id), 302)
        span: timedelta = choice[0]
        settings = request.app.state.settings
        action = actions.SharePreview(
            article_id=article.id, expires_in=span, site_key=settings.secret
        )
        try:
            shared = await self._articles().run_as_actor(request, action)
        except AdminError as exc:
            Flash.error(request, f"No link was made: {exc}")
            return RedirectResponse(self._page(request, article.id), 302)
        response = await self.pages.render(
            request,
            "cms/shown_once.html",
            {
                "title": "Preview link made",
                "what": f"The preview link of “{article.title}”: anyone holding it can read "
                f"the article as it is now, without signing in, until "
                f"{format_time(shared.link.expires_at)} or until you revoke it",
                "value": SiteAddresses.from_settings(settings).preview_url(
                    shared.token, shared.slug
                ),
                "back": self._page(request, article.id),
            },
        )
        response.headers["Cache-Control"] = "no-store"
        return response

    @login_required
    async def revoke(self, request: Request) -> Response:
        article = await self._article(request)
        link_id = _link_id(request.path_params["link_id"])
        action = actions.RevokePreview(link_id=link_id, article_id=article.id)
        try:
            await self._articles().run_as_actor(request, action)
        except AdminError as exc:
            Flash.error(request, f"Nothing was changed: {exc}")
        else:
            Flash.success(request, f"Preview link {link_id} is revoked: it opens nothing now.")
        return RedirectResponse(self._page(request, article.id), 302)


def _link_id(value: Any) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise HTTPException(404) from None
    if not 1 <= number <= 2_147_483_647:
        raise HTTPException(404)
    return number
