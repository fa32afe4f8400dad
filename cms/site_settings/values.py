"""What the site settings are, as plain values: what the action takes and the reads give."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from cms.config import Settings

# What a site is called and says of itself before an admin sets it: CMS_SITE_NAME and
# CMS_SITE_DESCRIPTION say otherwise (these are their defaults).
DEFAULT_NAME = "CMS"
DEFAULT_DESCRIPTION = "The newest articles"


@dataclass(frozen=True)
class NavLink:
    """One entry of the site's navigation: ``label`` shown, ``url`` followed."""

    label: str
    url: str

    def __str__(self) -> str:
        return f"{self.label} ({self.url})"


# The links of a site whose settings were never saved.
DEFAULT_NAV = (NavLink(label="Home", url="/"), NavLink(label="Search", url="/search"))


@dataclass(frozen=True)
class Logo:
    """The site's logo: an image of the media library, at a rendition a header needs."""

    id: int
    url: str
    alt: str
    width: int
    height: int


@dataclass(frozen=True)
class SiteSettingsValues:
    """The settings as readers see them (the defaults while none were saved)."""

    name: str = DEFAULT_NAME
    description: str = DEFAULT_DESCRIPTION
    logo: Logo | None = None
    nav: tuple[NavLink, ...] = DEFAULT_NAV
    updated_at: datetime | None = None
    updated_by_id: int | None = None

    @property
    def logo_id(self) -> int | None:
        return self.logo.id if self.logo is not None else None


DEFAULTS = SiteSettingsValues()


def defaults_from(settings: Settings) -> SiteSettingsValues:
    """What the site shows until an admin saves its settings: ``CMS_SITE_NAME``,
    ``CMS_SITE_DESCRIPTION``, the links to the home and search pages, no logo."""
    return SiteSettingsValues(name=settings.site_name, description=settings.site_description)


def nav_to_json(nav: tuple[NavLink, ...]) -> str:
    return json.dumps(
        [{"label": link.label, "url": link.url} for link in nav],
        ensure_ascii=False,
        separators=(",", ":"),
    )


def nav_from_json(stored: str) -> tuple[NavLink, ...]:
    return tuple(NavLink(label=item["label"], url=item["url"]) for item in json.loads(stored))
