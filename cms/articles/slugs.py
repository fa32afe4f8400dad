"""URL slugs: transliterated from any script, lower-case ASCII, unique across articles."""

import re

from slugify import slugify
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from cms.articles.models import Article, ArticleSlug
from cms.fields import SLUG_MAX_LENGTH, SLUG_PATTERN

_SLUG_RE = re.compile(SLUG_PATTERN)
_FALLBACK_SLUG = "article"


def slug_from_title(title: str) -> str:
    """A URL-safe slug for ``title``; ``"article"`` when nothing transliterable is left."""
    return slugify(title, max_length=SLUG_MAX_LENGTH, word_boundary=True) or _FALLBACK_SLUG


def is_valid_slug(slug: str) -> bool:
    return len(slug) <= SLUG_MAX_LENGTH and _SLUG_RE.fullmatch(slug) is not None


def available_slug(session: Session, base: str, *, exclude_id: int | None = None) -> str:
    """``base`` if no other article has it (now, or before: old slugs keep redirecting),
    else the first free ``base-2``, ``base-3``…"""
    current = select(Article.slug).where(or_(Article.slug == base, Article.slug.like(f"{base}-%")))
    if exclude_id is not None:
        current = current.where(Article.id != exclude_id)
    retired = select(ArticleSlug.slug).where(
        or_(ArticleSlug.slug == base, ArticleSlug.slug.like(f"{base}-%"))
    )
    return first_free_slug(base, set(session.scalars(current.union(retired))))


def first_free_slug(base: str, taken: set[str], start: int = 2) -> str:
    """``base``, or ``base-2``, ``base-3``… (from ``start``): the first not in ``taken``."""
    if base not in taken:
        return base
    number = start
    while f"{base}-{number}" in taken:
        number += 1
    return f"{base}-{number}"
