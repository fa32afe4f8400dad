"""Per-tag article counts, kept in the transaction of the change that alters them.

Every write that changes an article's tags or whether it is published calls :func:`apply`
once, with what the article was before and what it is after. The counts move by deltas
(``UPDATE tags SET published_count = published_count + 1 WHERE id IN (…)``), atomic under
the tag rows' locks, so concurrent writers never lose an update and no read ever counts
articles. A tag left without any article is removed by the same call.

Scheduled articles need no job: ``published_count`` counts them from the moment they are
saved, and a read subtracts the few whose time has not come
(:mod:`cms.articles.tag_reads`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from cms.articles.models import Article, ArticleStatus, Tag, article_tags

# Ids per statement when a bulk path recounts many tags.
_BATCH = 500


@dataclass(frozen=True)
class Tagging:
    """What the counts know of one article: whether it is published (a scheduled article
    is) and which tags it carries."""

    published: bool
    tag_ids: frozenset[int]


def tagging(article: Article) -> Tagging:
    """``article`` as the counts see it now (its tags must be loaded or loadable)."""
    return Tagging(
        published=article.status is ArticleStatus.PUBLISHED,
        tag_ids=frozenset(tag.id for tag in article.tags),
    )


def apply(session: Session, before: Tagging | None, after: Tagging | None) -> None:
    """Move the counts from ``before`` to ``after`` (``None``: no such article, as before
    a create or after a delete) and remove the tags it left without any article.

    Call it once the article's tag links are flushed. At most three UPDATEs and one
    DELETE, whatever the number of tags."""
    old = before.tag_ids if before is not None else frozenset()
    new = after.tag_ids if after is not None else frozenset()
    old_published = old if before is not None and before.published else frozenset()
    new_published = new if after is not None and after.published else frozenset()
    deltas: dict[tuple[int, int], list[int]] = {}
    for tag_id in old | new:
        delta = (
            (tag_id in new) - (tag_id in old),
            (tag_id in new_published) - (tag_id in old_published),
        )
        if delta != (0, 0):
            deltas.setdefault(delta, []).append(tag_id)
    for (tagged, published), tag_ids in sorted(deltas.items()):
        session.execute(
            update(Tag)
            .where(Tag.id.in_(sorted(tag_ids)))
            .values(
                tagged_count=Tag.tagged_count + tagged,
                published_count=Tag.published_count + published,
            )
            .execution_options(synchronize_session=False)
        )
    _remove_unused(session, old - new)


def recount(session: Session, tag_ids: Collection[int]) -> None:
    """Count ``tag_ids`` again from the articles, and remove those left without any.
    For bulk paths that change many articles' tags in one statement
       (deleting a user with their articles, seeding demo data); every other write uses
       :func:`apply`."""
    tagged = (
        select(func.count())
        .select_from(article_tags)
        .where(article_tags.c.tag_id == Tag.id)
        .scalar_subquery()
    )
    published = (
        select(func.count())
        .select_from(article_tags.join(Article, Article.id == article_tags.c.article_id))
        .where(article_tags.c.tag_id == Tag.id, Article.status == ArticleStatus.PUBLISHED)
        .scalar_subquery()
    )
    statement = update(Tag).values(tagged_count=tagged, published_count=published)
    for batch in _batches(sorted(tag_ids)):
        session.execute(
            statement.where(Tag.id.in_(batch)).execution_options(synchronize_session=False)
        )
        _remove_unused(session, batch)


def add_many(connection: Connection, deltas: Mapping[int, tuple[int, int]]) -> None:
    """Add ``(tagged, published)`` to each tag id's counts: for bulk paths that insert
    new articles by the thousand (demo data), in the transaction that inserts them.
    One statement, rows in id order (two such writers queue instead of deadlocking)."""
    if not deltas:
        return
    connection.execute(
        update(Tag)
        .where(Tag.id == bindparam("tag"))
        .values(
            tagged_count=Tag.tagged_count + bindparam("tagged"),
            published_count=Tag.published_count + bindparam("published"),
        ),
        [
            {"tag": tag_id, "tagged": tagged, "published": published}
            for tag_id, (tagged, published) in sorted(deltas.items())
        ],
    )


def tags_of_author(session: Session, author_id: int) -> list[int]:
    """The ids of the tags on ``author_id``'s articles (to :func:`recount` after removing
    them in bulk)."""
    return list(
        session.scalars(
            select(article_tags.c.tag_id)
            .join(Article, Article.id == article_tags.c.article_id)
            .where(Article.author_id == author_id)
            .distinct()
        )
    )


def remove_unused(session: Session, tag_ids: Collection[int]) -> None:
    """Remove those of ``tag_ids`` no article carries (after :func:`add_many`)."""
    _remove_unused(session, tag_ids)


def _remove_unused(session: Session, tag_ids: Collection[int]) -> None:
    # The count, not a look at article_tags: it was just written under this tag row's
    # lock, so a concurrent writer tagging an article with it is either counted already
    # or waits, and then finds the tag gone and creates it anew (cms.articles.tags).
    if tag_ids:
        session.execute(
            delete(Tag)
            .where(Tag.id.in_(sorted(tag_ids)), Tag.tagged_count <= 0)
            .execution_options(synchronize_session=False)
        )


def _batches(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), _BATCH):
        yield ids[start : start + _BATCH]
