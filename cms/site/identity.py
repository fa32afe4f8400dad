"""What the site calls itself: its name, description, logo and navigation links.

Every page shows it and every page's ETag includes it. One function answers it,
:func:`current_identity`: what an admin saved on the back office's *Site settings* page
(:mod:`cms.site_settings`), or until then the defaults from the settings
(``CMS_SITE_NAME``, ``CMS_SITE_DESCRIPTION``, links to the home and search pages).

It is read through a per-process cache of a few seconds
(:data:`cms.site_settings.reads.CACHE_SECONDS`), so a page's own read stays its one
statement. A change saved through this process shows at once; other workers and hosts
show it within those seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from cms.config import Settings
from cms.site_settings.reads import cached_stored
from cms.site_settings.values import SiteSettingsValues, defaults_from

# How high a header shows the logo, in CSS pixels; its width follows, up to the widest.
LOGO_HEIGHT = 32
LOGO_WIDEST = 240


@dataclass(frozen=True)
class SiteIdentity:
    name: str
    description: str
    logo_url: str | None
    # (label, address) pairs, in order.
    nav: tuple[tuple[str, str], ...]
    # The logo's size as shown (its own proportions), when there is one.
    logo_width: int | None = None
    logo_height: int | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> SiteIdentity:
        return cls.from_values(defaults_from(settings))

    @classmethod
    def from_values(cls, values: SiteSettingsValues) -> SiteIdentity:
        logo = values.logo
        width = height = None
        if logo is not None and logo.width > 0 and logo.height > 0:
            height = LOGO_HEIGHT
            width = round(LOGO_HEIGHT * logo.width / logo.height)
            if width > LOGO_WIDEST:
                width, height = LOGO_WIDEST, max(1, round(LOGO_WIDEST * logo.height / logo.width))
        return cls(
            name=values.name,
            description=values.description,
            logo_url=logo.url if logo is not None else None,
            nav=tuple((link.label, link.url) for link in values.nav),
            logo_width=width,
            logo_height=height,
        )


DEFAULT_IDENTITY = SiteIdentity.from_values(SiteSettingsValues())


def current_identity(
    connection: Connection, *, defaults: SiteIdentity = DEFAULT_IDENTITY
) -> SiteIdentity:
    """The site's identity as readers see it now: the saved site settings, or ``defaults``
    (what the settings say, ``request.app.state.site_identity``) while none were saved.

    Called once per page, inside the page's read; it reads the site settings at most
    once every few seconds per process (none of the page's statements)."""
    stored = cached_stored(connection)
    if stored is None:
        return defaults
    return SiteIdentity.from_values(stored)
