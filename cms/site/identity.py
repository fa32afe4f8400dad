"""What the site calls itself: its name, description, logo and navigation links.

Every page shows it and every page's ETag includes it. One function answers it,
:func:`current_identity`; for now it gives the defaults from the settings
(``CMS_SITE_NAME``, ``CMS_SITE_DESCRIPTION``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from cms.config import Settings


@dataclass(frozen=True)
class SiteIdentity:
    name: str
    description: str
    logo_url: str | None
    # (label, address) pairs, in order.
    nav: tuple[tuple[str, str], ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> SiteIdentity:
        return cls(
            name=settings.site_name,
            description=settings.site_description,
            logo_url=None,
            nav=(("Home", "/"), ("Search", "/search")),
        )


DEFAULT_IDENTITY = SiteIdentity(
    name="CMS", description="The newest articles", logo_url=None, nav=(("Home", "/"),)
)


def current_identity(
    connection: Connection, *, defaults: SiteIdentity = DEFAULT_IDENTITY
) -> SiteIdentity:
    """The site's identity as readers see it now (``defaults``: what the settings say,
    ``request.app.state.site_identity``).

    Called once per page, inside the page's read: an implementation that reads a table
    should cache it per process for a few seconds, so an article page stays one
    statement."""
    del connection  # nothing is stored yet: the settings are the whole answer
    return defaults
