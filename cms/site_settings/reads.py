"""Reading the site settings: one statement, and a short per-process cache for the pages.

Every public page shows the site's name and navigation; asking the database for them on
each request would double an article page's statements. :func:`cached_settings` keeps
what it read for :data:`CACHE_SECONDS` in this process. :class:`UpdateSiteSettings
<cms.site_settings.service.UpdateSiteSettings>` forgets it here once its change has
committed, so this process shows a change at once; other workers and hosts see it within
:data:`CACHE_SECONDS`.
"""

from __future__ import annotations

import threading
import time

from sqlalchemy import Connection, select

from cms.media.images import EXTENSION, PUBLIC_FORMAT
from cms.media.models import MediaAsset
from cms.media.projection import rendition_url, source_format
from cms.site_settings.models import SETTINGS_ID, SiteSettings
from cms.site_settings.values import DEFAULTS, Logo, SiteSettingsValues, nav_from_json

CACHE_SECONDS = 5.0
# A header shows a logo some 40 pixels high: the 400 px wide rendition is sharp at twice
# that even for a wide logo, and a tenth of the largest one's bytes.
LOGO_RENDITION = "400"

_lock = threading.Lock()
# Database URL -> (monotonic time it is good until, what was read: None for no row)
_cache: dict[str, tuple[float, SiteSettingsValues | None]] = {}
# Counts forget() calls: a read begun before one must not put back what it read.
_generation = 0


def logo_url(sha256: str, mime: str) -> str:
    """The address of the logo rendition of an image (its original format)."""
    extension = EXTENSION[PUBLIC_FORMAT[source_format(mime)]]
    return rendition_url(sha256, f"{LOGO_RENDITION}.{extension}")


def read_settings(
    connection: Connection, defaults: SiteSettingsValues = DEFAULTS
) -> SiteSettingsValues:
    """The stored settings with their logo, in one statement; ``defaults`` (see
    :func:`~cms.site_settings.values.defaults_from`) while none were saved."""
    stored = read_stored(connection)
    return defaults if stored is None else stored


def read_stored(connection: Connection) -> SiteSettingsValues | None:
    """The stored settings with their logo, in one statement; ``None`` without a row."""
    row = (
        connection.execute(
            select(
                SiteSettings.name,
                SiteSettings.description,
                SiteSettings.nav,
                SiteSettings.updated_at,
                SiteSettings.updated_by_id,
                MediaAsset.id.label("logo_id"),
                MediaAsset.sha256,
                MediaAsset.mime,
                MediaAsset.alt,
                MediaAsset.width,
                MediaAsset.height,
            )
            .outerjoin(MediaAsset, MediaAsset.id == SiteSettings.logo_id)
            .where(SiteSettings.id == SETTINGS_ID)
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    logo = None
    if row["logo_id"] is not None:
        logo = Logo(
            id=row["logo_id"],
            url=logo_url(row["sha256"], row["mime"]),
            alt=row["alt"],
            width=row["width"],
            height=row["height"],
        )
    return SiteSettingsValues(
        name=row["name"],
        description=row["description"],
        logo=logo,
        nav=nav_from_json(row["nav"]),
        updated_at=row["updated_at"],
        updated_by_id=row["updated_by_id"],
    )


def cached_settings(
    connection: Connection, defaults: SiteSettingsValues = DEFAULTS
) -> SiteSettingsValues:
    """:func:`read_settings`, read at most once per :data:`CACHE_SECONDS` per database in
    this process."""
    stored = cached_stored(connection)
    return defaults if stored is None else stored


def cached_stored(connection: Connection) -> SiteSettingsValues | None:
    """:func:`read_stored`, read at most once per :data:`CACHE_SECONDS` per database in
    this process."""
    key = connection.engine.url.render_as_string(hide_password=True)
    now = time.monotonic()
    with _lock:
        held = _cache.get(key)
        generation = _generation
    if held is not None and held[0] > now:
        return held[1]
    values = read_stored(connection)
    with _lock:
        if generation == _generation:
            _cache[key] = (now + CACHE_SECONDS, values)
    return values


def forget() -> None:
    """Drop what :func:`cached_settings` holds: the next page reads the settings again."""
    global _generation
    with _lock:
        _generation += 1
        _cache.clear()
