"""An article's entity tag, computed the same way from an ORM row or a plain row."""

from datetime import datetime


def etag_for(article_id: int, version: int, author_updated_at: datetime) -> str:
    """Changes whenever the article's representation does: every save bumps ``version``,
    and the author's display name is stamped by ``users.updated_at``."""
    return f'"{article_id}.{version}.{int(author_updated_at.timestamp() * 1_000_000)}"'


def matches(header: str, current: str) -> bool:
    """Whether an ``If-Match``/``If-None-Match`` value names ``current`` (``*`` always)."""
    candidates = [part.strip() for part in header.split(",")]
    return "*" in candidates or any(c.removeprefix("W/") == current for c in candidates)
