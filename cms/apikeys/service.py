"""Creating, checking, rotating and revoking API keys.

A key acts for its owner, capped by the owner's role (the permission policy sees the
owner) and narrowed by the key's scopes (checked where the request enters, see
:mod:`cms.deps`); it stops working when the owner is deactivated or deleted, when it
expires or is revoked, on the next request, on every worker: nothing is cached. A key
without an owner is an admin's integration key.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cached_property
from typing import Any, ClassVar, Protocol

from sqlalchemy import Engine, or_, select, update
from sqlalchemy.orm import Session

from cms import permissions
from cms.actions import Action
from cms.actors import Actor
from cms.apikeys import keys
from cms.apikeys.keys import PresentedKey
from cms.apikeys.models import ApiKey
from cms.audit import service as audit
from cms.db import UnitOfWork, utcnow
from cms.errors import InvalidInput, NotAuthenticated, NotFound, PermissionDenied
from cms.roles import Role
from cms.users.models import User

logger = logging.getLogger(__name__)

INVALID_KEY = "Invalid, expired or revoked API key"
# last_used_at is written at most this often per key.
TOUCH_INTERVAL = timedelta(minutes=1)
LONGEST_GRACE_SECONDS = 30 * 86_400
_NO_SUCH_KEY = keys.digest("")


class Scope(StrEnum):
    CONTENT_READ = "content:read"  # published content only: safe in a browser
    DRAFTS_READ = "drafts:read"  # what the owner may read: previews, builds
    ARTICLES_WRITE = "articles:write"
    MEDIA_WRITE = "media:write"
    WEBHOOKS_MANAGE = "webhooks:manage"


# The least role an owner needs for a key to carry each scope.
_LEAST_ROLE = {Scope.WEBHOOKS_MANAGE: Role.ADMIN}
_ORDER = [Role.AUTHOR, Role.EDITOR, Role.ADMIN]


@dataclass(frozen=True)
class KeyHolder:
    """Who a request with a key acts as: the owner's fields (an :class:`Actor`), or,
    for an integration key, an admin's authority without an account."""

    key_id: str
    key_name: str
    scopes: frozenset[str]
    id: int | None
    role: Role
    is_active: bool
    session_version: int
    name: str

    @property
    def display_name(self) -> str:
        return f"{self.name} (API key {self.key_name})"

    def allows(self, scope: Scope) -> bool:
        return scope.value in self.scopes


class _Executes(Protocol):
    def execute(self, statement: Any, /) -> Any: ...


def authenticate(runner: _Executes, engine: Engine, presented: PresentedKey) -> KeyHolder:
    """The holder of ``presented``, in one statement; :class:`NotAuthenticated` (one
    message for an unknown id, a wrong secret, an expired or revoked key, an owner
    deactivated) otherwise. ``runner`` is a connection or a session."""
    now = utcnow()
    row = runner.execute(
        select(
            ApiKey.id,
            ApiKey.name,
            ApiKey.owner_id,
            ApiKey.scopes,
            ApiKey.secret_hash,
            ApiKey.previous_secret_hash,
            ApiKey.previous_expires_at,
            ApiKey.expires_at,
            ApiKey.revoked_at,
            ApiKey.last_used_at,
            User.role,
            User.is_active,
            User.session_version,
            User.name.label("owner_name"),
        )
        .outerjoin(User, User.id == ApiKey.owner_id)
        .where(ApiKey.id == presented.key_id)
    ).first()
    if row is None:
        # The same comparison as for a known id, so both failures take the same time.
        keys.compare(_NO_SUCH_KEY, presented.secret_digest)
        raise NotAuthenticated(INVALID_KEY)
    if not _secret_matches(row, presented.secret_digest, now):
        raise NotAuthenticated(INVALID_KEY)
    if row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
        raise NotAuthenticated(INVALID_KEY)
    if row.owner_id is not None and not row.is_active:
        raise NotAuthenticated(INVALID_KEY)
    if row.last_used_at is None or row.last_used_at <= now - TOUCH_INTERVAL:
        _touch_later(engine, row.id, now)
    scopes = frozenset(row.scopes.split())
    if row.owner_id is None:
        return KeyHolder(row.id, row.name, scopes, None, Role.ADMIN, True, 0, row.name)
    return KeyHolder(
        row.id,
        row.name,
        scopes,
        row.owner_id,
        Role(row.role),
        row.is_active,
        row.session_version,
        row.owner_name or f"User {row.owner_id}",
    )


def _secret_matches(row: Any, secret_digest: str, now: datetime) -> bool:
    current = keys.compare(row.secret_hash, secret_digest)
    previous = (
        row.previous_secret_hash is not None
        and row.previous_expires_at is not None
        and row.previous_expires_at > now
        and keys.compare(row.previous_secret_hash, secret_digest)
    )
    return current or previous


# last_used_at, off the read path: one background thread per process writes it, at
# most once a minute per key (the UPDATE's condition holds that across workers too).
_touches = ThreadPoolExecutor(max_workers=1, thread_name_prefix="apikey-touch")
_touched: dict[str, datetime] = {}
_touched_lock = threading.Lock()
_pending: list[Future[None]] = []


def _touch_later(engine: Engine, key_id: str, now: datetime) -> None:
    with _touched_lock:
        last = _touched.get(key_id)
        if last is not None and last > now - TOUCH_INTERVAL:
            return
        _touched[key_id] = now
        _pending[:] = [future for future in _pending if not future.done()]
        _pending.append(_touches.submit(_touch, engine, key_id, now))


def _touch(engine: Engine, key_id: str, now: datetime) -> None:
    try:
        with engine.connect() as connection:
            connection.execute(
                update(ApiKey)
                .where(
                    ApiKey.id == key_id,
                    or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at <= now - TOUCH_INTERVAL),
                )
                .values(last_used_at=now)
            )
            connection.commit()
    except Exception:
        logger.exception("could not record when API key %s was last used", key_id)


def wait_for_touches() -> None:
    """Block until the pending last_used_at writes are done (for tests and shutdown)."""
    with _touched_lock:
        pending = list(_pending)
    for future in pending:
        future.result()


def forget_touches() -> None:
    """Forget which keys this process wrote last_used_at for (tests)."""
    with _touched_lock:
        _touched.clear()


# Managing keys


@dataclass(frozen=True)
class NewKey:
    """A key just made or rotated, with the only copy of it in clear."""

    api_key: ApiKey
    key: str


def _checked_scopes(scopes: Sequence[str], owner: User | None) -> list[str]:
    if not scopes:
        raise InvalidInput("scopes", "Give a key at least one scope")
    try:
        chosen = sorted({Scope(scope) for scope in scopes})
    except ValueError:
        known = ", ".join(scope.value for scope in Scope)
        raise InvalidInput("scopes", f"Unknown scope; choose from {known}") from None
    if owner is not None:
        for scope in chosen:
            least = _LEAST_ROLE.get(scope, Role.AUTHOR)
            if _ORDER.index(owner.role) < _ORDER.index(least):
                raise InvalidInput(
                    "scopes", f"A key of a user with the {owner.role} role cannot have {scope}"
                )
    return [scope.value for scope in chosen]


@dataclass(frozen=True, kw_only=True)
class CreateKey(Action[NewKey]):
    """Make a key named ``name`` with ``scopes``, owned by ``owner_id`` (``None``: an
    admin's integration key), expiring after ``expires_days`` if given."""

    name: ClassVar[str] = "create_api_key"
    key_name: str
    scopes: tuple[str, ...]
    owner_id: int | None = None
    expires_days: int | None = None

    @cached_property
    def _secret(self) -> str:
        return keys.new_secret()

    def __call__(self, uow: UnitOfWork) -> NewKey:
        actor = uow.actor
        if not (permissions.is_admin(actor) or (actor is not None and actor.id == self.owner_id)):
            raise PermissionDenied("Only admins may make keys for others or without an owner")
        name = self.key_name.strip()
        if not 1 <= len(name) <= 100:
            raise InvalidInput("name", "Give the key a name of 1 to 100 characters")
        owner = None
        if self.owner_id is not None:
            owner = uow.session.get(User, self.owner_id)
            if owner is None or not owner.is_active:
                raise NotFound("No active user to own the key")
        scopes = _checked_scopes(self.scopes, owner)
        if self.expires_days is not None and not 1 <= self.expires_days <= 3650:
            raise InvalidInput("expires", "A key expires after 1 to 3650 days")
        now = utcnow()
        api_key = ApiKey(
            id=keys.new_key_id(),
            name=name,
            owner_id=self.owner_id,
            scopes=" ".join(scopes),
            secret_hash=keys.digest(self._secret),
            created_at=now,
            expires_at=now + timedelta(days=self.expires_days) if self.expires_days else None,
        )
        uow.session.add(api_key)
        uow.session.flush()
        audit.record(
            uow,
            action=self.name,
            object_type="api_key",
            object_repr=f"{api_key.id} {name}",
            changes={"scopes": (None, scopes)},
        )
        return NewKey(api_key=api_key, key=keys.compose(api_key.id, self._secret))


@dataclass(frozen=True, kw_only=True)
class RevokeKey(Action[None]):
    """Stop a key from working, from its next request on."""

    name: ClassVar[str] = "revoke_api_key"
    key_id: str

    def __call__(self, uow: UnitOfWork) -> None:
        api_key = _manageable(uow, self.key_id)
        if api_key.revoked_at is None:
            api_key.revoked_at = utcnow()
        uow.session.flush()
        audit.record(
            uow, action=self.name, object_type="api_key", object_repr=f"{api_key.id} {api_key.name}"
        )


@dataclass(frozen=True, kw_only=True)
class RotateKey(Action[NewKey]):
    """Give a key a new secret; the old one keeps working for ``grace_seconds``."""

    name: ClassVar[str] = "rotate_api_key"
    key_id: str
    grace_seconds: int = 3600

    @cached_property
    def _secret(self) -> str:
        return keys.new_secret()

    def __call__(self, uow: UnitOfWork) -> NewKey:
        if not 0 <= self.grace_seconds <= LONGEST_GRACE_SECONDS:
            raise InvalidInput("grace", "The grace period is 0 to 2592000 seconds (30 days)")
        api_key = _manageable(uow, self.key_id)
        if api_key.revoked_at is not None:
            raise InvalidInput("key", "A revoked key cannot be rotated; make a new one")
        now = utcnow()
        api_key.previous_secret_hash = api_key.secret_hash if self.grace_seconds else None
        api_key.previous_expires_at = (
            now + timedelta(seconds=self.grace_seconds) if self.grace_seconds else None
        )
        api_key.secret_hash = keys.digest(self._secret)
        uow.session.flush()
        audit.record(
            uow, action=self.name, object_type="api_key", object_repr=f"{api_key.id} {api_key.name}"
        )
        return NewKey(api_key=api_key, key=keys.compose(api_key.id, self._secret))


def list_keys(session: Session, viewer: Actor | None) -> Sequence[ApiKey]:
    """The keys ``viewer`` may manage: all of them for an admin, else their own."""
    statement = select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)
    if not permissions.is_admin(viewer):
        if viewer is None or viewer.id is None:
            raise PermissionDenied("Sign in to list your keys")
        statement = statement.where(ApiKey.owner_id == viewer.id)
    return session.scalars(statement).all()


def _manageable(uow: UnitOfWork, key_id: str) -> ApiKey:
    api_key = uow.session.get(ApiKey, key_id, with_for_update=True)
    actor = uow.actor
    if api_key is None or not (
        permissions.is_admin(actor) or (actor is not None and api_key.owner_id == actor.id)
    ):
        raise NotFound("No API key with that id")
    return api_key
