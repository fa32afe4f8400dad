"""Back-office sessions, kept server-side so that ending one ends it everywhere.

A session lasts :data:`LIFETIME` from sign-in at most, and ends earlier when it sits
unused for :data:`IDLE_TIMEOUT`, when the browser signs out, or when the user's session
version moves on (new password, deactivation, demotion): every check below asks all of
these.
"""

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from cms import permissions
from cms.actions import Action
from cms.actors import Origin
from cms.audit import service as audit
from cms.auth.browsers import browser_name
from cms.auth.models import StaffSession
from cms.db import UnitOfWork, utcnow
from cms.errors import NotFound, PermissionDenied
from cms.users.models import User

LIFETIME = timedelta(hours=8)
IDLE_TIMEOUT = timedelta(hours=2)
# last_seen_at is refreshed at most this often, so reads do not each cost a write.
_TOUCH_EVERY = timedelta(minutes=5)


def _key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def session_id(token: str) -> str:
    """The id a session is listed under (its row's key; the token cannot be read back
    from it)."""
    return _key(token)


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


def owner(session: Session, token: str) -> User | None:
    """The user a session token was issued to, while the session row exists."""
    return session.scalars(
        select(User)
        .join(StaffSession, StaffSession.user_id == User.id)
        .where(StaffSession.id == _key(token))
    ).first()


def end(uow: UnitOfWork, token: str) -> None:
    """End one session, for every copy of its cookie (signing out: audited as
    ``logout``)."""
    row = uow.session.execute(
        select(StaffSession.user_id, User.email)
        .join(User, User.id == StaffSession.user_id)
        .where(StaffSession.id == _key(token))
    ).first()
    uow.session.execute(delete(StaffSession).where(StaffSession.id == _key(token)))
    if row is not None:
        audit.record(
            uow, action="logout", object_type="user", object_id=row.user_id, object_repr=row.email
        )


def end_others(uow: UnitOfWork, *, user_id: int, keep: str | None) -> int:
    """End every session of ``user_id`` but the one holding ``keep``; how many ended."""
    stmt = delete(StaffSession).where(StaffSession.user_id == user_id)
    if keep is not None:
        stmt = stmt.where(StaffSession.id != _key(keep))
    ended: int = uow.session.execute(stmt).rowcount  # type: ignore[attr-defined]
    return ended


# Where an account is signed in, as its owner and admins see it


@dataclass(frozen=True)
class SignedIn:
    """One live back-office session, as listed on the account and user pages."""

    id: str
    browser: str
    user_agent: str
    address: str | None
    first_seen: datetime
    last_seen: datetime
    current: bool


def signed_in(session: Session, user_id: int, current_token: str | None) -> list[SignedIn]:
    """``user_id``'s live sessions, the most recently used first; ``current`` marks the
    one holding ``current_token`` (the browser asking)."""
    now = utcnow()
    current = _key(current_token) if current_token else None
    rows: Sequence[StaffSession] = session.scalars(
        select(StaffSession)
        .where(
            StaffSession.user_id == user_id,
            StaffSession.expires_at > now,
            StaffSession.last_seen_at > now - IDLE_TIMEOUT,
        )
        .order_by(StaffSession.last_seen_at.desc(), StaffSession.id)
    ).all()
    return [
        SignedIn(
            id=row.id,
            browser=browser_name(row.user_agent),
            user_agent=row.user_agent,
            address=row.address,
            first_seen=row.created_at,
            last_seen=row.last_seen_at,
            current=row.id == current,
        )
        for row in rows
    ]


def _owner_for(uow: UnitOfWork, user_id: int) -> User:
    if not permissions.can_manage_sign_ins(uow.actor, user_id):
        raise PermissionDenied("Only admins may end someone else's sessions")
    user = uow.session.get(User, user_id)
    if user is None:
        raise NotFound("No such user")
    return user


@dataclass(frozen=True, kw_only=True)
class EndSession(Action[None]):
    """End one of ``user_id``'s sessions (``session_id`` as listed by :func:`signed_in`),
    from their account page or, for an admin, from the user's page."""

    name: ClassVar[str] = "session_ended"
    user_id: int
    session_id: str

    def __call__(self, uow: UnitOfWork) -> None:
        user = _owner_for(uow, self.user_id)
        row = uow.session.scalars(
            select(StaffSession).where(
                StaffSession.id == self.session_id, StaffSession.user_id == user.id
            )
        ).first()
        if row is None:
            raise NotFound("That session has already ended")
        ended = f"{browser_name(row.user_agent)} from {row.address or 'an unknown address'}"
        uow.session.delete(row)
        audit.record(
            uow,
            action=self.name,
            object_type="user",
            object_id=user.id,
            object_repr=user.email,
            changes={"session": (ended, None)},
        )


@dataclass(frozen=True, kw_only=True)
class EndOtherSessions(Action[User]):
    """Sign ``user_id`` out everywhere but the session holding ``keep`` (the caller's
    own; ``None``: everywhere). Every API token issued to the account ends too: they
    carry its session version, which moves on, so the caller must let the kept browser
    follow it (``admin.auth.keep_signed_in``)."""

    name: ClassVar[str] = "sessions_ended"
    user_id: int
    keep: str | None = None

    def __call__(self, uow: UnitOfWork) -> User:
        user = _owner_for(uow, self.user_id)
        ended = end_others(uow, user_id=user.id, keep=self.keep)
        kept = 0 if self.keep is None else 1
        user.session_version = (user.session_version or 0) + 1
        uow.session.flush()
        audit.record(
            uow,
            action=self.name,
            object_type="user",
            object_id=user.id,
            object_repr=user.email,
            changes={"sessions": (ended + kept, kept), "api_tokens": ("valid", "ended")},
        )
        return user
