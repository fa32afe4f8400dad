"""The engine, the one session factory, the declarative base and portable column types.

Everything that talks to the database — the REST API, the back office, the CLI and the
migrations — gets its sessions from a :class:`Database` built here, so SQLite and
MySQL/MariaDB are configured in exactly one place.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, String, Text, create_engine, event
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator, TypeEngine

from cms.errors import ConfigurationError

# Deterministic constraint names keep migrations reviewable and batch mode (SQLite) working;
# every generated name stays well under MySQL's 64-character limit for our table names.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Strict mode turns MySQL's silent truncation into errors; UTC keeps NOW() comparable.
MYSQL_INIT_COMMAND = (
    "SET time_zone = '+00:00', sql_mode = 'STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,"
    "NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'"
)
TABLE_ARGS = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    # Without AUTOINCREMENT SQLite hands a deleted row's id to the next insert: a token
    # or link for a deleted user or article must never land on a new one.
    "sqlite_autoincrement": True,
}
WRITER_OPTION = "cms_writer"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC: the only clock models and services use."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as naive UTC with microseconds and returned timezone-aware.

    MySQL's plain ``DATETIME`` drops microseconds and neither backend keeps an offset,
    so values are normalised to UTC on the way in and tagged UTC on the way out.
    """

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; pass a timezone-aware value")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


def exact_string(length: int) -> TypeEngine[str]:
    """A ``String`` compared byte for byte on every backend.

    MySQL's default collations match case- and accent-insensitively (``josé`` = ``JOSE``);
    keys we normalise ourselves (emails, slugs) must match exactly, as on SQLite.
    """
    return String(length).with_variant(
        mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
    )


# MySQL's TEXT holds 64 KiB; an article body may be 1 MiB of UTF-8 (and its HTML more).
LongText = Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")


def create_db_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine configured for the backend named by ``url``.

    Bound parameters never appear in error messages or logs: they carry password hashes.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(
            parsed,
            echo=echo,
            hide_parameters=True,
            connect_args={"check_same_thread": False, "timeout": 30},
        )
        _configure_sqlite(engine)
        return engine
    try:
        parsed.get_dialect().import_dbapi()
    except ImportError as exc:
        raise ConfigurationError(
            f"The driver for {parsed.drivername} is not installed ({exc}); the supported "
            "one is mysqlclient (mysql+mysqldb://…): pip install -e '.[mysql]'"
        ) from exc
    return create_engine(
        parsed,
        echo=echo,
        hide_parameters=True,
        pool_pre_ping=True,
        pool_recycle=3600,
        isolation_level="READ COMMITTED",
        connect_args={"charset": "utf8mb4", "init_command": MYSQL_INIT_COMMAND},
    )


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy (pysqlite's own emulation breaks
        # SAVEPOINT), enforce foreign keys, and let readers run beside a writer.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get(WRITER_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def begin_write(session: Session) -> None:
    """Start ``session``'s transaction as one that will write.

    On SQLite this takes the write lock up front (``BEGIN IMMEDIATE``): two writers then
    queue on the busy timeout instead of the second failing when its read transaction
    tries to become a write. Elsewhere it only starts the transaction. Call it before the
    session's first query.
    """
    session.connection(execution_options={WRITER_OPTION: True})


class Database:
    """One engine and the session factory built on it."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.engine = create_db_engine(url, echo=echo)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work is committed on success and rolled back on any error."""
        with self.sessionmaker() as session, session.begin():
            begin_write(session)
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
