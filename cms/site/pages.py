"""The readers' pages rendered from articles in the API's shape (:mod:`cms.articles.projection`).

Nothing here reads the database: the router (or the preview page) reads with the same
read path and visibility rule as the API and hands the results over. What crawlers and
social sites read (title, description, canonical address, OpenGraph and Twitter tags,
JSON-LD) is computed here from the same article.
"""

from __future__ import annotations

import hashlib
import html
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import orjson
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse

from cms import __version__
from cms.articles.tags import tag_slug
from cms.config import Settings
from cms.media.images import SIZES
from cms.site.identity import SiteIdentity
from cms.site.theme import TemplateFailed, Theme, error_page
from cms.site.urls import SiteAddresses

PRIVATE_NO_STORE = "private, no-store"
DESCRIPTION_LENGTH = 160
WORDS_PER_MINUTE = 230
# Enough of a body's HTML for a description, whatever the body's size.
_DESCRIPTION_SOURCE = 4_000
_EXCERPT_FIRST = 1_000
# Images (the body may show pictures from elsewhere), our stylesheet, forms to ourselves;
# no script at all (JSON-LD is data, not script). connect-src 'self' grants nothing to a
# page without script, but tools that fetch in the page's context (Lighthouse reads
# /robots.txt so, and marks the site's SEO down when the CSP refuses it) need it.
PAGE_CSP = (
    "default-src 'none'; img-src 'self' https: data:; style-src 'self'; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
COVER_SIZES = "(max-width: 46rem) 100vw, 46rem"
# A tag's slug, from its name (python-slugify takes ~70 µs a name; a site has few tags).
cached_tag_slug = lru_cache(maxsize=4096)(tag_slug)
# One tag of sanitized HTML; quoted attribute values may hold a ">".
_TAG = re.compile(r"""<(?:[^>"']|"[^"]*"|'[^']*')*>""")


@dataclass(frozen=True)
class PageSite:
    """What every page needs besides its content, for one request."""

    identity: SiteIdentity
    addresses: SiteAddresses
    theme: Theme
    # Absolute origin for canonical addresses and social tags (CMS_SITE_URL, or the
    # address this request was made to).
    origin: str
    # Whether shared caches may keep the page: only when its links do not come from the
    # request's Host header.
    shared: bool

    @property
    def digest(self) -> str:
        """Part of every page's ETag: anything outside the content that the page shows."""
        shown = "\x00".join(
            [
                __version__,
                repr(self.identity),  # every field, whatever fields it gains
                self.theme.digest,
                self.addresses.digest_source(),
                self.origin,
            ]
        )
        return hashlib.blake2b(shown.encode(), digest_size=6).hexdigest()

    def absolute(self, address: str) -> str:
        return address if "://" in address else f"{self.origin}{address}"


def page_site(request: Request, identity: SiteIdentity) -> PageSite:
    """The :class:`PageSite` of ``request``'s application."""
    settings: Settings = request.app.state.settings
    origin = settings.site_url or str(request.base_url).rstrip("/")
    return PageSite(
        identity=identity,
        addresses=request.app.state.site_addresses,
        theme=request.app.state.site_theme,
        origin=origin,
        shared=settings.site_url is not None,
    )


def titled(text: str, site: PageSite) -> str:
    """A page's ``<title>``: what it is, then the site's name."""
    return f"{text} \u2013 {site.identity.name}"


def cache_control(site: PageSite, max_age: int) -> str:
    return f"{'public' if site.shared else 'private'}, max-age={max_age}"


def render(
    site: PageSite,
    template: str,
    context: Mapping[str, Any],
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """``template`` as a page; the 500 page (no detail) when the template is broken."""
    full = {**_common(site), **context}
    try:
        body = site.theme.render(template, full)
    except TemplateFailed:
        return server_error_page(site.theme)
    return HTMLResponse(
        body,
        status_code=status_code,
        headers={"Content-Security-Policy": PAGE_CSP, **(headers or {})},
    )


def server_error_page(theme: Theme) -> HTMLResponse:
    return HTMLResponse(
        error_page(theme.stylesheet.url),
        status_code=500,
        headers={"Content-Security-Policy": PAGE_CSP, "Cache-Control": PRIVATE_NO_STORE},
    )


def _common(site: PageSite) -> dict[str, Any]:
    addresses = site.addresses
    return {
        "site": site.identity,
        "stylesheet": site.theme.stylesheet.url,
        "feed_url": "/feed.xml",
        "home_url": addresses.home(),
        "search_url": "/search",
        "noindex": False,
        "canonical": None,
        "description": site.identity.description,
        "og": None,
        "og_tags": "",
        "json_ld": None,
        "alternate_feeds": [(f"{site.identity.name}", "/feed.xml")],
    }


# Articles


def render_article_page(
    request: Request,
    article: Mapping[str, Any],
    identity: SiteIdentity,
    *,
    preview: bool = False,
) -> HTMLResponse:
    """The page of ``article`` (a dict in the API's shape, :mod:`cms.articles.projection`).

    ``preview=True`` is for a preview link's page: marked ``noindex`` and never cached
    (``Cache-Control: private, no-store``), with no ETag. Otherwise the caller adds the
    ETag and ``Cache-Control`` (:func:`article_etag`)."""
    site = page_site(request, identity)
    headers = {"Cache-Control": PRIVATE_NO_STORE} if preview else None
    return render(
        site, "article.html", article_context(site, article, preview=preview), headers=headers
    )


def article_context(
    site: PageSite, article: Mapping[str, Any], *, preview: bool = False
) -> dict[str, Any]:
    addresses = site.addresses
    canonical = site.absolute(addresses.article(article["slug"], origin=site.origin))
    published = _parse_time(article["published_at"] or article["updated_at"])
    updated = _parse_time(article["updated_at"])
    description = excerpt(article["body_html"]) or article["title"]
    cover = article.get("cover_image")
    picture = cover_picture(cover) if cover else None
    image = site.absolute(cover["url"]) if cover else None
    author_url = addresses.author(article["author_id"])
    tags = [(name, addresses.tag(cached_tag_slug(name))) for name in article["tags"]]
    og: dict[str, str] = {
        "og:type": "article",
        "og:title": article["title"],
        "og:description": description,
        "og:url": canonical,
        "og:site_name": site.identity.name,
        "article:published_time": published.isoformat(),
        "article:modified_time": updated.isoformat(),
        "twitter:card": "summary_large_image" if image else "summary",
        "twitter:title": article["title"],
        "twitter:description": description,
    }
    if cover and image:
        og |= {
            "og:image": image,
            "og:image:width": str(cover["width"]),
            "og:image:height": str(cover["height"]),
            "og:image:alt": cover["alt"],
            "twitter:image": image,
            "twitter:image:alt": cover["alt"],
        }
    return {
        "article": article,
        "page_title": titled(article["title"], site),
        "canonical": canonical,
        "description": description,
        "noindex": preview,
        "preview": preview,
        "og": og,
        "og_tags": social_tags(og),
        "json_ld": json_ld(blog_posting(site, article, canonical, image)),
        "published": published,
        "updated": updated,
        "reading_minutes": reading_minutes(article["body"]),
        "author_url": author_url,
        "tags": tags,
        "picture": picture,
        # Sanitized (nh3) when it was saved: no script, no event handlers.
        "body_html": Markup(article["body_html"]),  # noqa: S704
    }


def social_tags(tags: Mapping[str, str]) -> Markup:
    """OpenGraph (``property=``) and Twitter (``name=``) ``<meta>`` tags, escaped, as one
    piece of markup (built here: a template loop over them cost a tenth of the page)."""
    lines = []
    for key, value in tags.items():
        kind = "name" if key.startswith("twitter:") else "property"
        lines.append(
            f'<meta {kind}="{html.escape(key)}" content="{html.escape(value, quote=True)}">'
        )
    return Markup("\n".join(lines))  # noqa: S704 (every value escaped above)


def article_etag(row_etag: str, site: PageSite) -> str:
    """The page's ETag: the article's (:func:`cms.articles.projection.row_etag`) with
    what the page shows besides it."""
    return f'"{row_etag.strip(chr(34))}~{site.digest}"'


def article_etags_sent(if_none_match: str | None, site: PageSite) -> str | None:
    """The article ETags inside the page ETags a client sent (for the read path's narrow
    304 check), or ``None`` when none of them is one of this page's."""
    if if_none_match is None:
        return None
    suffix = f"~{site.digest}"
    found = []
    for candidate in if_none_match.split(","):
        value = candidate.strip().removeprefix("W/").strip('"')
        if value.endswith(suffix):
            found.append(f'"{value.removesuffix(suffix)}"')
    return ", ".join(found) or None


def blog_posting(
    site: PageSite, article: Mapping[str, Any], canonical: str, image: str | None
) -> dict[str, Any]:
    """The article for search engines (schema.org ``BlogPosting``)."""
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "BlogPosting",
        "headline": article["title"],
        "datePublished": article["published_at"] or article["updated_at"],
        "dateModified": article["updated_at"],
        "author": {
            "@type": "Person",
            "name": article["author"],
            "url": site.absolute(site.addresses.author(article["author_id"], origin=site.origin)),
        },
        "url": canonical,
        "mainEntityOfPage": canonical,
        "publisher": {"@type": "Organization", "name": site.identity.name},
    }
    if image is not None:
        data["image"] = [image]
    if article["tags"]:
        data["keywords"] = list(article["tags"])
    return data


def json_ld(data: Any) -> Markup:
    """``data`` as JSON that is safe inside ``<script type="application/ld+json">``: no
    ``<``, ``>`` or ``&`` can end the element or start a comment (they are written as
    JSON escapes, which parse back to the same text)."""
    text = orjson.dumps(data).decode()
    for raw, escaped in (
        ("&", "\\u0026"),
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(raw, escaped)
    return Markup(text)  # noqa: S704 (escaped above for this one context)


def excerpt(body_html: str, length: int = DESCRIPTION_LENGTH) -> str:
    """The body's first words as plain text, at most ``length`` characters.

    ``body_html`` was sanitized (nh3) when it was saved: no comments, scripts or styles
    are left in it and a ``<`` in its text is written ``&lt;``, so dropping its tags
    leaves its text. (A pattern, not a second nh3 pass: that cost a tenth of a page's
    time, and ten times that on a list page.) A raw ``<`` left after that can only be a
    tag cut off where the body was cut; it is dropped with what follows it. The first
    ``_EXCERPT_FIRST`` characters nearly always hold enough text: only when they do not
    is more read, up to ``_DESCRIPTION_SOURCE``."""
    for size in (_EXCERPT_FIRST, _DESCRIPTION_SOURCE):
        text = _TAG.sub("", body_html[:size]).split("<", 1)[0]
        text = " ".join(html.unescape(text).split())
        # Longer than wanted: whatever the cut spoiled at its end is cut off below.
        if len(text) > length or len(body_html) <= size:
            break
    if len(text) <= length:
        return text
    cut = text[: length - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut) + "…"


def reading_minutes(body: str) -> int:
    return max(1, math.ceil(len(body.split()) / WORDS_PER_MINUTE))


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


@dataclass(frozen=True)
class Picture:
    """A cover image as ``<picture>``: modern formats first, the original's last."""

    sources: Sequence[tuple[str, str]]  # (mime type, srcset)
    src: str
    srcset: str
    width: int
    height: int
    alt: str
    sizes: str = COVER_SIZES


_MIME = {"avif": "image/avif", "webp": "image/webp"}


def cover_picture(cover: Mapping[str, Any], shown: int = 800) -> Picture:
    """What the browser needs to pick a size and lay the cover out before it loads."""
    width, height = int(cover["width"]), int(cover["height"])
    by_extension: dict[str, dict[int, str]] = {}
    for name, url in sorted(cover["renditions"].items(), key=lambda item: _size(item[0])):
        size_name, _, extension = name.partition(".")
        if size_name not in SIZES:
            continue
        by_extension.setdefault(extension, {}).setdefault(min(SIZES[size_name], width), url)

    def srcset(extension: str) -> str:
        return ", ".join(f"{url} {w}w" for w, url in sorted(by_extension[extension].items()))

    original = cover["url"].rsplit(".", 1)[1]
    sources = [(_MIME[ext], srcset(ext)) for ext in ("avif", "webp") if ext in by_extension]
    sources = [source for source in sources if source[0] != _MIME.get(original)]
    fallback = by_extension.get(original, {})
    shown_width = min(shown, width)
    src = fallback.get(shown_width) or cover["url"]
    return Picture(
        sources=sources,
        src=src,
        srcset=srcset(original) if fallback else "",
        width=shown_width,
        height=max(1, round(height * shown_width / width)),
        alt=cover["alt"],
    )


def _size(name: str) -> int:
    return SIZES.get(name.partition(".")[0], 0)
