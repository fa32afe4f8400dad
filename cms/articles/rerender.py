"""``cms rerender``: bring stored articles' HTML up to today's renderer.

Articles rendered by an older renderer (``rendered_with`` below
:data:`~cms.articles.rendering.RENDERER_VERSION`) are taken in batches in id order. Each
batch is read and rendered with no transaction open, then written in one short unit of
work that touches only the rows still at the version read: an article saved meanwhile was
rendered by its save and is left alone. Each row written records the renderer, so a run
that was stopped resumes where it stopped and a second run finds nothing to do.

What a re-render is, and is not:

- When the HTML changes, ``version`` goes up: the ETag is derived from it, so caches and
  ``If-None-Match`` see the new representation, and a client holding the old ETag gets
  412 on ``If-Match``, as for any other change it has not seen.
- When the HTML comes out the same, only ``rendered_with`` is written (same ETag).
- No revision and no audit entry: the author's text did not change, and revisions hold
  the Markdown, not its HTML. ``updated_at`` stays the time of the last editorial change.
- A body today's renderer refuses (past its size or nesting limits) keeps its HTML and its
  old ``rendered_with``; it is reported, and an editor shortens it.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Final, cast

from sqlalchemy import Connection, Table, bindparam, func, select, update

from cms.articles.models import Article
from cms.articles.rendering import RENDERER_VERSION, BodyTooComplex, render_markdown
from cms.db import Database, UnitOfWork

BATCH_SIZE: Final = 500
# Stored Markdown and HTML read (and rendered) at once, at most, unless one article alone
# is larger.
READ_BUDGET_BYTES: Final = 16 * 1024 * 1024

_articles = cast(Table, Article.__table__)


@dataclass
class RerenderProgress:
    """How far a run has got."""

    to_do: int  # articles rendered by an older renderer when the run started
    checked: int = 0
    changed: int = 0  # HTML changed: version bumped
    unchanged: int = 0  # same HTML: only the renderer recorded
    skipped: int = 0  # saved (or deleted) while being rendered: left to that save
    refused: list[tuple[int, str]] = field(default_factory=list)  # (article id, why)


@dataclass(frozen=True)
class _Outdated:
    id: int
    version: int
    size: int  # bytes of Markdown and HTML stored


@dataclass(frozen=True)
class _Rendered:
    id: int
    version: int
    html: str | None  # None: the same as stored


def outdated_count(database: Database) -> int:
    """Articles whose stored HTML an older renderer wrote."""
    return database.read(
        lambda connection: (
            connection.scalar(
                select(func.count()).where(_articles.c.rendered_with < RENDERER_VERSION)
            )
            or 0
        )
    )


def rerender_articles(
    database: Database,
    *,
    batch_size: int = BATCH_SIZE,
    on_batch: Callable[[RerenderProgress], None] = lambda _progress: None,
) -> RerenderProgress:
    """Re-render every article an older renderer wrote, ``batch_size`` per transaction;
    ``on_batch`` hears the progress after each one."""
    progress = RerenderProgress(to_do=outdated_count(database))
    after_id = 0
    while batch := database.read(partial(_next_batch, after_id=after_id, size=batch_size)):
        after_id = batch[-1].id
        for ids in _groups(batch):
            rendered = _rendered(database, ids, progress)
            if rendered:
                changed, unchanged = database.run(partial(_write, rendered=rendered))
                progress.changed += changed
                progress.unchanged += unchanged
                progress.skipped += len(rendered) - changed - unchanged
        progress.checked += len(batch)
        on_batch(progress)
    return progress


def _next_batch(connection: Connection, *, after_id: int, size: int) -> list[_Outdated]:
    """The next ``size`` outdated articles after ``after_id``: id, version and the bytes
    their body and HTML take, not the text itself."""
    rows = connection.execute(
        select(
            _articles.c.id,
            _articles.c.version,
            func.length(_articles.c.body) + func.length(_articles.c.body_html),
        )
        .where(_articles.c.rendered_with < RENDERER_VERSION, _articles.c.id > after_id)
        .order_by(_articles.c.id)
        .limit(size)
    )
    return [_Outdated(article_id, version, size or 0) for article_id, version, size in rows]


def _groups(batch: list[_Outdated]) -> list[list[int]]:
    """The ids of ``batch`` in groups small enough to read and render at once (a body of
    1 MiB renders to at most 4 MiB): a batch of long bodies is written in several parts."""
    groups: list[list[int]] = [[]]
    size = 0
    for row in batch:
        if groups[-1] and size + row.size > READ_BUDGET_BYTES:
            groups.append([])
            size = 0
        groups[-1].append(row.id)
        size += row.size
    return groups


def _rendered(database: Database, ids: list[int], progress: RerenderProgress) -> list[_Rendered]:
    """The articles ``ids`` rendered again (with no transaction open)."""
    out: list[_Rendered] = []
    for article_id, version, body, old_html in database.read(partial(_stored, ids=ids)):
        try:
            html = render_markdown(body)
        except BodyTooComplex as exc:
            progress.refused.append((article_id, str(exc)))
            continue
        out.append(_Rendered(article_id, version, None if html == old_html else html))
    return out


def _stored(connection: Connection, *, ids: list[int]) -> list[tuple[int, int, str, str]]:
    rows = connection.execute(
        select(_articles.c.id, _articles.c.version, _articles.c.body, _articles.c.body_html)
        .where(_articles.c.id.in_(ids))
        .order_by(_articles.c.id)
    )
    return [(article_id, version, body, html) for article_id, version, body, html in rows]


def _write(unit: UnitOfWork, *, rendered: list[_Rendered]) -> tuple[int, int]:
    """Store what was rendered, for the rows still at the version read: how many rows
    changed HTML and how many only recorded the renderer (the others were saved meanwhile).
    """
    where = (
        _articles.c.id == bindparam("row_id"),
        _articles.c.version == bindparam("read_version"),
    )
    # updated_at is named so that its on-update default does not fire: see the module.
    kept = {"rendered_with": RENDERER_VERSION, "updated_at": _articles.c.updated_at}
    changed = [
        {"row_id": r.id, "read_version": r.version, "new_html": r.html}
        for r in rendered
        if r.html is not None
    ]
    unchanged = [{"row_id": r.id, "read_version": r.version} for r in rendered if r.html is None]
    connection = unit.session.connection()
    written_changed = written_unchanged = 0
    if changed:
        statement = (
            update(_articles)
            .where(*where)
            .values(body_html=bindparam("new_html"), version=_articles.c.version + 1, **kept)
        )
        written_changed = connection.execute(statement, changed).rowcount
    if unchanged:
        statement = update(_articles).where(*where).values(**kept)
        written_unchanged = connection.execute(statement, unchanged).rowcount
    return written_changed, written_unchanged
