"""What a media asset is to the API: its public shape and its addresses, in one place.

The API's media objects, an article's ``cover_image`` and the back office's grid all
come from :func:`public_media`. Every address carries the content hash, so what is
behind it never changes and may be cached for good.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cms.media.images import EXTENSION, PUBLIC_FORMAT, rendition_names
from cms.media.models import MediaAsset
from cms.schemas import iso_utc

FILES_PATH = "/media/files"
FORMAT_OF_MIME = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/webp": "WEBP",
    "image/gif": "GIF",
}


def rendition_url(sha256: str, filename: str) -> str:
    return f"{FILES_PATH}/{sha256}/{filename}"


def source_format(mime: str) -> str:
    return FORMAT_OF_MIME[mime]


def default_filename(mime: str) -> str:
    """The rendition an asset's ``url`` names: the largest, in the original's format."""
    return f"1600.{EXTENSION[PUBLIC_FORMAT[source_format(mime)]]}"


def public_media(
    *,
    id: int,
    sha256: str,
    mime: str,
    bytes: int,
    width: int,
    height: int,
    alt: str,
    focal_x: float,
    focal_y: float,
    created_at: datetime,
) -> dict[str, Any]:
    """The API's media object (``MediaPublic``), as JSON-ready values."""
    return {
        "id": id,
        "url": rendition_url(sha256, default_filename(mime)),
        "mime": mime,
        "bytes": bytes,
        "width": width,
        "height": height,
        "alt": alt,
        "focal_point": {"x": focal_x, "y": focal_y},
        "renditions": {
            name: rendition_url(sha256, name) for name in rendition_names(source_format(mime))
        },
        "created_at": iso_utc(created_at),
    }


def from_asset(asset: MediaAsset) -> dict[str, Any]:
    return public_media(
        id=asset.id,
        sha256=asset.sha256,
        mime=asset.mime,
        bytes=asset.bytes,
        width=asset.width,
        height=asset.height,
        alt=asset.alt,
        focal_x=asset.focal_x,
        focal_y=asset.focal_y,
        created_at=asset.created_at,
    )


def cover_tag(
    asset_id: int | None, alt: str | None, focal_x: float | None, focal_y: float | None
) -> str:
    """What of a cover image can change under an article (its ETag includes it): the
    rest of an asset is fixed by its bytes."""
    if asset_id is None:
        return ""
    return f"{asset_id}:{alt}:{focal_x}:{focal_y}"


def cover_from_row(row: Mapping[Any, Any]) -> dict[str, Any] | None:
    """The ``cover_*`` columns of an article read (:mod:`cms.articles.reads`) as a media
    object, or ``None`` without a cover."""
    if row["cover_id"] is None:
        return None
    return public_media(
        id=row["cover_id"],
        sha256=row["cover_sha256"],
        mime=row["cover_mime"],
        bytes=row["cover_bytes"],
        width=row["cover_width"],
        height=row["cover_height"],
        alt=row["cover_alt"],
        focal_x=row["cover_focal_x"],
        focal_y=row["cover_focal_y"],
        created_at=row["cover_created_at"],
    )


def cover_columns(*, narrow: bool = False) -> list[Any]:
    """The columns :func:`cover_from_row` (``narrow``: :func:`cover_tag`) reads, for a
    statement outer-joined to ``media_assets`` on the article's cover."""
    columns = [
        MediaAsset.id.label("cover_id"),
        MediaAsset.alt.label("cover_alt"),
        MediaAsset.focal_x.label("cover_focal_x"),
        MediaAsset.focal_y.label("cover_focal_y"),
    ]
    if not narrow:
        columns += [
            MediaAsset.sha256.label("cover_sha256"),
            MediaAsset.mime.label("cover_mime"),
            MediaAsset.bytes.label("cover_bytes"),
            MediaAsset.width.label("cover_width"),
            MediaAsset.height.label("cover_height"),
            MediaAsset.created_at.label("cover_created_at"),
        ]
    return columns
