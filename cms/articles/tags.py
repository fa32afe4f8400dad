"""Tags: cleaned the same way wherever they come from, one row per tag however typed."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from slugify import slugify
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cms.articles.models import Tag
from cms.errors import InvalidInput
from cms.fields import MAX_TAGS, TAG_MAX_LENGTH, TagName, validated


def tag_slug(name: str) -> str:
    """The tag's identity: ``Machine Learning`` and `` machine  learning`` are one tag.
    Names with nothing transliterable (an emoji) get a stable slug of their own."""
    return (
        slugify(name, max_length=TAG_MAX_LENGTH)
        or "tag-" + hashlib.sha256(name.casefold().encode()).hexdigest()[:10]
    )


def clean_tags(names: Iterable[str]) -> list[str]:
    """Names with whitespace collapsed, blanks dropped and duplicates (by slug) removed,
    in the order given; refused past :data:`MAX_TAGS` or :data:`TAG_MAX_LENGTH`."""
    cleaned: dict[str, str] = {}
    for raw in names:
        name = " ".join(str(raw).split())
        if not name:
            continue
        validated(TagName, "tags", name)
        cleaned.setdefault(tag_slug(name), name)
    if len(cleaned) > MAX_TAGS:
        raise InvalidInput("tags", f"Tags: at most {MAX_TAGS} per article")
    return list(cleaned.values())


def tags_named(session: Session, names: Sequence[str]) -> list[Tag]:
    """The tags for cleaned ``names``, created as needed (a concurrent creator of the same
    tag is tolerated: its row is used).

    The rows are locked until the transaction ends: the caller is about to count an
    article under them (:mod:`cms.articles.tag_counts`), and a tag another writer is
    removing meanwhile is then seen gone and created again instead of linked dead."""
    slugs = {tag_slug(name): name for name in names}
    existing = select(Tag).where(Tag.slug.in_(slugs)).with_for_update()
    found = {tag.slug: tag for tag in session.scalars(existing)}
    for slug, name in slugs.items():
        if slug in found:
            continue
        try:
            with session.begin_nested():
                tag = Tag(name=name, slug=slug)
                session.add(tag)
        except IntegrityError:
            tag = session.scalars(select(Tag).where(Tag.slug == slug).with_for_update()).one()
        found[slug] = tag
    return [found[slug] for slug in slugs]
