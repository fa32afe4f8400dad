"""``/preview/{token}``: a preview link's page on the built-in site.

The article the token opens, rendered by the site's own article page in preview mode
(a visible "not published" note, ``noindex``), never cached, never indexed, and sent
with no referrer (the address is the secret). Anything the token does not open is the
site's 404 page, whatever the reason. An article published since the link was made is
sent to its public page.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool

from cms.articles import reads
from cms.config import Settings
from cms.db import Database, utcnow
from cms.errors import NotFound
from cms.previews import service, tokens
from cms.site import pages
from cms.site.identity import SiteIdentity, current_identity
from cms.site.router import not_found_page
from cms.site.urls import SiteAddresses

router = APIRouter(include_in_schema=False)
PREVIEW_HEADERS = {
    "Cache-Control": "private, no-store",
    "X-Robots-Tag": "noindex",
    "Referrer-Policy": "no-referrer",
}


@router.api_route("/preview/{token}", methods=["GET", "HEAD"])
async def preview_page(token: str, request: Request) -> Response:
    """The article ``token`` opens, as readers will see it; else the 404 page."""
    settings: Settings = request.app.state.settings
    database: Database = request.app.state.database
    addresses: SiteAddresses = request.app.state.site_addresses
    # A malformed or forged token is refused before the article is looked for.
    presented = tokens.parse(settings.secret, token) if settings.site_pages else None
    now = utcnow()

    def read(connection: Connection) -> tuple[SiteIdentity, reads.ArticleRead | None]:
        identity = current_identity(connection, defaults=request.app.state.site_identity)
        if presented is None:
            return identity, None
        article_id = service.resolve_presented(connection, presented, now)
        if article_id is None:
            return identity, None
        try:
            found = reads.read_article(
                connection,
                viewer=None,
                now=now,
                article_id=article_id,
                preview=presented,
                addresses=addresses,
            )
        except NotFound:  # revoked or deleted between the two statements
            return identity, None
        return identity, found

    identity, found = await run_in_threadpool(database.read, read)
    if found is None or found.article is None:
        response: Response = not_found_page(pages.page_site(request, identity))
    elif found.public:
        response = Response(
            status_code=status.HTTP_303_SEE_OTHER,
            headers={"Location": addresses.article_page(found.article["slug"])},
        )
    else:
        response = pages.render_article_page(request, found.article, identity, preview=True)
    response.headers.update(PREVIEW_HEADERS)
    return response
