"""What the site settings are, as plain values: what the action takes and the reads give."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

# What a site is called before an admin names it.
DEFAULT_NAME = "CMS"


@dataclass(frozen=True)
class NavLink:
    """One entry of the site's navigation: ``label`` shown, ``url`` followed."""

    label: str
    url: str

    def __str__(self) -> str:
        return f"{self.label} ({self.url})"


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
    description: str = ""
    logo: Logo | None = None
    nav: tuple[NavLink, ...] = ()
    updated_at: datetime | None = None
    updated_by_id: int | None = None

    @property
    def logo_id(self) -> int | None:
        return self.logo.id if self.logo is not None else None


DEFAULTS = SiteSettingsValues()


def nav_to_json(nav: tuple[NavLink, ...]) -> str:
    return json.dumps(
        [{"label": link.label, "url": link.url} for link in nav],
        ensure_ascii=False,
        separators=(",", ":"),
    )


def nav_from_json(stored: str) -> tuple[NavLink, ...]:
    return tuple(NavLink(label=item["label"], url=item["url"]) for item in json.loads(stored))
