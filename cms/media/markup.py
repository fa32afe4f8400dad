"""Our own images in an article's HTML, given what a browser needs to lay them out and
pick a size: ``width`` and ``height`` (no layout shift), ``srcset``/``sizes`` over the
renditions, ``loading="lazy"``.

Applied to the sanitized HTML when an article is saved, with the dimensions read from
the asset rows; an image of anyone else's (or one since deleted) is left as written.
"""

from __future__ import annotations

import html
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from cms.media.images import SIZES
from cms.media.models import MediaAsset
from cms.media.projection import FILES_PATH, rendition_url

_OURS = re.compile(
    r'<img(?P<before>[^>]*?)\ssrc="'
    + re.escape(FILES_PATH)
    + r'/(?P<sha>[0-9a-f]{64})/(?P<name>[a-z0-9]+)\.(?P<ext>webp|jpg|png)"(?P<after>[^>]*)>'
)
_ADDED = ("srcset", "sizes", "width", "height", "loading", "decoding")


def responsive_images(session: Session, body_html: str) -> str:
    """``body_html`` with our images' ``<img>`` tags completed (one query for them all)."""
    matches = list(_OURS.finditer(body_html))
    if not matches:
        return body_html
    hashes = {match["sha"] for match in matches}
    sizes = {
        sha: (width, height)
        for sha, width, height in session.execute(
            select(MediaAsset.sha256, MediaAsset.width, MediaAsset.height).where(
                MediaAsset.sha256.in_(hashes)
            )
        ).all()
    }

    def complete(match: re.Match[str]) -> str:
        found = sizes.get(match["sha"])
        name, ext = match["name"], match["ext"]
        attributes = match["before"] + match["after"]
        if found is None or name not in SIZES or any(f" {a}=" in attributes for a in _ADDED):
            return match[0]
        width, height = found
        shown = min(SIZES[name], width)
        candidates: dict[int, str] = {}
        for size_name, size in SIZES.items():  # the smallest name of each width
            candidates.setdefault(min(size, width), size_name)
        srcset = ", ".join(
            f"{rendition_url(match['sha'], f'{candidate}.{ext}')} {shown_width}w"
            for shown_width, candidate in sorted(candidates.items())
        )
        added = (
            f' srcset="{html.escape(srcset)}" sizes="(max-width: {shown}px) 100vw, {shown}px"'
            f' width="{shown}" height="{max(1, round(height * shown / width))}"'
            ' loading="lazy" decoding="async"'
        )
        src = rendition_url(match["sha"], f"{name}.{ext}")
        return f'<img{match["before"]} src="{src}"{added}{match["after"]}>'

    return _OURS.sub(complete, body_html)
