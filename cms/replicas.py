"""Read replicas: which server a read goes to, and how a reader sees its own writes.

The router decides once per unit of work, never per statement (:class:`cms.db.Database`
asks :meth:`ReplicaSet.choose` when a read opens its connection or session): writing
transactions and everything outside a request stay on the primary; a request that only
reads (``GET``/``HEAD`` without credentials, and the back office's pages) may read from a
replica that is up and not lagging. After a commit the writer is given the transaction's
GTID; a read carrying it waits for the replica to have applied it
(``MASTER_GTID_WAIT``, at most the consistency budget) and reads from the primary
otherwise.

Health is checked by one thread per process, at most every ``check_interval`` seconds:
a replica that refuses connections, times out, has stopped replicating, or lags more
than ``max_lag`` seconds is skipped until a check finds it well again.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import logging
import re
import threading
import time
from base64 import urlsafe_b64encode
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

logger = logging.getLogger(__name__)

CONSISTENCY_HEADER = "X-Consistency-Token"
# A GTID position as MariaDB writes it: domain-server-sequence, comma-separated per domain.
_GTID_POSITION = re.compile(r"\d{1,10}-\d{1,10}-\d{1,20}(,\d{1,10}-\d{1,10}-\d{1,20}){0,31}")
_MAC_LENGTH = 22  # characters of base64url: 132 bits of HMAC-SHA256
# mysqlclient's errors for a server that cannot be reached or went away mid-statement.
UNREACHABLE_MYSQL_ERRORS = frozenset({2002, 2003, 2005, 2006, 2013, 2055})

OK, DOWN, LAGGING, NOT_REPLICATING = "ok", "down", "lagging", "not replicating"


@dataclass
class ReadRoute:
    """What one request's reads may do, set by the request's middleware.

    ``replica`` is whether its reads may go to a replica at all; ``after`` is the GTID
    position they must see (the consistency token the client sent back, or the back
    office's session), ``written`` the position of this request's own last commit
    (after which its reads stay on the primary)."""

    replica: bool = False
    after: str | None = None
    written: str | None = None
    # The replica found to have applied ``after`` (its later reads need not ask again).
    confirmed: str | None = None


# The request being served (None outside a request: the command line, the webhook
# dispatcher, migrations, which therefore always use the primary).
ROUTE: ContextVar[ReadRoute | None] = ContextVar("cms_read_route", default=None)


def sign_position(position: str, secret: str) -> str:
    """The consistency token for ``position``: the GTID and a MAC over it."""
    mac = hmac.new(secret.encode(), b"gtid:" + position.encode(), hashlib.sha256).digest()
    return f"{position}.{urlsafe_b64encode(mac).decode()[:_MAC_LENGTH]}"


def verify_token(token: str, secret: str) -> str | None:
    """The GTID position a token from :func:`sign_position` carries; ``None`` when it is
    malformed or was not made with ``secret`` (nobody can make reads wait for a position
    that was never written)."""
    if len(token) > 1200:
        return None
    position, _, _mac = token.strip().rpartition(".")
    if not _GTID_POSITION.fullmatch(position):
        return None
    if not hmac.compare_digest(sign_position(position, secret), token.strip()):
        return None
    return position


def is_valid_position(position: object) -> bool:
    return isinstance(position, str) and _GTID_POSITION.fullmatch(position) is not None


def is_unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` says the server could not be reached or dropped the connection."""
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    args: tuple[object, ...] = getattr(exc.orig, "args", ())
    return bool(args) and args[0] in UNREACHABLE_MYSQL_ERRORS


def last_position(connection: Any) -> str | None:
    """The GTID of the last transaction ``connection`` (a DBAPI connection, right after
    its COMMIT) wrote to the binary log; ``None`` when it wrote none."""
    cursor = connection.cursor()
    try:
        cursor.execute("SELECT @@last_gtid")
        row = cursor.fetchone()
    finally:
        cursor.close()
    value = row[0] if row else None
    if isinstance(value, bytes):
        value = value.decode()
    return value if is_valid_position(value) else None


@dataclass
class Replica:
    """One replica: its engines, and what the last health check found."""

    name: str
    reader: Engine  # autocommit, for Database.read
    sessions: Engine  # transactional, for ORM sessions
    monitor: Engine  # a fresh connection per check
    state: str = DOWN
    lag: float | None = None
    detail: str | None = None
    checked_at: float | None = None

    @property
    def healthy(self) -> bool:
        return self.state == OK

    def report(self) -> dict[str, object]:
        checked = None if self.checked_at is None else round(time.monotonic() - self.checked_at, 2)
        return {
            "name": self.name,
            "state": self.state,
            "lag_seconds": self.lag,
            "checked_seconds_ago": checked,
            **({"detail": self.detail} if self.detail else {}),
        }


class ReplicaSet:
    """The replicas one :class:`cms.db.Database` may read from, and their health."""

    def __init__(
        self,
        urls: Sequence[str],
        *,
        engines: Any,
        max_lag: float,
        wait_budget: float,
        check_interval: float,
    ) -> None:
        """``engines(url, reader)``: an engine for ``url`` (as :func:`cms.db.create_db_engine`)."""
        self.max_lag = max_lag
        self.wait_budget = wait_budget
        self.check_interval = check_interval
        self.replicas = [
            Replica(
                name=_display_name(url),
                reader=engines(url, True),
                sessions=engines(url, False),
                monitor=create_engine(
                    make_url(url),
                    poolclass=NullPool,
                    hide_parameters=True,
                    connect_args={"connect_timeout": 2, "read_timeout": 2},
                ),
            )
            for url in urls
        ]
        self._turn = itertools.count()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    # -- choosing -------------------------------------------------------------------

    def choose(self) -> Replica | None:
        """A healthy replica (round robin), or ``None``: read from the primary."""
        self._ensure_monitor()
        healthy = [replica for replica in self.replicas if replica.healthy]
        if not healthy:
            return None
        return healthy[next(self._turn) % len(healthy)]

    def ready_for(self, replica: Replica, connection: Connection, route: ReadRoute | None) -> bool:
        """Whether ``replica`` (behind ``connection``) may answer the request's read: it
        has applied the request's consistency token, if any, within the budget. When it
        has not, the rest of the request reads from the primary (one wait per request)."""
        if route is None or route.after is None or route.confirmed == replica.name:
            return True
        if self.caught_up(connection, route.after):
            route.confirmed = replica.name
            return True
        route.replica = False
        return False

    def caught_up(self, connection: Connection, position: str) -> bool:
        """Whether the replica behind ``connection`` has applied ``position``, waiting for
        it at most the budget."""
        started = time.monotonic()
        reached = connection.exec_driver_sql(
            "SELECT MASTER_GTID_WAIT(%s, %s)", (position, float(self.wait_budget))
        ).scalar()
        if reached != 0:
            logger.info(
                "a replica had not applied %s after %.3f s: reading from the primary",
                position,
                time.monotonic() - started,
            )
        return reached == 0

    def mark_down(self, replica: Replica, exc: BaseException) -> None:
        """A read found ``replica`` unreachable: skip it until a check finds it well."""
        if replica.state != DOWN:
            logger.warning("replica %s is unreachable: %s", replica.name, _reason(exc))
        replica.state = DOWN
        replica.detail = _reason(exc)

    # -- health ---------------------------------------------------------------------

    def _ensure_monitor(self) -> None:
        if self._thread is not None:
            return
        with self._start_lock:
            if self._thread is not None or self._stop.is_set():
                return
            self.check_all()  # the first answer before the first read
            self._thread = threading.Thread(
                target=self._watch, name="cms-replica-health", daemon=True
            )
            self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(self.check_interval):
            self.check_all()

    def check_all(self) -> None:
        for replica in self.replicas:
            self.check(replica)

    def check(self, replica: Replica) -> None:
        """Ask ``replica`` how far behind it is (``SHOW SLAVE STATUS``)."""
        was = replica.state
        lag: float | None
        detail: str | None
        try:
            with replica.monitor.connect() as connection:
                row = connection.exec_driver_sql("SHOW SLAVE STATUS").mappings().first()
        except DBAPIError as exc:
            state, lag, detail = DOWN, None, _reason(exc)
        else:
            if row is None:
                state, lag, detail = NOT_REPLICATING, None, "replication is not configured"
            else:
                behind = row.get("Seconds_Behind_Master")
                running = (row.get("Slave_IO_Running"), row.get("Slave_SQL_Running"))
                if behind is None:
                    state, lag = NOT_REPLICATING, None
                    detail = f"IO thread {running[0]}, SQL thread {running[1]}"
                else:
                    lag = float(behind)
                    state = LAGGING if lag > self.max_lag else OK
                    detail = None
        replica.lag, replica.detail, replica.checked_at = lag, detail, time.monotonic()
        if state == OK and was != OK:
            # Connections pooled before it went away are dead: start afresh.
            replica.reader.dispose()
            replica.sessions.dispose()
        replica.state = state
        if state != was:
            log = logger.info if state == OK else logger.warning
            log("replica %s: %s -> %s (%s)", replica.name, was, state, detail or f"lag {lag}")

    def report(self) -> list[dict[str, object]]:
        self._ensure_monitor()
        return [replica.report() for replica in self.replicas]

    def dispose(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for replica in self.replicas:
            replica.reader.dispose()
            replica.sessions.dispose()
            replica.monitor.dispose()


def _display_name(url: str) -> str:
    parsed = make_url(url)
    return f"{parsed.host or 'localhost'}:{parsed.port or 3306}/{parsed.database or ''}"


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", exc)
    return " ".join(str(orig).split())[:200]
