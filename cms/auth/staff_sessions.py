"""Back-office sessions, kept server-side so that ending one ends it everywhere.

A session lasts :data:`LIFETIME` from sign-in at most, and ends earlier when it sits
unused for :data:`IDLE_TIMEOUT`, when the browser signs out, or when the user's session
version moves on (new password, deactivation, demotion): every check below asks all of
these.
"""

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from cms import permissions
from cms.actors import Origin
from cms.auth.models import StaffSession
from cms.db import UnitOfWork, utcnow
from cms.users.models import User

LIFETIME = timedelta(hours=8)
IDLE_TIMEOUT = timedelta(hours=2)
# last_seen_at is refreshed at most this often, so reads do not each cost a write.
_TOUCH_EVERY = timedelta(minutes=5)


def _key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(uow: UnitOfWork, *, user: User, origin: Origin, user_agent: str) -> str:
    """A new session for ``user``; returns the token the browser keeps."""
    now = utcnow()
    token = secrets.token_urlsafe(32)
    uow.session.add(
        StaffSession(
            id=_key(token),
            user_id=user.id,
            created_at=now,
            expires_at=now + LIFETIME,
            last_seen_at=now,
            address=origin.address,
            user_agent=user_agent[:255],
        )
    )
    # Sessions that ran out are swept when someone signs in: they would pile up.
    uow.session.execute(delete(StaffSession).where(StaffSession.expires_at < now))
    uow.session.flush()
    return token


def resolve(session: Session, token: str, session_version: int) -> tuple[User, datetime] | None:
    """The user a live session token belongs to (and when it was last seen), or ``None``
    if it was ended, expired, idled out, or the user may no longer use the back office."""
    now = utcnow()
    row = session.execute(
        select(User, StaffSession.last_seen_at)
        .join(StaffSession, StaffSession.user_id == User.id)
        .where(StaffSession.id == _key(token), StaffSession.expires_at > now)
    ).first()
    if row is None:
        return None
    user, last_seen_at = row
    if (
        now - last_seen_at > IDLE_TIMEOUT
        or user.session_version != session_version
        or not permissions.can_use_back_office(user)
    ):
        return None
    return user, last_seen_at


def needs_touch(last_seen_at: datetime) -> bool:
    return utcnow() - last_seen_at > _TOUCH_EVERY


def touch(uow: UnitOfWork, token: str) -> None:
    """Record that the session is in use (keeps it from idling out)."""
    uow.session.execute(
        update(StaffSession).where(StaffSession.id == _key(token)).values(last_seen_at=utcnow())
    )


def end(uow: UnitOfWork, token: str) -> None:
    """End one session, for every copy of its cookie."""
    uow.session.execute(delete(StaffSession).where(StaffSession.id == _key(token)))


def end_others(uow: UnitOfWork, *, user_id: int, keep: str | None) -> None:
    """End every session of ``user_id`` but the one holding ``keep``."""
    stmt = delete(StaffSession).where(StaffSession.user_id == user_id)
    if keep is not None:
        stmt = stmt.where(StaffSession.id != _key(keep))
    uow.session.execute(stmt)
