"""Where readers find things: every public address is computed here, once.

Without a front end the addresses are the built-in site's pages (``/posts/{slug}``,
``/tag/{slug}``, ``/author/{id}``, ``/preview/{token}``). With ``CMS_SITE_FRONTEND_URL``
(headless mode) an article's address is that pattern with its slug, and a preview link
is the same with ``?preview=TOKEN``. Addresses are absolute when an origin is known
(``CMS_SITE_URL``, the front end's pattern, or one a caller passes, such as the feeds'
request origin), otherwise root-relative.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode

from cms.config import Settings

ARTICLE_PATH = "/posts/{slug}"
TAG_PATH = "/tag/{slug}"
AUTHOR_PATH = "/author/{id}"
PREVIEW_PATH = "/preview/{token}"


@dataclass(frozen=True)
class SiteAddresses:
    """The addresses of one deployment (from its settings: see :meth:`from_settings`)."""

    # CMS_SITE_URL without its trailing slash, e.g. https://example.com
    origin: str | None = None
    # CMS_SITE_FRONTEND_URL, e.g. https://www.example.com/blog/{slug}
    frontend: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> SiteAddresses:
        return cls(origin=settings.site_url, frontend=settings.site_frontend_url)

    @property
    def headless(self) -> bool:
        return self.frontend is not None

    def _on_site(self, path: str, origin: str | None) -> str:
        base = self.origin or origin
        return f"{base.rstrip('/')}{path}" if base else path

    def article(self, slug: str, *, origin: str | None = None) -> str:
        """The article's public address (the API's ``url``, feeds, sitemap, canonical)."""
        if self.frontend is not None:
            return self.frontend.replace("{slug}", quote(slug, safe=""))
        return self._on_site(self.article_page(slug), origin)

    @staticmethod
    def article_page(slug: str) -> str:
        """The built-in page's path, whatever the mode (the site's own routes)."""
        return ARTICLE_PATH.format(slug=quote(slug, safe=""))

    def tag(self, slug: str, *, origin: str | None = None) -> str:
        """A tag's page on the built-in site (a front end has no pattern for tags)."""
        return self._on_site(TAG_PATH.format(slug=quote(slug, safe="")), origin)

    def author(self, author_id: int, *, origin: str | None = None) -> str:
        """An author's page on the built-in site."""
        return self._on_site(AUTHOR_PATH.format(id=int(author_id)), origin)

    def home(self, *, origin: str | None = None) -> str:
        return self._on_site("/", origin)

    def preview_url(self, token: str, slug: str, *, origin: str | None = None) -> str:
        """Where a preview link opens: the built-in ``/preview/{token}``, or in headless
        mode the article's front-end address with ``?preview=TOKEN`` (``&`` when the
        pattern already has a query), for the front end to fetch the draft with."""
        if self.frontend is not None:
            address = self.article(slug)
            separator = "&" if "?" in address else "?"
            return f"{address}{separator}{urlencode({'preview': token})}"
        return self._on_site(PREVIEW_PATH.format(token=quote(token, safe="")), origin)

    def digest_source(self) -> str:
        """What the pages' ETags must change with when the addresses change."""
        return f"{self.origin}\x00{self.frontend}"
