"""The readers' site: home, article, tag, author and search pages, robots.txt and the
stylesheet.

Every page is read anonymously through :mod:`cms.articles.reads` (the API's read path,
filtered by the one visibility rule), so a draft, a scheduled or a trashed article is the
404 page. Pages carry an ETag (a matching ``If-None-Match`` gets a 304) and the same
``Cache-Control`` as the API's public reads; lists are never cached past the moment the
next scheduled article appears. With ``CMS_SITE_PAGES=false`` every page is the 404 page.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import HTMLResponse, PlainTextResponse
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool

from cms.articles import etags, reads
from cms.articles.slugs import is_valid_slug
from cms.config import Settings
from cms.db import Database, utcnow
from cms.errors import InvalidInput, NotFound, SlugMoved
from cms.schemas import MAX_ID
from cms.site import pages
from cms.site.identity import SiteIdentity, current_identity
from cms.site.theme import Theme
from cms.site.urls import SiteAddresses

router = APIRouter(include_in_schema=False)
GET = ["GET", "HEAD"]
PAGE_SIZE = 10
MAX_QUERY = 200
MAX_CURSOR = 512
IMMUTABLE = "public, max-age=31536000, immutable"
BAD_LINK = "This page's link is broken or out of date. Start again from the first page."


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


def _identity(request: Request, connection: Connection) -> SiteIdentity:
    return current_identity(connection, defaults=request.app.state.site_identity)


async def _read_identity(request: Request) -> SiteIdentity:
    return await run_in_threadpool(
        _database(request).read, lambda connection: _identity(request, connection)
    )


def not_found_page(site: pages.PageSite) -> HTMLResponse:
    return pages.render(
        site,
        "404.html",
        {"page_title": pages.titled("Page not found", site), "noindex": True},
        status_code=status.HTTP_404_NOT_FOUND,
        # Short-lived: a scheduled article's page appears by itself at its time.
        headers={"Cache-Control": "no-cache"},
    )


def _message_page(site: pages.PageSite, heading: str, message: str, code: int) -> HTMLResponse:
    return pages.render(
        site,
        "message.html",
        {
            "page_title": pages.titled(heading, site),
            "heading": heading,
            "message": message,
            "noindex": True,
        },
        status_code=code,
        headers={"Cache-Control": "no-cache"},
    )


async def not_found(request: Request) -> HTMLResponse:
    """The 404 page for ``request``."""
    return not_found_page(pages.page_site(request, await _read_identity(request)))


def unavailable(request: Request) -> HTMLResponse:
    """The page for a database that does not answer (made without asking it anything)."""
    site = pages.page_site(request, request.app.state.site_identity)
    response = _message_page(
        site,
        "Back in a moment",
        "The site cannot reach its database just now. Please try again in a few seconds.",
        status.HTTP_503_SERVICE_UNAVAILABLE,
    )
    response.headers["Retry-After"] = "5"
    return response


SITE_PREFIXES = ("/posts/", "/tag/", "/author/", "/preview/")


def is_site_path(path: str) -> bool:
    """Whether ``path`` is one of the site's pages (not the API's)."""
    return path in ("/", "/search") or path.startswith(SITE_PREFIXES)


def wants_a_page(request: Request) -> bool:
    """Whether a request no route answered came from a browser reading the site (a GET
    asking for HTML, with the pages on): it gets the 404 page instead of JSON."""
    return (
        request.method in ("GET", "HEAD")
        and "text/html" in request.headers.get("accept", "")
        and _settings(request).site_pages
    )


# One article


@dataclass(frozen=True)
class _Lookup:
    """What reading an article's page found: the article, where it moved, or nothing."""

    site: pages.PageSite
    found: reads.ArticleRead | None = None
    moved_to: str | None = None


@router.api_route("/posts/{slug}", methods=GET)
async def article_page(slug: str, request: Request) -> Response:
    """An article's page; a slug it had before answers 301 to its page now."""
    settings = _settings(request)
    if not settings.site_pages or not is_valid_slug(slug):
        return await not_found(request)
    addresses: SiteAddresses = request.app.state.site_addresses
    sent = request.headers.get("if-none-match")
    now = utcnow()

    def read(connection: Connection) -> _Lookup:
        site = pages.page_site(request, _identity(request, connection))
        try:
            found = reads.read_article(
                connection,
                viewer=None,
                now=now,
                slug=slug,
                if_none_match=pages.article_etags_sent(sent, site),
                addresses=addresses,
            )
        except SlugMoved as moved:
            return _Lookup(site, moved_to=moved.current_slug)
        except NotFound:
            return _Lookup(site)
        return _Lookup(site, found)

    lookup: _Lookup = await run_in_threadpool(_database(request).read, read)
    site, found = lookup.site, lookup.found
    if lookup.moved_to is not None:
        return Response(
            status_code=status.HTTP_301_MOVED_PERMANENTLY,
            headers={"Location": addresses.article_page(lookup.moved_to)},
        )
    if found is None:
        return not_found_page(site)
    headers = {
        "ETag": pages.article_etag(found.etag, site),
        "Cache-Control": pages.cache_control(site, settings.cache_max_age),
    }
    if found.article is None:
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    rendered = site.theme.rendered
    body = rendered.get(headers["ETag"])
    if body is not None:
        return HTMLResponse(body, headers={"Content-Security-Policy": pages.PAGE_CSP, **headers})
    response = pages.render(site, "article.html", pages.article_context(site, found.article))
    if response.status_code == status.HTTP_200_OK:
        rendered.put(headers["ETag"], bytes(response.body))
        response.headers.update(headers)
    return response


# Lists


@dataclass(frozen=True)
class _Listed:
    site: pages.PageSite
    page: reads.ListPage | None = None
    next_change: datetime | None = None
    problem: str | None = None


async def _list(request: Request, query: reads.ListQuery) -> _Listed:
    settings = _settings(request)
    addresses: SiteAddresses = request.app.state.site_addresses
    now = utcnow()

    def read(connection: Connection) -> _Listed:
        site = pages.page_site(request, _identity(request, connection))
        try:
            page = reads.list_articles(
                connection,
                viewer=None,
                query=query,
                now=now,
                secret=settings.secret,
                addresses=addresses,
            )
        except InvalidInput as exc:
            return _Listed(site, problem=exc.message)
        return _Listed(site, page, reads.next_scheduled(connection, now))

    listed: _Listed = await run_in_threadpool(_database(request).read, read)
    return listed


def _list_response(
    request: Request,
    listed: _Listed,
    template: str,
    context: dict[str, Any],
    older: Callable[[str], str],
) -> Response:
    site, page = listed.site, listed.page
    assert page is not None
    settings = _settings(request)
    now = utcnow()
    max_age = settings.cache_max_age
    if listed.next_change is not None:
        max_age = min(max_age, max(0, int((listed.next_change - now).total_seconds())))
    headers = {
        "ETag": _list_etag(page, site),
        "Cache-Control": pages.cache_control(site, max_age),
    }
    sent = request.headers.get("if-none-match")
    if sent is not None and etags.matches(sent, headers["ETag"]):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    # The same rows under another address (another search) are another page.
    key = f"{request.url.path}?{request.url.query}\x00{headers['ETag']}"
    body = site.theme.rendered.get(key)
    if body is not None:
        return HTMLResponse(body, headers={"Content-Security-Policy": pages.PAGE_CSP, **headers})
    addresses = site.addresses
    items = [
        {
            "title": article["title"],
            "href": addresses.article_page(article["slug"]),
            "author": article["author"],
            "author_url": addresses.author(article["author_id"]),
            "published": datetime.fromisoformat(article["published_at"]),
            "excerpt": pages.excerpt(article["body_html"]),
        }
        for article in page.articles
    ]
    full = {
        "items": items,
        "older": older(page.next_cursor) if page.next_cursor else None,
        **context,
    }
    response = pages.render(site, template, full)
    if response.status_code == status.HTTP_200_OK:
        site.theme.rendered.put(key, bytes(response.body))
        response.headers.update(headers)
    return response


def _list_etag(page: reads.ListPage, site: pages.PageSite) -> str:
    """The rows' ETag, whether there is an older page, and what every page shows."""
    more = hashlib.blake2b((page.next_cursor or "").encode(), digest_size=4).hexdigest()
    return f'"l.{page.etag.strip(chr(34))}.{more}~{site.digest}"'


def _cursor(request: Request) -> str | None:
    return request.query_params.get("cursor") or None


def _broken_link(site: pages.PageSite, message: str = BAD_LINK) -> HTMLResponse:
    return _message_page(site, "Broken link", message, status.HTTP_400_BAD_REQUEST)


@router.api_route("/", methods=GET)
async def home(request: Request) -> Response:
    """The newest articles, a page at a time ("Older articles" goes on)."""
    if not _settings(request).site_pages:
        return await not_found(request)
    cursor = _cursor(request)
    if cursor is not None and len(cursor) > MAX_CURSOR:
        return _broken_link(pages.page_site(request, await _read_identity(request)))
    listed = await _list(request, reads.ListQuery(limit=PAGE_SIZE, cursor=cursor))
    if listed.problem is not None:
        return _broken_link(listed.site)
    site = listed.site
    context = {
        "page_title": site.identity.name
        if cursor is None
        else pages.titled("Older articles", site),
        "heading": "Newest articles" if cursor is None else "Older articles",
        "canonical": site.absolute(site.addresses.home(origin=site.origin))
        if cursor is None
        else None,
    }
    return _list_response(
        request, listed, "home.html", context, lambda next_: f"/?{urlencode({'cursor': next_})}"
    )


@router.api_route("/tag/{slug}", methods=GET)
async def tag_page(slug: str, request: Request) -> Response:
    """A tag's articles, newest first; a tag no visible article carries is not found."""
    if not _settings(request).site_pages or len(slug) > 64:
        return await not_found(request)
    cursor = _cursor(request)
    if cursor is not None and len(cursor) > MAX_CURSOR:
        return _broken_link(pages.page_site(request, await _read_identity(request)))
    listed = await _list(request, reads.ListQuery(limit=PAGE_SIZE, tag=slug, cursor=cursor))
    if listed.problem is not None:
        return _broken_link(listed.site)
    assert listed.page is not None
    site = listed.site
    if not listed.page.articles:
        return not_found_page(site)
    name = next(
        (tag for tag in listed.page.articles[0]["tags"] if pages.cached_tag_slug(tag) == slug),
        slug,
    )
    feed = f"/tags/{quote(slug, safe='')}/feed.xml"
    context = {
        "page_title": pages.titled(name, site),
        "tag_name": name,
        "description": f"Articles tagged {name}",
        "canonical": site.absolute(site.addresses.tag(slug, origin=site.origin))
        if cursor is None
        else None,
        "alternate_feeds": [(f"{site.identity.name}: {name}", feed)],
    }
    return _list_response(
        request,
        listed,
        "tag.html",
        context,
        lambda next_: f"/tag/{quote(slug, safe='')}?{urlencode({'cursor': next_})}",
    )


@router.api_route("/author/{author_id}", methods=GET)
async def author_page(author_id: str, request: Request) -> Response:
    """An author's published articles; an author without any is not found."""
    if not _settings(request).site_pages or not author_id.isascii() or not author_id.isdigit():
        return await not_found(request)
    number = int(author_id)
    if not 1 <= number <= MAX_ID or author_id != str(number):
        return await not_found(request)
    cursor = _cursor(request)
    if cursor is not None and len(cursor) > MAX_CURSOR:
        return _broken_link(pages.page_site(request, await _read_identity(request)))
    listed = await _list(request, reads.ListQuery(limit=PAGE_SIZE, author_id=number, cursor=cursor))
    if listed.problem is not None:
        return _broken_link(listed.site)
    assert listed.page is not None
    site = listed.site
    if not listed.page.articles:
        return not_found_page(site)
    name = listed.page.articles[0]["author"]
    context = {
        "page_title": pages.titled(name, site),
        "author_name": name,
        "description": f"Articles by {name}",
        "canonical": site.absolute(site.addresses.author(number, origin=site.origin))
        if cursor is None
        else None,
    }
    return _list_response(
        request,
        listed,
        "author.html",
        context,
        lambda next_: f"/author/{number}?{urlencode({'cursor': next_})}",
    )


@router.api_route("/search", methods=GET)
async def search_page(request: Request) -> Response:
    """Full-text search over titles and bodies (the API's ``GET /articles/?q=``)."""
    if not _settings(request).site_pages:
        return await not_found(request)
    q = " ".join(request.query_params.get("q", "").split())
    cursor = _cursor(request)
    base = {"q": q, "max_length": MAX_QUERY, "noindex": True}
    if not q:
        site = pages.page_site(request, await _read_identity(request))
        return pages.render(
            site,
            "search.html",
            {**base, "items": [], "older": None, "page_title": pages.titled("Search", site)},
            headers={"Cache-Control": pages.cache_control(site, _settings(request).cache_max_age)},
        )
    if len(q) > MAX_QUERY or (cursor is not None and len(cursor) > MAX_CURSOR):
        site = pages.page_site(request, await _read_identity(request))
        return _message_page(
            site,
            "Search too long",
            f"Search for at most {MAX_QUERY} characters.",
            status.HTTP_400_BAD_REQUEST,
        )
    listed = await _list(request, reads.ListQuery(limit=PAGE_SIZE, q=q, cursor=cursor))
    if listed.problem is not None:
        message = (
            BAD_LINK if cursor is not None else f"This search cannot be run: {listed.problem}."
        )
        return _message_page(listed.site, "Cannot search for that", message, 400)
    site = listed.site
    context = {**base, "page_title": pages.titled(f"Search: {q}", site)}
    return _list_response(
        request,
        listed,
        "search.html",
        context,
        lambda next_: f"/search?{urlencode({'q': q, 'cursor': next_})}",
    )


@router.api_route("/posts/{rest:path}", methods=GET)
@router.api_route("/tag/{rest:path}", methods=GET)
@router.api_route("/author/{rest:path}", methods=GET)
async def unknown_page(rest: str, request: Request) -> Response:
    """Any other address under the site's paths: the 404 page."""
    del rest
    return await not_found(request)


# What crawlers and browsers fetch besides pages


@router.api_route("/robots.txt", methods=GET)
async def robots(request: Request) -> Response:
    """Where the sitemap is, and what crawlers should leave alone."""
    settings = _settings(request)
    origin = settings.site_url or str(request.base_url).rstrip("/")
    body = f"User-agent: *\nDisallow: /admin\nDisallow: /preview/\nSitemap: {origin}/sitemap.xml\n"
    shared = "public" if settings.site_url else "private"
    return PlainTextResponse(body, headers={"Cache-Control": f"{shared}, max-age=3600"})


@router.api_route("/site/static/{name}", methods=GET)
async def stylesheet(name: str, request: Request) -> Response:
    """The theme's stylesheet; its address carries its content hash, so it never changes."""
    theme: Theme = request.app.state.site_theme
    sheet = theme.stylesheet
    if name != sheet.url.rsplit("/", 1)[1]:
        return Response(status_code=status.HTTP_404_NOT_FOUND)
    return Response(
        sheet.body,
        media_type="text/css",
        headers={"Cache-Control": IMMUTABLE, "ETag": f'"{sheet.digest}"'},
    )
