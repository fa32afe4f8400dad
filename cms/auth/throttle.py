"""Counting attempts against limits (sign-ins, sign-ups, each account's writes), shared
by every worker.

Each attempt is counted *before* the work it guards (a password check) with one atomic
upsert per key, so simultaneous attempts can neither race past a limit nor deadlock on
creating the same row: the database serialises the increments. A successful sign-in
gives its attempt back, so the counts are, in effect, failures.
"""

import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Insert, case, delete, select, update
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.orm import Session

from cms.auth.models import RateLimit
from cms.config import WriteLimits
from cms.errors import TooManyAttempts

WRITES_LIMITED = (
    "Too many changes from your account in a short time; nothing was saved. "
    "Try again in {seconds} seconds."
)


@dataclass(frozen=True)
class Limit:
    """At most ``max_hits`` attempts per ``window`` under ``scope`` for ``subject``."""

    scope: str
    subject: str
    max_hits: int
    window: timedelta

    @property
    def key(self) -> str:
        return hashlib.sha256(f"{self.scope}\0{self.subject}".encode()).hexdigest()


@dataclass(frozen=True)
class Tally:
    """What counting an attempt found."""

    # Seconds until every exhausted limit resets (for ``Retry-After``); None: allowed.
    wait: int | None
    # Whether some counter started a new window (the moment to sweep out old ones).
    new_window: bool


def take(session: Session, limits: Iterable[Limit], now: datetime) -> Tally:
    """Count one attempt under every limit."""
    ordered = sorted(limits, key=lambda limit: limit.key)  # one lock order: no deadlocks
    for limit in ordered:
        session.execute(_increment(session, limit, now))
    rows = session.execute(
        select(RateLimit.key, RateLimit.hits, RateLimit.window_started_at).where(
            RateLimit.key.in_([limit.key for limit in ordered])
        )
    ).all()
    by_key = {key: (hits, started) for key, hits, started in rows}
    waits = [
        math.ceil((by_key[limit.key][1] + limit.window - now).total_seconds())
        for limit in ordered
        if by_key[limit.key][0] > limit.max_hits
    ]
    new_window = any(by_key[limit.key][0] == 1 for limit in ordered)
    return Tally(wait=max(1, *waits) if waits else None, new_window=new_window)


def give_back(session: Session, limits: Iterable[Limit]) -> None:
    """Uncount one attempt under each limit (it turned out not to be a failure)."""
    keys = sorted(limit.key for limit in limits)
    if not keys:
        return
    session.execute(
        update(RateLimit)
        .where(RateLimit.key.in_(keys), RateLimit.hits > 0)
        .values(hits=RateLimit.hits - 1)
        .execution_options(synchronize_session=False)
    )


def reset(session: Session, limits: Iterable[Limit]) -> None:
    """Start each limit afresh."""
    keys = sorted(limit.key for limit in limits)
    if keys:
        session.execute(delete(RateLimit).where(RateLimit.key.in_(keys)))


def forget_expired(session: Session, now: datetime, longest_window: timedelta) -> None:
    """Drop counters whose window has run out (they would otherwise pile up)."""
    session.execute(delete(RateLimit).where(RateLimit.window_started_at < now - longest_window))


def _increment(session: Session, limit: Limit, now: datetime) -> Insert:
    expired = RateLimit.window_started_at < now - limit.window
    values = {"key": limit.key, "scope": limit.scope, "hits": 1, "window_started_at": now}
    hits = case((expired, 1), else_=RateLimit.hits + 1)
    started = case((expired, now), else_=RateLimit.window_started_at)
    if session.get_bind().dialect.name == "sqlite":
        sqlite_insert = sqlite.insert(RateLimit).values(values)
        return sqlite_insert.on_conflict_do_update(
            index_elements=[RateLimit.key], set_={"hits": hits, "window_started_at": started}
        )
    # MySQL assigns left to right, each assignment seeing the ones before it: ``hits``
    # must be computed while ``window_started_at`` still holds the old window.
    mysql_insert = mysql.insert(RateLimit).values(values)
    return mysql_insert.on_duplicate_key_update([("hits", hits), ("window_started_at", started)])


def write_limits(account_id: int, limits: WriteLimits) -> list[Limit]:
    """The limits on one account's writes: per minute and per hour."""
    subject = str(account_id)
    return [
        Limit("writes_per_minute", subject, limits.per_minute, timedelta(minutes=1)),
        Limit("writes_per_hour", subject, limits.per_hour, timedelta(hours=1)),
    ]


def charge_write(session: Session, account_id: int, limits: WriteLimits, now: datetime) -> None:
    """Count one write by the account, in the write's own transaction, before it runs.

    Past a limit it raises :class:`TooManyAttempts` (with the seconds until the window
    resets), so the transaction writes nothing. The count commits or rolls back with the
    write: a write refused for any reason is not counted. Each account has one counter
    per window, reused from window to window, so nothing piles up to be swept."""
    tally = take(session, write_limits(account_id, limits), now)
    if tally.wait is not None:
        raise TooManyAttempts(WRITES_LIMITED.format(seconds=tally.wait), retry_after=tally.wait)
