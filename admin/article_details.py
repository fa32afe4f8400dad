"""What an article's details page shows beyond its columns: the body as readers see it
(``body_html``, sanitized when it was saved), its tags, and its current revision: the one
number the back office speaks of (the ``version`` counter behind ETags and the edit
form's lost-update check is not shown to editors)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from anyio import to_thread
from markupsafe import Markup
from starlette.requests import Request

from admin.auth import current_user
from cms.articles import service as articles
from cms.articles.models import Article
from cms.errors import DomainError

if TYPE_CHECKING:
    from admin.views import ServiceModelView

REVISION = "revision"


def rendered_body(article: Article, _name: str) -> Markup:
    # Stored sanitized by the renderer on save; shown as the public site would.
    return Markup('<div class="cms-rendered">{}</div>').format(Markup(article.body_html))  # noqa: S704


def tag_badges(article: Article, _name: str) -> Markup:
    if not article.tags:
        return Markup('<span class="text-secondary">none</span>')
    return Markup(" ").join(
        Markup('<span class="badge bg-azure-lt cms-tag">{}</span>').format(tag.name)
        for tag in article.tags
    )


def revision_link(article: Article, _name: str, request: Request) -> Markup:
    number = getattr(request.state, "current_revision", None)
    history = str(request.url_for("admin:history", pk=article.id).path)
    if number is None:
        return Markup('<a href="{}">History</a>').format(history)
    return Markup('Revision {} (<a href="{}">history</a>)').format(number, history)


async def details_context(view: ServiceModelView, request: Request) -> dict[str, Any]:
    """Finds the article's current revision number for :func:`revision_link`."""
    viewer = current_user(request)
    article_id = int(request.path_params["pk"])

    def number() -> int | None:
        with view.session_maker() as session:
            try:
                return articles.latest_revision(
                    session, viewer=viewer, article_id=article_id
                ).number
            except DomainError:
                return None

    request.state.current_revision = await to_thread.run_sync(number)
    return {}
