"""Bulk loads (``cms seed-demo``, ``cms loaddata``): indexes built once, after the rows.

Loading a million articles with every index maintained row by row spends most of its
time in InnoDB, not in Python: MariaDB's change buffer is off by default (10.5.15 on),
so each row inserted into a secondary index bigger than the buffer pool costs a random
page read, eleven times per article, and the FULLTEXT indexes tokenize every body at
each commit. Measured here (128 MiB buffer pool, load average 8-15): 60,000 demo
articles took 300 s with every index, and the first 20,000 of them 9 s instead of 55 s
with the indexes below dropped.

So a large load runs inside :func:`indexes_deferred`: the deferrable indexes of
``articles`` are dropped first and built again afterwards by one ``ALTER TABLE`` (InnoDB
sorts the keys and writes each index once), then each FULLTEXT index by its own (InnoDB
builds one per statement). On SQLite the full-text table's triggers are dropped instead
and the FTS5 index is rebuilt from the table in one pass ('rebuild').

What stays while loading: the primary keys, every unique index (they keep the data
right while the site keeps writing) and the indexes a foreign key needs. What the site
does meanwhile: everything works; lists sorted by a dropped index are slower (and
bounded by the read time limit), and a search on MariaDB answers 503 "search is being
rebuilt" (:func:`is_missing_search_index`); on SQLite search answers from the index as it
was before the load.

The indexes are restored when the load ends in any way Python sees (an error, Ctrl-C,
SIGTERM). A process killed outright leaves them missing: :func:`missing_indexes` says
which (``cms check`` reports it) and ``cms migrate`` or the next load builds them.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from sqlalchemy import Connection, Index, Table, exc, text

from cms.articles.models import Article
from cms.articles.search import FTS_REBUILD, FTS_TRIGGERS, FULLTEXT_INDEXES
from cms.db import Database

# A load this many articles or more, into a table holding at most as many, defers the
# indexes: below it the rebuild (a pass over the whole table) costs more than it saves.
DEFER_THRESHOLD = 20_000
# MariaDB/MySQL: "Can't find FULLTEXT index matching the column list".
MISSING_FULLTEXT_ERROR = 1191


class Progress:
    """What a bulk load reports: the phase it is in, then how far into it. This one says
    nothing; the CLI prints (cms.cli)."""

    def phase(self, name: str, total: int | None = None) -> None:
        """A new phase starts (``total``: the units it will :meth:`advance` by, if known)."""

    def advance(self, done: int) -> None:
        """``done`` more units of the current phase are done."""

    def finish(self) -> None:
        """The last phase is over."""

    def stop(self) -> None:
        """The current phase ends early: the load failed or was interrupted."""


def deferrable_indexes() -> list[Index]:
    """The B-tree indexes of ``articles`` a bulk load builds afterwards: every index that
    is not unique and not the one a foreign key relies on (its first column a foreign
    key's: InnoDB refuses to drop those)."""
    table = Article.__table__
    assert isinstance(table, Table)
    foreign = {
        element.parent.name
        for constraint in table.foreign_key_constraints
        for element in constraint.elements
    }
    chosen = []
    for index in sorted(table.indexes, key=lambda index: str(index.name)):
        columns = list(index.columns)
        if index.unique or not columns or columns[0].name in foreign:
            continue
        if len(columns) != len(index.expressions):  # an expression or a DESC column
            continue
        chosen.append(index)
    return chosen


def _mysql(connection: Connection) -> bool:
    return connection.dialect.name != "sqlite"


def missing_indexes(connection: Connection) -> list[str]:
    """The deferrable indexes (and, on SQLite, full-text triggers) ``articles`` lacks,
    by name: none once a load is over, or on a database that was never loaded."""
    present: set[str]
    if _mysql(connection):
        present = {
            str(name)
            for (name,) in connection.execute(
                text(
                    "SELECT DISTINCT INDEX_NAME FROM information_schema.STATISTICS "
                    "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'articles'"
                )
            )
        }
        wanted = [index.name for index in deferrable_indexes()] + list(FULLTEXT_INDEXES)
    else:
        present = {
            str(name)
            for (name,) in connection.execute(
                text("SELECT name FROM sqlite_master WHERE tbl_name = 'articles'")
            )
        }
        wanted = list(FTS_TRIGGERS)
    return [str(name) for name in wanted if name not in present]


def index_problem(connection: Connection) -> str | None:
    """Why search and the lists are degraded (indexes a bulk load dropped and did not
    build again), or ``None``."""
    missing = missing_indexes(connection)
    if not missing:
        return None
    return (
        f"articles lack {', '.join(missing)}: a bulk load is running, or was killed before "
        "it built them again; once no load runs, `cms migrate` builds them"
    )


def is_missing_search_index(error: BaseException) -> bool:
    """Whether ``error`` is a search that found no FULLTEXT index (dropped for a load)."""
    if not isinstance(error, exc.DBAPIError):
        return False
    args: tuple[Any, ...] = getattr(error.orig, "args", ())
    return bool(args) and args[0] == MISSING_FULLTEXT_ERROR


def _drop(database: Database) -> None:
    if database.engine.dialect.name == "sqlite":
        with database.transaction() as session:
            connection = session.connection()
            missing = set(missing_indexes(connection))
            for name in FTS_TRIGGERS:
                if name not in missing:
                    connection.exec_driver_sql(f"DROP TRIGGER {name}")
        return
    with database.engine.connect() as connection:
        missing = set(missing_indexes(connection))
        quote = connection.dialect.identifier_preparer.quote
        names = [index.name for index in deferrable_indexes()] + list(FULLTEXT_INDEXES)
        drops = [f"DROP INDEX {quote(str(name))}" for name in names if name not in missing]
        if drops:
            # A change to the table's metadata only: instant, whatever the rows.
            connection.exec_driver_sql(f"ALTER TABLE articles {', '.join(drops)}")


def restore(database: Database, progress: Progress | None = None) -> list[str]:
    """Build every deferrable index ``articles`` lacks; returns their names (none if
    nothing was missing). Safe to run any time: ``cms migrate`` does."""
    progress = progress or Progress()
    with database.engine.connect() as connection:
        missing = missing_indexes(connection)
    if not missing:
        return []
    if database.engine.dialect.name != "sqlite":
        with database.engine.connect() as connection:
            _restore_mysql(connection, missing, progress)
        progress.finish()
        return missing
    progress.phase("building full-text index")
    # One transaction: a site write between the rebuild and the triggers would be
    # missing from the index; SQLite's one writer makes it wait instead.
    with database.transaction() as session:
        connection = session.connection()
        connection.exec_driver_sql(FTS_REBUILD)
        for name in missing:
            connection.exec_driver_sql(FTS_TRIGGERS[name])
    progress.finish()
    return missing


def _restore_mysql(connection: Connection, missing: list[str], progress: Progress) -> None:
    quote = connection.dialect.identifier_preparer.quote
    adds = [
        f"ADD INDEX {quote(str(index.name))} "
        f"({', '.join(quote(column.name) for column in index.columns)})"
        for index in deferrable_indexes()
        if index.name in missing
    ]
    if adds:
        progress.phase("building indexes")
        # One statement, one pass over the table for all of them; the site keeps writing.
        connection.exec_driver_sql(
            f"ALTER TABLE articles {', '.join(adds)}, ALGORITHM=INPLACE, LOCK=NONE"
        )
    for name, columns in FULLTEXT_INDEXES.items():
        if name in missing:
            progress.phase(f"building full-text index {name}")
            # InnoDB builds one FULLTEXT index per statement.
            connection.exec_driver_sql(
                f"ALTER TABLE articles ADD FULLTEXT INDEX {quote(name)} "
                f"({', '.join(quote(column) for column in columns)})"
            )


def should_defer(loading: int, present: int) -> bool:
    """Whether loading ``loading`` articles into a table of ``present`` should defer the
    indexes: a large load, into a table no larger than it."""
    return loading >= DEFER_THRESHOLD and loading >= present


@contextmanager
def indexes_deferred(database: Database, progress: Progress | None = None) -> Iterator[None]:
    """Run the block with the deferrable indexes of ``articles`` dropped, and build them
    again afterwards however the block ends (an error, Ctrl-C, and SIGTERM, which is
    turned into :class:`KeyboardInterrupt` meanwhile)."""
    progress = progress or Progress()
    _drop(database)
    previous = _terminate_as_interrupt()
    try:
        yield
    except BaseException:
        progress.stop()
        raise
    finally:
        try:
            restore(database, progress)
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)


def _interrupted(_signal: int, _frame: FrameType | None) -> Any:
    raise KeyboardInterrupt


def _terminate_as_interrupt() -> Any:
    """Make SIGTERM raise KeyboardInterrupt (so ``finally`` blocks run); returns the
    handler to put back, or ``None`` off the main thread (where signals cannot be set)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    previous = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, _interrupted)
    return previous
