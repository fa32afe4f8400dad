"""``/feed.xml``, ``/tags/{slug}/feed.xml`` and ``/sitemap.xml``: what feed readers and
search engines fetch. RSS is built by feedgen; the sitemap is streamed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated
from xml.sax.saxutils import escape

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import StreamingResponse
from feedgen.feed import FeedGenerator

from cms.articles.models import Article, Tag
from cms.config import Settings
from cms.db import Database
from cms.deps import DatabaseDep, ReadSession, SettingsDep
from cms.errors import NotFound
from cms.feeds import service
from cms.media.images import MIME_OF_EXTENSION
from cms.media.projection import from_asset
from cms.openapi import answers
from cms.site.urls import SiteAddresses

router = APIRouter(tags=["site"])

RSS_TYPE = "application/rss+xml; charset=utf-8"
XML_TYPE = "application/xml; charset=utf-8"
# Readers and crawlers may keep a copy this long; a scheduled article shows up at most
# this late. Shared caches only when CMS_SITE_URL says what the links are: otherwise they
# are built from the request's Host header, and one request with a forged Host would
# leave its links in a shared cache for everyone.
CACHE = "public, max-age=60"
CACHE_PRIVATELY = "private, max-age=60"
TagSlug = Annotated[str, Path(max_length=64, description="The tag's slug")]
SitemapPage = Annotated[int, Path(ge=1, le=100_000)]


def _site(request: Request, configured: str | None) -> str:
    return (configured or str(request.base_url)).rstrip("/")


def _caching(settings: Settings) -> dict[str, str]:
    return {"Cache-Control": CACHE if settings.site_url else CACHE_PRIVATELY}


def _article_url(request: Request, site: str, slug: str) -> str:
    """The article's public address (:mod:`cms.site.urls`), absolute."""
    addresses: SiteAddresses = request.app.state.site_addresses
    return addresses.article(slug, origin=site)


def _rss(
    request: Request,
    site: str,
    title: str,
    feed_url: str,
    articles: list[Article] | tuple[Article, ...],
    tag: Tag | None,
) -> bytes:
    feed = FeedGenerator()
    feed.load_extension("dc")
    feed.title(title)
    # feedgen makes the last link given the channel's <link>: the page, not the feed.
    feed.link(href=feed_url, rel="self")
    feed.link(href=_home_url(request, site, tag), rel="alternate")
    feed.description(_xml(f"The newest articles{f' tagged {tag.name}' if tag else ''}"))
    feed.language("en")
    for article in articles:
        entry = feed.add_entry(order="append")
        entry.title(_xml(article.title))
        url = _article_url(request, site, article.slug)
        entry.link(href=url)
        entry.guid(url, permalink=True)
        entry.pubDate(article.published_at)
        entry.dc.dc_creator(_xml(article.author.display_name))
        # A short plain description for readers that show one, the whole HTML beside it.
        entry.description(_xml(_summary(article.body) or article.title))
        entry.content(_xml(article.body_html), type="CDATA")
        for article_tag in article.tags:
            entry.category(term=_xml(article_tag.name))
        if article.cover_image is not None:
            cover = from_asset(article.cover_image)
            # RSS wants a length; the rendition's is not known without reading it.
            entry.enclosure(f"{site}{cover['url']}", "0", _mime_of(cover["url"]))
    rss: bytes = feed.rss_str(pretty=False)
    return rss


def _home_url(request: Request, site: str, tag: Tag | None) -> str:
    """What a feed is the feed of: the site's home or tag page (in headless mode, or with
    the pages off, the API's list)."""
    settings: Settings = request.app.state.settings
    addresses: SiteAddresses = request.app.state.site_addresses
    if addresses.headless or not settings.site_pages:
        return f"{site}/articles/"
    return addresses.tag(tag.slug, origin=site) if tag else addresses.home(origin=site)


# Characters XML 1.0 cannot carry at all, not even escaped. A body pasted from a word
# processor brings vertical tabs (its soft line breaks); stored text may hold them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _mime_of(url: str) -> str:
    return MIME_OF_EXTENSION[url.rsplit(".", 1)[1]]


def _xml(text: str) -> str:
    """``text`` without the characters XML cannot represent (a vertical tab becomes a
    space, so the words on either side stay apart)."""
    return _NOT_XML.sub(lambda found: " " if found.group() in "\x0b\x0c" else "", text)


def _summary(body: str, length: int = 280) -> str:
    text = " ".join(body.split())
    return text if len(text) <= length else text[: length - 1].rsplit(" ", 1)[0] + "…"


@router.get("/feed.xml", response_class=Response, responses={200: {"content": {RSS_TYPE: {}}}})
def feed(request: Request, session: ReadSession, settings: SettingsDep) -> Response:
    """RSS 2.0 of the 20 newest published articles, with their rendered HTML."""
    site = _site(request, settings.site_url)
    articles, _ = service.newest_for_feed(session)
    body = _rss(request, site, "Newest articles", f"{site}/feed.xml", list(articles), None)
    return Response(body, media_type=RSS_TYPE, headers=_caching(settings))


@router.get(
    "/tags/{slug}/feed.xml",
    response_class=Response,
    responses={200: {"content": {RSS_TYPE: {}}}, **answers(404)},
)
def tag_feed(
    slug: TagSlug, request: Request, session: ReadSession, settings: SettingsDep
) -> Response:
    """The same, for one tag."""
    site = _site(request, settings.site_url)
    articles, tag = service.newest_for_feed(session, tag_slug=slug)
    assert tag is not None
    body = _rss(
        request,
        site,
        f"Newest articles: {tag.name}",
        f"{site}/tags/{slug}/feed.xml",
        list(articles),
        tag,
    )
    return Response(body, media_type=RSS_TYPE, headers=_caching(settings))


@router.get("/sitemap.xml", response_class=Response, responses={200: {"content": {XML_TYPE: {}}}})
def sitemap(request: Request, database: DatabaseDep, settings: SettingsDep) -> Response:
    """Every published article with its ``lastmod``; past 50,000, an index of sitemaps."""
    site = _site(request, settings.site_url)
    with database.reading() as session:
        count = service.visible_count(session)
        pages = service.sitemap_pages(session, count)
        # The site's own pages, while they fit into the one file.
        extra: list[str] = []
        addresses: SiteAddresses = request.app.state.site_addresses
        room = service.SITEMAP_URLS - count - 1
        if pages == 1 and settings.site_pages and not addresses.headless and room >= 0:
            extra = [addresses.home(origin=site)] + [
                addresses.tag(slug, origin=site) for slug in service.sitemap_tags(session, room)
            ]
    if pages == 1:
        return _urlset(request, database, site, 1, _caching(settings), extra)
    entries = "".join(
        f"<sitemap><loc>{escape(site)}/sitemap-{page}.xml</loc></sitemap>"
        for page in range(1, pages + 1)
    )
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"{entries}</sitemapindex>"
    )
    return Response(body, media_type=XML_TYPE, headers=_caching(settings))


@router.get(
    "/sitemap-{page:int}.xml",
    response_class=Response,
    responses={200: {"content": {XML_TYPE: {}}}, **answers(404)},
)
def sitemap_page(
    page: SitemapPage, request: Request, database: DatabaseDep, settings: SettingsDep
) -> Response:
    """One file of the sitemap index."""
    site = _site(request, settings.site_url)
    with database.reading() as session:
        if page > service.sitemap_pages(session):
            raise NotFound("The sitemap has fewer pages")
    return _urlset(request, database, site, page, _caching(settings))


def _urlset(
    request: Request,
    database: Database,
    site: str,
    page: int,
    headers: dict[str, str],
    extra: list[str] | None = None,
) -> StreamingResponse:
    addresses: SiteAddresses = request.app.state.site_addresses

    def lines() -> Iterator[str]:
        yield (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        )
        for address in extra or ():
            yield f"<url><loc>{escape(address)}</loc></url>"
        with database.reading() as session:
            for slug, updated_at in service.sitemap_entries(session, page):
                yield (
                    f"<url><loc>{escape(addresses.article(slug, origin=site))}</loc>"
                    f"<lastmod>{updated_at.strftime('%Y-%m-%dT%H:%M:%SZ')}</lastmod></url>"
                )
        yield "</urlset>"

    return StreamingResponse(lines(), media_type=XML_TYPE, headers=headers)
