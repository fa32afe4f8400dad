"""An article's entity tag, computed the same way from an ORM row or a plain row."""

import hashlib


def etag_for(article_id: int, version: int, author_name: str, cover: str = "") -> str:
    """Changes whenever the article's representation does: every save bumps ``version``,
    and the author's display name (which the article shows) is in it as a short digest,
    with what the article shows of its cover image (``cover``, see
    :func:`cms.media.projection.cover_tag`). Nothing else about the author (when their
    account last changed) is."""
    shown = f"{author_name}\x00{cover}" if cover else author_name
    digest = hashlib.blake2b(shown.encode(), digest_size=6).hexdigest()
    return f'"{article_id}.{version}.{digest}"'


def matches(header: str, current: str) -> bool:
    """Whether an ``If-Match``/``If-None-Match`` value names ``current`` (``*`` always)."""
    candidates = [part.strip() for part in header.split(",")]
    return "*" in candidates or any(c.removeprefix("W/") == current for c in candidates)
