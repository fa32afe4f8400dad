"""An article's entity tag, computed the same way from an ORM row or a plain row."""

import hashlib


def etag_for(article_id: int, version: int, author_name: str) -> str:
    """Changes whenever the article's representation does: every save bumps ``version``,
    and the author's display name (which the article shows) is in it as a short digest.
    Nothing else about the author (when their account last changed) is."""
    digest = hashlib.blake2b(author_name.encode(), digest_size=6).hexdigest()
    return f'"{article_id}.{version}.{digest}"'


def matches(header: str, current: str) -> bool:
    """Whether an ``If-Match``/``If-None-Match`` value names ``current`` (``*`` always)."""
    candidates = [part.strip() for part in header.split(",")]
    return "*" in candidates or any(c.removeprefix("W/") == current for c in candidates)
