"""How many articles there are in each state, without counting the articles table.

``article_counts`` holds, per author and stored status (``draft``, ``published``), how
many articles there are; every write that creates, deletes, publishes, unpublishes or
hands over an article moves it by :func:`apply`, in the change's own transaction, by
delta (``articles = articles + 1``), so concurrent writers never lose an update. Bulk
paths (demo data, deleting a user's articles) call :func:`recount` instead.

Scheduled articles need no job, as for the tag counts: a scheduled article is stored as
``published``, and a read subtracts those whose time has not come, found on the
``(status, published_at)`` index, which holds only the few future ones past ``now``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from cms.articles.models import Article, ArticleCount, ArticleState, ArticleStatus


@dataclass(frozen=True, order=True)
class Counted:
    """What the counts know of one article."""

    author_id: int
    status: ArticleStatus


def counted(article: Article) -> Counted:
    return Counted(article.author_id, ArticleStatus(article.status))


def apply(session: Session, before: Counted | None, after: Counted | None) -> None:
    """Move the counts from ``before`` to ``after`` (``None``: no such article, as before
    a create or after a delete). At most two statements, in a fixed order of rows so that
    two writers moving the same two counts queue instead of deadlocking."""
    if before == after:
        return
    deltas: dict[Counted, int] = {}
    if before is not None:
        deltas[before] = deltas.get(before, 0) - 1
    if after is not None:
        deltas[after] = deltas.get(after, 0) + 1
    for key in sorted(deltas):
        _add(session, key, deltas[key])


def _add(session: Session, key: Counted, delta: int) -> None:
    values = {"author_id": key.author_id, "status": key.status, "articles": delta}
    added = ArticleCount.articles + delta
    statement: Any
    if session.get_bind().dialect.name == "sqlite":
        statement = (
            sqlite_insert(ArticleCount)
            .values(**values)
            .on_conflict_do_update(
                index_elements=[ArticleCount.author_id, ArticleCount.status],
                set_={"articles": added},
            )
        )
    else:
        statement = (
            mysql_insert(ArticleCount).values(**values).on_duplicate_key_update(articles=added)
        )
    session.execute(statement)


def add_many(connection: Connection, deltas: Mapping[Counted, int]) -> None:
    """Add each delta to its count, creating the rows that do not exist yet: for bulk
    paths that insert new articles by the thousand (demo data), in the transaction that
    inserts them. One statement, rows in a fixed order (see :func:`apply`)."""
    rows = [
        {"author_id": key.author_id, "status": key.status, "articles": delta}
        for key, delta in sorted(deltas.items())
        if delta
    ]
    if not rows:
        return
    statement: Any
    if connection.dialect.name == "sqlite":
        upsert = sqlite_insert(ArticleCount)
        statement = upsert.on_conflict_do_update(
            index_elements=[ArticleCount.author_id, ArticleCount.status],
            set_={"articles": ArticleCount.articles + upsert.excluded.articles},
        )
    else:
        mysql_upsert = mysql_insert(ArticleCount)
        statement = mysql_upsert.on_duplicate_key_update(
            articles=ArticleCount.articles + mysql_upsert.inserted.articles
        )
    connection.execute(statement, rows)


def recount(session: Session, author_ids: Collection[int] | None = None) -> None:
    """Count again from the articles, for ``author_ids`` (``None``: everyone). For bulk
    paths that insert or delete articles around :func:`apply`."""
    stale = delete(ArticleCount)
    counted_rows = select(Article.author_id, Article.status, func.count()).group_by(
        Article.author_id, Article.status
    )
    if author_ids is not None:
        if not author_ids:
            return
        stale = stale.where(ArticleCount.author_id.in_(author_ids))
        counted_rows = counted_rows.where(Article.author_id.in_(author_ids))
    session.execute(stale)
    session.execute(
        insert(ArticleCount).from_select(["author_id", "status", "articles"], counted_rows)
    )


def state_counts(
    connection: Connection | Session, now: datetime, *, author_id: int | None = None
) -> dict[ArticleState, int]:
    """How many drafts, scheduled and published articles there are (of one author, or
    of everyone): two small reads, one of the counts and one of the scheduled articles'
    index range, whatever the number of articles."""
    stored = select(ArticleCount.status, func.sum(ArticleCount.articles)).group_by(
        ArticleCount.status
    )
    scheduled = (
        select(func.count())
        .select_from(Article)
        .where(Article.in_state(ArticleState.SCHEDULED, now))
    )
    if author_id is not None:
        stored = stored.where(ArticleCount.author_id == author_id)
        scheduled = scheduled.where(Article.author_id == author_id)
    totals = {ArticleStatus(status): int(n or 0) for status, n in connection.execute(stored)}
    upcoming = int(connection.execute(scheduled).scalar_one())
    return {
        ArticleState.DRAFT: totals.get(ArticleStatus.DRAFT, 0),
        ArticleState.SCHEDULED: upcoming,
        ArticleState.PUBLISHED: totals.get(ArticleStatus.PUBLISHED, 0) - upcoming,
    }
