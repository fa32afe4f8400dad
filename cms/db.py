"""The engine, the one session factory, the declarative base and portable column types.

Everything that talks to the database — the REST API, the back office, the CLI and the
migrations — gets its sessions from a :class:`Database` built here, so SQLite and
MySQL/MariaDB are configured in exactly one place.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

from sqlalchemy import Connection, DateTime, Engine, MetaData, String, Text, create_engine, event
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator, TypeEngine

from cms.actors import COMMAND_LINE, Origin
from cms.config import WriteLimits
from cms.errors import ConfigurationError
from cms.replicas import ROUTE, Replica, ReplicaSet, is_unreachable, last_position

if TYPE_CHECKING:
    from cms.actors import Actor

logger = logging.getLogger(__name__)
T = TypeVar("T")
# An actor, or how to load one inside the unit of work's own session.
ActorSource: TypeAlias = "Actor | Callable[[Session], Actor | None]"

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
# Execution option: the seconds any one SELECT on this connection may run (reads that a
# request makes; see :func:`bound_statement_time`).
TIME_LIMIT_OPTION = "cms_time_limit"
# The errors a statement cut off by its time limit raises: MariaDB's max_statement_time
# (1969), MySQL's MAX_EXECUTION_TIME (3024), SQLite's interrupt.
STATEMENT_TIMEOUT_MYSQL_ERRORS = frozenset({1969, 3024})
# A statement stopped by KILL QUERY: its client went away (:class:`RunningStatements`).
CANCELLED_MYSQL_ERROR = 1317
# SQLite calls the progress handler every this many virtual-machine instructions.
_SQLITE_PROGRESS_STEPS = 10_000
# Reads run in the thread pool (anyio's 40 threads by default): one connection for each
# thread that can be reading at once, so no request waits on the pool for a connection.
READ_POOL_SIZE = 40
# Autocommit, and no ROLLBACK when a connection closes or returns to the pool: a read is
# its statements and nothing more.
READER_OPTIONS: dict[str, Any] = {
    "isolation_level": "AUTOCOMMIT",
    "pool_reset_on_return": None,
    "skip_autocommit_rollback": True,
}


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


def create_db_engine(url: str, *, echo: bool = False, reader: bool = False) -> Engine:
    """An engine configured for the backend named by ``url``.

    Bound parameters never appear in error messages or logs: they carry password hashes.
    A ``reader`` engine runs in autocommit, skips the ping before each checkout and the
    rollback after each return, and has a pool as large as the thread pool that uses it.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(
            parsed,
            echo=echo,
            hide_parameters=True,
            connect_args={"check_same_thread": False, "timeout": 30},
            **(READER_OPTIONS if reader else {}),
        )
        _configure_sqlite(engine, transactions=not reader)
        bound_statement_time(engine)
        return engine
    try:
        parsed.get_dialect().import_dbapi()
    except ImportError as exc:
        raise ConfigurationError(
            f"The driver for {parsed.drivername} is not installed ({exc}); the supported "
            "one is mysqlclient (mysql+mysqldb://…): pip install -e '.[mysql]'"
        ) from exc
    if reader:
        engine = create_engine(
            parsed,
            echo=echo,
            hide_parameters=True,
            pool_recycle=3600,
            pool_size=READ_POOL_SIZE,
            max_overflow=0,
            **READER_OPTIONS,
            connect_args={"charset": "utf8mb4", "init_command": MYSQL_INIT_COMMAND},
        )
    else:
        engine = create_engine(
            parsed,
            echo=echo,
            hide_parameters=True,
            pool_pre_ping=True,
            pool_recycle=3600,
            isolation_level="READ COMMITTED",
            connect_args={"charset": "utf8mb4", "init_command": MYSQL_INIT_COMMAND},
        )
    bound_statement_time(engine)
    return engine


def bound_statement_time(engine: Engine) -> None:
    """Let a connection's SELECTs run at most its :data:`TIME_LIMIT_OPTION` seconds.

    The limit is enforced by the database itself, so a statement stops even when nobody
    is waiting for it any more: on MariaDB each SELECT is sent as ``SET STATEMENT
    max_statement_time=… FOR SELECT …`` (MySQL: the ``MAX_EXECUTION_TIME`` hint), on
    SQLite a progress handler interrupts it past its deadline (fetching its rows
    included). Statements other than SELECT, and connections without the option (the
    writers, the command line, migrations, exports), are not limited. A statement cut
    off raises :class:`~sqlalchemy.exc.OperationalError`, logged here with its text (no
    parameters): the API and the back office answer it with 503 and ``Retry-After``.
    """
    sqlite = engine.dialect.name == "sqlite"

    if sqlite:

        @event.listens_for(engine, "connect")
        def _install_progress_handler(dbapi_connection: Any, record: Any) -> None:
            record.info["cms_deadline"] = _Deadline()
            deadline = record.info["cms_deadline"]
            dbapi_connection.set_progress_handler(deadline.passed, _SQLITE_PROGRESS_STEPS)

    if not sqlite:

        @event.listens_for(engine, "connect")
        def _remember_thread_id(dbapi_connection: Any, record: Any) -> None:
            # Asked now: mysqlclient refuses it from another thread while a statement runs.
            record.info["cms_thread_id"] = dbapi_connection.thread_id()

    @event.listens_for(engine, "before_cursor_execute", retval=True)
    def _limit(
        connection: Connection,
        _cursor: Any,
        statement: str,
        parameters: Any,
        _context: Any,
        _executemany: bool,
    ) -> tuple[str, Any]:
        running = RUNNING.get()
        if running is not None:
            running.started(connection)
        limit = connection.get_execution_options().get(TIME_LIMIT_OPTION)
        if sqlite:
            deadline = connection.connection.info.get("cms_deadline")
            if deadline is not None:
                deadline.start(limit)
            return statement, parameters
        if not limit:
            return statement, parameters
        keyword = statement.lstrip()[:6].upper()
        # Known only once connected: the server tells which it is.
        if getattr(connection.dialect, "is_mariadb", False):
            if keyword == "SELECT" or keyword.startswith("WITH"):
                statement = f"SET STATEMENT max_statement_time={float(limit):g} FOR {statement}"
        elif keyword == "SELECT":
            hint = f"SELECT /*+ MAX_EXECUTION_TIME({int(limit * 1000)}) */"
            statement = statement.lstrip().replace(statement.lstrip()[:6], hint, 1)
        return statement, parameters

    @event.listens_for(engine, "after_cursor_execute")
    def _finished(connection: Connection, *_args: Any) -> None:
        running = RUNNING.get()
        if running is not None:
            running.finished(connection)

    @event.listens_for(engine, "handle_error")
    def _log_timeouts(context: Any) -> None:
        running = RUNNING.get()
        if running is not None and context.connection is not None:
            running.finished(context.connection)
        if is_statement_timeout(context.sqlalchemy_exception):
            limit = (
                context.connection.get_execution_options().get(TIME_LIMIT_OPTION)
                if context.connection is not None
                else None
            )
            logger.warning(
                "a statement ran past its time limit of %s s and was stopped: %s",
                limit,
                " ".join(str(context.statement or "").split())[:500],
            )


class _Deadline:
    """A SQLite connection's deadline for the statement it runs, checked by its progress
    handler (which must be cheap: it runs every few thousand instructions)."""

    __slots__ = ("at",)

    def __init__(self) -> None:
        self.at = float("inf")

    def start(self, limit: float | None) -> None:
        self.at = time.monotonic() + limit if limit else float("inf")

    def passed(self) -> int:
        return 1 if time.monotonic() > self.at else 0


class RunningStatements:
    """The statements one request is running now, so that they can be stopped when its
    client goes away (:class:`cms.middleware.CancelOnDisconnect`).

    A connection is listed from the moment a statement is sent until it returns (or
    fails); :meth:`cancel` stops what is listed: ``KILL QUERY`` over another connection
    on MariaDB/MySQL, ``interrupt()`` on SQLite. The lock keeps a connection from being
    handed back, and so to another request, while a cancellation aimed at it is sent.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[int, tuple[Any, Engine, int | None]] = {}
        # When each listed statement was sent (time.monotonic()).
        self._since: dict[int, float] = {}
        self.cancelled = False

    def started(self, connection: Connection) -> None:
        fairy = connection.connection
        dbapi = fairy.dbapi_connection
        with self._lock:
            self._running[id(dbapi)] = (dbapi, connection.engine, fairy.info.get("cms_thread_id"))
            self._since[id(dbapi)] = time.monotonic()

    def running_for(self) -> float:
        """How long the oldest statement still running has been (0: none is)."""
        with self._lock:
            oldest = min(self._since.values(), default=None)
        return 0.0 if oldest is None else time.monotonic() - oldest

    def finished(self, connection: Connection) -> None:
        try:
            dbapi = connection.connection.dbapi_connection
        except Exception:  # an invalidated connection has none left
            return
        with self._lock:
            self._running.pop(id(dbapi), None)
            self._since.pop(id(dbapi), None)

    def cancel(self) -> int:
        """Stop every statement still running; how many were."""
        # The KILL statement itself is no statement of this request's to list.
        RUNNING.set(None)
        with self._lock:
            self.cancelled = True
            running = list(self._running.values())
            for dbapi, engine, thread_id in running:
                try:
                    if engine.dialect.name == "sqlite":
                        dbapi.interrupt()
                    elif thread_id is not None:
                        with engine.connect() as killer:
                            killer.exec_driver_sql(f"KILL QUERY {int(thread_id)}")
                except Exception:
                    logger.warning(
                        "could not stop a statement of a request whose client left", exc_info=True
                    )
        if running:
            logger.info("the client went away: stopped %d running statement(s)", len(running))
        return len(running)


# The statements of the request being served (None outside a request).
RUNNING: ContextVar[RunningStatements | None] = ContextVar("cms_running_statements", default=None)


def is_statement_timeout(exc: BaseException | None) -> bool:
    """Whether ``exc`` is a statement stopped by its time limit (:func:`bound_statement_time`)."""
    if not isinstance(exc, OperationalError):
        return False
    args: tuple[object, ...] = getattr(exc.orig, "args", ())
    if args and args[0] in STATEMENT_TIMEOUT_MYSQL_ERRORS:
        return True
    return bool(args) and args[0] == "interrupted"


def is_cancelled(exc: BaseException | None) -> bool:
    """Whether ``exc`` is a statement stopped because its client went away."""
    if not isinstance(exc, OperationalError):
        return False
    args: tuple[object, ...] = getattr(exc.orig, "args", ())
    return bool(args) and args[0] == CANCELLED_MYSQL_ERROR


def _configure_sqlite(engine: Engine, *, transactions: bool = True) -> None:
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

    if not transactions:
        return  # a reader: each statement on its own, no BEGIN left open on the connection

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get(WRITER_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


MULTIROW_INSERT_BYTES = 1024 * 1024


def larger_multirow_inserts(
    _connection: Any,
    cursor: Any,
    _statement: str,
    _parameters: Any,
    _context: Any,
    executemany: bool,
) -> None:
    """A ``before_cursor_execute`` listener for bulk loads (demo data and ``cms loaddata``)."""
    # mysqlclient folds executemany() into multi-row INSERTs of at most 64 KiB, about
    # twenty articles each; 1 MiB statements (under the 16 MiB packet limit) cut the
    # round trips sixteen-fold. Other drivers have no such attribute.
    if executemany and hasattr(cursor, "max_stmt_length"):
        cursor.max_stmt_length = MULTIROW_INSERT_BYTES


def begin_write(session: Session) -> None:
    """Start ``session``'s transaction as one that will write.

    On SQLite this takes the write lock up front (``BEGIN IMMEDIATE``): two writers then
    queue on the busy timeout instead of the second failing when its read transaction
    tries to become a write. Elsewhere it only starts the transaction. Call it before the
    session's first query.
    """
    session.connection(execution_options={WRITER_OPTION: True})


# MySQL/MariaDB errors that mean "the transaction lost a race, run it again": a deadlock
# (1213) or a lock wait that timed out (1205). Neither left anything committed.
RETRYABLE_MYSQL_ERRORS = frozenset({1205, 1213})
DEFAULT_ATTEMPTS = 4


def is_retryable(exc: BaseException) -> bool:
    """Whether ``exc`` aborted a transaction that may simply be run again.

    A deadlock inside a savepoint rolls back the whole transaction, savepoint included, so
    what reaches the caller is the failed ``ROLLBACK TO SAVEPOINT`` (1305) raised while
    handling it: the deadlock is looked for along the chain of errors, not only on top."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OperationalError):
            args: tuple[object, ...] = getattr(seen.orig, "args", ())
            if len(args) > 0 and args[0] in RETRYABLE_MYSQL_ERRORS:
                return True
        seen = seen.__cause__ or seen.__context__
    return False


class UnitOfWork:
    """One transaction and what it is done for: the session, who acts, and from where.

    Services take it as their first argument, read ``actor`` for permission checks and
    audit entries, and flush; they never commit. Work that must happen only once the
    change is durable (a cache purge, a webhook) is registered with :meth:`after_commit`.
    """

    def __init__(
        self,
        session: Session,
        actor: Actor | None,
        origin: Origin,
        limits: WriteLimits | None = None,
    ) -> None:
        self.session = session
        self.actor = actor
        self.origin = origin
        # The installation's write rate and revision retention.
        self.limits = limits or WriteLimits()
        self._after_commit: list[Callable[[], None]] = []

    def after_commit(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` once the transaction has committed (never if it rolls back)."""
        self._after_commit.append(hook)

    def _run_after_commit_hooks(self) -> None:
        for hook in self._after_commit:
            try:
                hook()
            except Exception:
                # The change is committed and acknowledged; a hook failing must not undo
                # that answer. It is logged for the operator instead.
                logger.exception("after-commit hook %r failed", hook)


class _RoutedSessions(sessionmaker[Session]):
    """The read session factory when there are replicas: each session it makes is bound,
    once, to a healthy replica that has applied the request's consistency token, or
    else to the primary (:meth:`Database.replica_for_read`)."""

    def __init__(self, database: Database, bind: Engine, **kw: Any) -> None:
        super().__init__(bind, **kw)
        self._database = database

    def __call__(self, **local_kw: Any) -> Session:
        database = self._database
        replica = database.replica_for_read()
        if replica is None or database.replicas is None:
            return super().__call__(**local_kw)
        session = super().__call__(**{**local_kw, "bind": replica.sessions})
        try:
            connection = session.connection()
            if database.replicas.ready_for(replica, connection, ROUTE.get()):
                return session
        except DBAPIError as exc:
            if not is_unreachable(exc):
                session.close()
                raise
            database.replicas.mark_down(replica, exc)
        try:
            session.close()
        except DBAPIError:
            logger.debug("closing a session on an unreachable replica failed", exc_info=True)
        return super().__call__(**local_kw)

    def on_primary(self, **local_kw: Any) -> Session:
        """A read session on the primary, whatever the request."""
        return super().__call__(**local_kw)


class Database:
    """One engine, the session factory built on it, and the unit of work every write uses.

    With ``replica_urls`` (MariaDB replicas of the primary), the reads of a request that
    may read from a replica (:data:`cms.replicas.ROUTE`) go to a healthy one; writes,
    and everything outside a request, stay on the primary (see :mod:`cms.replicas`)."""

    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        limits: WriteLimits | None = None,
        read_time_limit: float = 0,
        replica_urls: Sequence[str] = (),
        replica_max_lag: float = 5.0,
        consistency_wait: float = 0.5,
        replica_check_interval: float = 1.0,
    ) -> None:
        """``read_time_limit``: the seconds each SELECT of a read (:attr:`reader`,
        :meth:`read`, :meth:`reading`, :attr:`read_sessionmaker`) may run; 0, no limit.
        Writes, the command line and migrations are never cut off.

        ``replica_max_lag``: a replica further behind (seconds) is skipped;
        ``consistency_wait``: the most a read carrying a consistency token waits for a
        replica to apply it before it reads from the primary; ``replica_check_interval``:
        how often (seconds) one thread asks each replica how it is."""
        self.url = url
        self.limits = limits or WriteLimits()
        self.read_time_limit = read_time_limit
        self.engine = create_db_engine(url, echo=echo)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        self.replicas: ReplicaSet | None = None
        self._reader: Engine | None = None
        if not replica_urls:
            # The same pool, with every SELECT bounded: the back office's pages and the
            # API's ORM reads.
            self.read_sessionmaker: sessionmaker[Session] = sessionmaker(
                self._bounded(self.engine), expire_on_commit=False
            )
            return
        self.replicas = ReplicaSet(
            replica_urls,
            engines=lambda replica, reader: self._bounded(
                create_db_engine(replica, echo=echo, reader=reader)
            ),
            max_lag=replica_max_lag,
            wait_budget=consistency_wait,
            check_interval=replica_check_interval,
        )
        self.read_sessionmaker = _RoutedSessions(
            self, self._bounded(self.engine), expire_on_commit=False
        )
        self._hand_out_positions()

    def _bounded(self, engine: Engine) -> Engine:
        return engine.execution_options(**{TIME_LIMIT_OPTION: self.read_time_limit})

    def _hand_out_positions(self) -> None:
        """After a request's commit, its GTID (asked on the same connection, right after
        COMMIT) becomes the request's :attr:`ReadRoute.written`: the consistency token
        its client is given, and the reason the rest of its reads use the primary."""

        @event.listens_for(self.sessionmaker, "before_commit")
        def _remember_connection(session: Session) -> None:
            if ROUTE.get() is not None:
                session.info["cms_commit_connection"] = session.connection()

        @event.listens_for(self.sessionmaker, "after_commit")
        def _remember_position(session: Session) -> None:
            connection = session.info.pop("cms_commit_connection", None)
            route = ROUTE.get()
            if connection is None or route is None:
                return
            try:
                position = last_position(connection.connection.dbapi_connection)
            except Exception:
                # Committed all the same; without a position the request's client simply
                # has no token for this write.
                logger.warning("could not read the GTID of a commit", exc_info=True)
                return
            if position is not None:
                route.written = position

    def replica_for_read(self) -> Replica | None:
        """The replica the current request's read goes to, or ``None`` (the primary):
        only a request marked as one that may (:data:`cms.replicas.ROUTE`), that has not
        written yet, when a replica is healthy."""
        if self.replicas is None:
            return None
        route = ROUTE.get()
        if route is None or not route.replica or route.written is not None:
            return None
        return self.replicas.choose()

    @property
    def reader(self) -> Engine:
        """An engine for plain reads: autocommit, so a read is its statements and nothing
        else (no BEGIN, COMMIT or ROLLBACK around it, no ping before it)."""
        if self._reader is None:
            self._reader = create_db_engine(
                self.url, echo=bool(self.engine.echo), reader=True
            ).execution_options(**{TIME_LIMIT_OPTION: self.read_time_limit})
        return self._reader

    def read(self, work: Callable[[Connection], T], *, primary: bool = False) -> T:
        """``work(connection)`` on a reader connection. A connection the database dropped
        (a restart) is noticed by the failing statement instead of a ping before every
        read, and the read is simply made again on a fresh one.

        On a replica when the request may (:meth:`replica_for_read`) and ``primary`` is
        false; a replica that cannot be reached, or has not applied the request's
        consistency token within the budget, leaves the read to the primary."""
        replica = None if primary else self.replica_for_read()
        if replica is not None and self.replicas is not None:
            try:
                with replica.reader.connect() as connection:
                    if self.replicas.ready_for(replica, connection, ROUTE.get()):
                        return work(connection)
            except DBAPIError as exc:
                if not is_unreachable(exc):
                    raise
                self.replicas.mark_down(replica, exc)
        for attempt in (1, 2):
            try:
                with self.reader.connect() as connection:
                    return work(connection)
            except DBAPIError as exc:
                if attempt == 2 or not exc.connection_invalidated:
                    raise
        raise AssertionError("unreachable")

    @contextmanager
    def unit_of_work(
        self,
        *,
        actor: ActorSource | None = None,
        origin: Origin = COMMAND_LINE,
    ) -> Iterator[UnitOfWork]:
        """One writing transaction: committed when the block ends, rolled back if it raises.

        ``actor`` is the acting user, or a function that loads it inside this transaction
        (the API and the back office resolve the caller's credentials that way, so a
        revoked token is refused by the transaction that would use it). After the commit,
        the hooks registered with :meth:`UnitOfWork.after_commit` run.
        """
        with self.sessionmaker() as session, session.begin():
            begin_write(session)
            resolved = actor(session) if callable(actor) else actor
            work = UnitOfWork(session, resolved, origin, self.limits)
            yield work
        work._run_after_commit_hooks()

    def run(
        self,
        work: Callable[[UnitOfWork], T],
        *,
        actor: ActorSource | None = None,
        origin: Origin = COMMAND_LINE,
        attempts: int = DEFAULT_ATTEMPTS,
    ) -> T:
        """``work`` in a unit of work, run again from the start if it lost a deadlock.

        The whole transaction is repeated (at most ``attempts`` times, with a short random
        pause), so ``work`` must do everything through the unit of work it is given.
        Work with a ``prepare()`` method (an action that renders Markdown, say) is
        prepared once, before the transaction takes its locks.
        """
        prepare = getattr(work, "prepare", None)
        if callable(prepare):
            prepare()
        for attempt in range(1, attempts + 1):
            try:
                with self.unit_of_work(actor=actor, origin=origin) as unit:
                    result = work(unit)
            except OperationalError as exc:
                if attempt == attempts or not is_retryable(exc):
                    raise
                logger.info("retrying a transaction that lost a race (%s)", exc.orig)
                time.sleep(random.uniform(0.005, 0.02) * attempt)  # noqa: S311 (jitter only)
                continue
            return result
        raise AssertionError("unreachable")

    @contextmanager
    def reading(self, *, bounded: bool = True, primary: bool = False) -> Iterator[Session]:
        """A session for reads only (nothing it does is committed), its SELECTs bounded
        by the read time limit unless ``bounded`` is false (an export streaming a whole
        table to a slow client, always on the primary). On a replica as
        :attr:`read_sessionmaker` decides, unless ``primary`` (credentials and limits)."""
        if not bounded:
            session = self.sessionmaker()
        elif primary and isinstance(self.read_sessionmaker, _RoutedSessions):
            session = self.read_sessionmaker.on_primary()
        else:
            session = self.read_sessionmaker()
        try:
            yield session
        finally:
            try:
                session.close()
            except DBAPIError as exc:
                # Closing rolls back a transaction that wrote nothing. If the database
                # went away after the reads succeeded, their answer stands: raising here,
                # after the response has started, would reset the client's connection.
                # The pool has already discarded the dead connection.
                if not exc.connection_invalidated:
                    raise
                logger.warning("a read session's connection was lost at close: %s", exc.orig)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A bare writing session without an actor, for fixtures and bulk loads that
        bypass the services (demo data, ``cms loaddata``)."""
        with self.unit_of_work() as unit:
            yield unit.session

    def dispose(self) -> None:
        self.engine.dispose()
        if self._reader is not None:
            self._reader.dispose()
        if self.replicas is not None:
            self.replicas.dispose()
