"""Whole-site dumps: ``cms dumpdata`` writes one, ``cms loaddata`` loads one into an empty
database of either backend.

A dump is JSON Lines (UTF-8, one JSON value per line)::

    {"format": "cms-dump", "version": 1, "schema_revision": "…", "created_at": "…",
     "contains_secrets": true, "warning": "…", "tables": [{"name": "users", "rows": 3}, …]}
    {"table": "users", "columns": ["id", "email", …], "next_id": 9}
    [1, "ada@example.com", …]                one array per row, in "columns" order
    …
    {"table": "articles", …}
    …
    {"end": "cms-dump", "rows": 1234}

JSON Lines rather than one JSON document: both sides stream it in constant memory with the
standard library alone (a line at a time, no incremental parser), an error can name its
line, ``head -1`` shows what a file is, and the closing line plus the row counts announced
up front tell a complete file from a truncated one.

Which tables: every table of ``Base.metadata``, in dependency order, except the transient
ones in :data:`SKIPPED_TABLES`, so a table a later feature adds is dumped without anyone
touching this module. Values go through each column's type, so they read back identical
on the other backend: timestamps as ISO 8601 with microseconds and offset, booleans as
``true``/``false``, enums as the strings they are stored as, ids as they were.
``next_id`` is the source's id counter (SQLite's AUTOINCREMENT sequence, MySQL's
AUTO_INCREMENT), carried over so an id deleted before the move is not handed out after it.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import IO, Any

from alembic.runtime.migration import MigrationContext
from sqlalchemy import (
    JSON,
    Column,
    Connection,
    Enum,
    String,
    Table,
    and_,
    event,
    exists,
    func,
    insert,
    select,
    text,
    type_coerce,
)
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator, TypeEngine

from cms import bulk, migrations
from cms.db import Base, Database, larger_multirow_inserts, utcnow
from cms.errors import DomainError

FORMAT = "cms-dump"
FORMAT_VERSION = 1
# Transient state, worthless (or harmful) on another site: sign-in and sign-up counters,
# and Alembic's bookkeeping (the target is migrated by `cms migrate` instead).
# Transient state: counters that expire within the hour, and signed-in back-office
# browsers (a restored or moved site starts with everyone signed out).
SKIPPED_TABLES = frozenset({"rate_limits", "staff_sessions", "alembic_version"})
SECRETS_WARNING = (
    "This dump contains password hashes and every other credential the site stores; "
    "keep it as private as the database itself."
)
# Rows fetched per round trip when dumping, and the most rows or bytes sent in one
# executemany when loading: both bound memory whatever the table's size (a row can carry
# a 1 MiB body and its HTML, so the byte limit is the one that usually applies).
FETCH_ROWS = 250
INSERT_BATCH_ROWS = 2_000
INSERT_BATCH_BYTES = 4 * 1024 * 1024


class DumpError(DomainError):
    """A dump that cannot be written or loaded; the message says why and what to do."""


Encoder = Callable[[Any], Any]


@dataclass(frozen=True)
class Codec:
    """How one column's values are written to JSON and read back."""

    encode: Encoder | None
    decode: Encoder | None


def _ignore(_done: int) -> None:
    pass


def _iso(value: date | time) -> str:
    return value.isoformat()


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


PLAIN = Codec(None, None)
CODECS: dict[type, Codec] = {
    bool: PLAIN,
    int: PLAIN,
    float: PLAIN,
    str: PLAIN,
    dict: PLAIN,
    list: PLAIN,
    datetime: Codec(_iso, datetime.fromisoformat),
    date: Codec(_iso, date.fromisoformat),
    time: Codec(_iso, time.fromisoformat),
    Decimal: Codec(str, Decimal),
    bytes: Codec(_b64, base64.b64decode),
    uuid.UUID: Codec(str, uuid.UUID),
}


def _python_type(type_: TypeEngine[Any]) -> type:
    try:
        python_type = type_.python_type
    except NotImplementedError:
        python_type = object
    # A decorator that does not say (UTCDateTime) holds what its implementation holds.
    if python_type is object and isinstance(type_, TypeDecorator):
        return _python_type(type_.impl_instance)
    return python_type


def codec_for(column: Column[Any]) -> Codec:
    """The codec for ``column``; a :class:`DumpError` for a type dumps cannot carry yet."""
    if isinstance(column.type, Enum | JSON):
        return PLAIN  # enums travel as their stored strings (see _selected)
    python_type = _python_type(column.type)
    for kind, codec in CODECS.items():
        if issubclass(python_type, kind):
            return codec
    raise DumpError(
        f"column {column.table.name}.{column.name} has a type dumps cannot carry yet "
        f"({column.type!r}); teach cms/dumps.py's CODECS how to write it"
    )


def dumped_tables() -> list[Table]:
    """Every table a dump holds, parents before children."""
    return [table for table in Base.metadata.sorted_tables if table.name not in SKIPPED_TABLES]


def _selected(column: Column[Any]) -> ColumnElement[Any]:
    # An Enum column read as the enum would come back as a Python member whose string
    # depends on values_callable; the string the database holds is what must travel.
    if isinstance(column.type, Enum):
        return type_coerce(column, String()).label(column.name)
    return column


@dataclass(frozen=True)
class TableSummary:
    name: str
    rows: int
    next_id: int | None


class Snapshot:
    """A consistent view of the whole site, ready to be written as a dump."""

    def __init__(self, connection: Connection, tables: list[Table]) -> None:
        self.connection = connection
        self.tables = tables
        # A column of a type dumps cannot carry is refused before anything is written.
        self.encoders = {
            table.name: [codec_for(column).encode for column in table.columns] for table in tables
        }
        counters = _id_counters(connection)
        self.summaries = [
            TableSummary(
                name=table.name,
                rows=_count(connection, table),
                next_id=counters.get(table.name)
                if table.autoincrement_column is not None
                else None,
            )
            for table in tables
        ]

    @property
    def row_count(self) -> int:
        """Rows in every dumped table together."""
        return sum(summary.rows for summary in self.summaries)

    def write(self, out: IO[bytes], *, on_progress: Callable[[int], None] = _ignore) -> int:
        """Write the dump to ``out``; returns the rows written."""
        header = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "schema_revision": migrations.head_revision(),
            "created_at": utcnow().isoformat(),
            "source_backend": self.connection.dialect.name,
            "contains_secrets": True,
            "warning": SECRETS_WARNING,
            "tables": [
                {"name": summary.name, "rows": summary.rows, "next_id": summary.next_id}
                for summary in self.summaries
            ],
        }
        out.write(_line(header))
        written = 0
        for table, summary in zip(self.tables, self.summaries, strict=True):
            columns = list(table.columns)
            out.write(_line({"table": table.name, "columns": [column.name for column in columns]}))
            encoders = self.encoders[table.name]
            query = select(*(_selected(column) for column in columns)).order_by(
                *table.primary_key.columns
            )
            result = self.connection.execution_options(
                stream_results=True, yield_per=FETCH_ROWS
            ).execute(query)
            rows = 0
            for batch in result.partitions():
                for row in batch:
                    out.write(_line(_encoded(row, encoders)))
                rows += len(batch)
                on_progress(len(batch))
            if rows != summary.rows:
                raise AssertionError(f"{table.name}: counted {summary.rows}, read {rows}")
            written += rows
        out.write(_line({"end": FORMAT, "rows": written}))
        return written


def _encoded(row: Sequence[Any], encoders: list[Encoder | None]) -> list[Any]:
    return [
        value if encode is None or value is None else encode(value)
        for value, encode in zip(row, encoders, strict=True)
    ]


def _line(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


def _count(connection: Connection, table: Table) -> int:
    return connection.scalar(select(func.count()).select_from(table)) or 0


def _id_counters(connection: Connection) -> dict[str, int]:
    """The id each table's counter would hand out next, by table name."""
    if connection.dialect.name == "sqlite":
        has_sequence = connection.scalar(
            text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_sequence'")
        )
        if not has_sequence:
            return {}
        rows = connection.execute(text("SELECT name, seq FROM sqlite_sequence"))
        return {name: seq + 1 for name, seq in rows}
    if not getattr(connection.dialect, "is_mariadb", False):
        # MySQL 8 caches information_schema.TABLES for a day; the counter must be current.
        connection.execute(text("SET SESSION information_schema_stats_expiry = 0"))
    rows = connection.execute(
        text(
            "SELECT TABLE_NAME, AUTO_INCREMENT FROM information_schema.TABLES "
            "WHERE TABLE_SCHEMA = DATABASE() AND AUTO_INCREMENT IS NOT NULL"
        )
    )
    return {name: int(counter) for name, counter in rows}


@contextmanager
def snapshot(database: Database) -> Iterator[Snapshot]:
    """A read transaction that sees one moment of the whole site, for :meth:`Snapshot.write`.

    Refuses a database whose schema is not at this code's newest migration (the dump
    would describe tables this code does not know).
    """
    problem = migrations.schema_problem(database.engine)
    if problem is not None:
        raise DumpError(problem)
    with database.engine.connect() as connection:
        mysql = connection.dialect.name != "sqlite"
        if mysql:
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            if mysql:
                # Every table read at one instant; SQLite's read transaction already is.
                connection.exec_driver_sql("START TRANSACTION WITH CONSISTENT SNAPSHOT")
            yield Snapshot(connection, dumped_tables())


# ---------------------------------------------------------------------------- loading


@dataclass(frozen=True)
class Header:
    """What a dump's first line says about it."""

    schema_revision: str
    created_at: str
    tables: list[TableSummary]

    @property
    def row_count(self) -> int:
        """Rows in the whole dump."""
        return sum(summary.rows for summary in self.tables)


class DumpReader:
    """A dump read line by line; the header is read and checked when it is opened."""

    def __init__(self, source: IO[bytes], name: str = "the dump") -> None:
        self.source = source
        self.name = name
        self.line_number = 0
        first = self._next()
        if not isinstance(first, dict) or first.get("format") != FORMAT:
            raise DumpError(f"{name} is not a CMS dump (its first line is no cms-dump header)")
        if first.get("version") != FORMAT_VERSION:
            raise DumpError(
                f"{name} is in dump format version {first.get('version')!r}; this CMS reads "
                f"version {FORMAT_VERSION}: load it with the CMS version that wrote it"
            )
        try:
            self.header = Header(
                schema_revision=str(first["schema_revision"]),
                created_at=str(first["created_at"]),
                tables=[
                    TableSummary(
                        name=str(entry["name"]),
                        rows=int(entry["rows"]),
                        next_id=None if entry["next_id"] is None else int(entry["next_id"]),
                    )
                    for entry in first["tables"]
                ],
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DumpError(f"{name} has an incomplete header ({exc!r})") from None

    def _next(self) -> Any:
        line = self.source.readline()
        self.line_number += 1
        if not line or not line.endswith(b"\n"):
            raise DumpError(
                f"{self.name} is truncated: it stops at line {self.line_number} before the "
                "dump's closing line"
            )
        try:
            return json.loads(line)
        except ValueError as exc:
            raise DumpError(f"{self.name} is corrupt at line {self.line_number}: {exc}") from None

    def _corrupt(self, expected: str) -> DumpError:
        return DumpError(f"{self.name} is corrupt at line {self.line_number}: expected {expected}")

    def sections(self) -> Iterator[tuple[TableSummary, list[str], Iterator[list[Any]]]]:
        """Each table of the dump: its summary, its column names and an iterator over its
        rows (to be consumed before the next table). Checks the closing line at the end."""
        for summary in self.header.tables:
            section = self._next()
            if (
                not isinstance(section, dict)
                or section.get("table") != summary.name
                or not isinstance(section.get("columns"), list)
            ):
                raise self._corrupt(f"the start of table {summary.name}")
            columns = [str(name) for name in section["columns"]]
            yield summary, columns, self._rows(summary, len(columns))
        closing = self._next()
        if closing != {"end": FORMAT, "rows": self.header.row_count}:
            raise self._corrupt("the closing line")
        if self.source.readline():
            raise DumpError(f"{self.name} has data after its closing line")

    def _rows(self, summary: TableSummary, width: int) -> Iterator[list[Any]]:
        for _ in range(summary.rows):
            row = self._next()
            if not isinstance(row, list) or len(row) != width:
                raise self._corrupt(f"a row of {summary.name} with {width} values")
            yield row


def _check_target(connection: Connection, header: Header, tables: dict[str, Table]) -> None:
    """Refuse a dump of another schema revision, or a database that is not empty."""
    head = migrations.head_revision()
    if header.schema_revision != head:
        raise DumpError(
            f"the dump was made at schema revision {header.schema_revision} and this CMS is "
            f"at {head}: load it with the CMS version that made it, then upgrade that site"
        )
    current = MigrationContext.configure(connection).get_current_revision()
    if current is None:
        raise DumpError("the database has no schema yet; run `cms migrate` first")
    if current != head:
        raise DumpError(
            f"the database is at schema revision {current} and the dump at {head}; "
            "run `cms migrate` first"
        )
    unknown = [summary.name for summary in header.tables if summary.name not in tables]
    if unknown:
        raise DumpError(f"the dump has tables this CMS does not know: {', '.join(unknown)}")
    filled = [name for name, table in tables.items() if _has_rows(connection, table)]
    if filled:
        raise DumpError(
            f"the database is not empty ({', '.join(filled)} already have rows); "
            "loaddata only fills a new database that `cms migrate` has just created"
        )


def _has_rows(connection: Connection, table: Table) -> bool:
    return bool(connection.scalar(select(exists(table.select()))))


def load(database: Database, reader: DumpReader, *, progress: bulk.Progress | None = None) -> int:
    """Load what ``reader`` reads into ``database``, which must be empty and migrated to the
    dump's schema revision; returns the rows loaded.

    Every row is inserted in one transaction, so a dump found truncated or corrupt halfway,
    a violated constraint or an interrupted load leaves the database as empty as it was.
    On MySQL/MariaDB the id counters are raised before that transaction (``ALTER TABLE``
    commits by itself); on an empty database that changes nothing but the next ids.
    The articles' secondary and full-text indexes are built once the rows are in
    (:func:`cms.bulk.indexes_deferred`), also when the load fails.
    """
    progress = progress or bulk.Progress()
    tables = {table.name: table for table in dumped_tables()}
    mysql = database.engine.dialect.name != "sqlite"
    with database.engine.connect() as connection:
        _check_target(connection, reader.header, tables)
        if mysql:
            for summary in reader.header.tables:
                if summary.next_id is not None and summary.next_id > 1:
                    _raise_id_counter(connection, tables[summary.name], summary.next_id)
    loaded = 0
    with bulk.indexes_deferred(database, progress), database.transaction() as session:
        progress.phase("loading", reader.header.row_count)
        connection = session.connection()
        _check_target(connection, reader.header, tables)
        if mysql:
            # Rows arrive parents first, but a self-reference or a cycle added one day
            # would not: every foreign key is checked by _check_references instead.
            connection.exec_driver_sql("SET SESSION foreign_key_checks = 0")
            event.listen(connection, "before_cursor_execute", larger_multirow_inserts)
        else:
            connection.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
        try:
            for summary, columns, rows in reader.sections():
                table = tables[summary.name]
                max_id = _insert_rows(connection, table, columns, rows, progress.advance)
                loaded += summary.rows
                if not mysql and table.autoincrement_column is not None:
                    _raise_id_counter(connection, table, max(summary.next_id or 1, max_id + 1))
            progress.phase("checking references")
            _check_references(connection, list(tables.values()))
        finally:
            if mysql:
                connection.exec_driver_sql("SET SESSION foreign_key_checks = 1")
                event.remove(connection, "before_cursor_execute", larger_multirow_inserts)
    progress.finish()
    return loaded


def _insert_rows(
    connection: Connection,
    table: Table,
    names: list[str],
    rows: Iterator[list[Any]],
    on_progress: Callable[[int], None],
) -> int:
    """Insert ``rows`` in batches of bounded size; returns the largest id (0 if none)."""
    if sorted(names) != sorted(table.columns.keys()):
        raise DumpError(
            f"the dump's columns of {table.name} ({', '.join(names)}) are not this "
            f"schema's ({', '.join(table.columns.keys())})"
        )
    columns = [table.columns[name] for name in names]
    keys = [column.key for column in columns]
    decoders = [codec_for(column).decode for column in columns]
    id_column = table.autoincrement_column
    id_position = names.index(id_column.name) if id_column is not None else None
    statement = insert(table)
    max_id = 0
    batch: list[dict[str, Any]] = []
    batch_size = 0
    for row in rows:
        try:
            batch.append(
                {
                    key: value if decode is None or value is None else decode(value)
                    for key, value, decode in zip(keys, row, decoders, strict=True)
                }
            )
            if id_position is not None:
                max_id = max(max_id, int(row[id_position]))
        except (TypeError, ValueError) as exc:
            raise DumpError(f"a row of {table.name} holds a wrong value: {exc}") from None
        batch_size += sum(len(value) for value in row if isinstance(value, str))
        if len(batch) >= INSERT_BATCH_ROWS or batch_size >= INSERT_BATCH_BYTES:
            connection.execute(statement, batch)
            on_progress(len(batch))
            batch, batch_size = [], 0
    if batch:
        connection.execute(statement, batch)
        on_progress(len(batch))
    return max_id


def _raise_id_counter(connection: Connection, table: Table, next_id: int) -> None:
    """Make ``table`` hand out ids from ``next_id`` on (never lower than its own ids)."""
    if connection.dialect.name == "sqlite":
        current = connection.scalar(
            text("SELECT seq FROM sqlite_sequence WHERE name = :name"), {"name": table.name}
        )
        if current is None:
            connection.execute(
                text("INSERT INTO sqlite_sequence (name, seq) VALUES (:name, :seq)"),
                {"name": table.name, "seq": next_id - 1},
            )
        elif current < next_id - 1:
            connection.execute(
                text("UPDATE sqlite_sequence SET seq = :seq WHERE name = :name"),
                {"name": table.name, "seq": next_id - 1},
            )
        return
    quoted = connection.dialect.identifier_preparer.quote(table.name)
    # InnoDB moves the counter past explicit ids by itself; raising it first also skips
    # the ids the source handed out and then deleted.
    connection.exec_driver_sql(f"ALTER TABLE {quoted} AUTO_INCREMENT = {int(next_id)}")


def _check_references(connection: Connection, tables: list[Table]) -> None:
    """Refuse, before the commit, rows whose foreign keys point at nothing."""
    for table in tables:
        for constraint in table.foreign_key_constraints:
            parent = constraint.referred_table
            elements = constraint.elements
            orphan = (
                select(1)
                .select_from(
                    table.outerjoin(parent, and_(*(e.parent == e.column for e in elements)))
                )
                .where(*(e.parent.is_not(None) for e in elements))
                .where(*(e.column.is_(None) for e in elements))
                .limit(1)
            )
            if connection.scalar(orphan) is not None:
                names = ", ".join(element.parent.name for element in elements)
                raise DumpError(
                    f"rows of {table.name} refer ({names}) to {parent.name} rows that the "
                    "dump does not have"
                )
