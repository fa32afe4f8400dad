"""Recording and reading the audit trail.

Services call :func:`record` inside the unit of work that makes the change, so an entry
exists exactly when its change was committed. Only admins read the trail.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from cms import permissions
from cms.actors import Actor, Origin
from cms.audit.models import AuditEntry
from cms.db import UnitOfWork, utcnow
from cms.errors import PermissionDenied

# Never written to the trail, whatever a caller passes: only that they changed.
SECRET_FIELDS = frozenset({"password", "hashed_password", "session_version", "token"})
CHANGED = "(changed)"
# Long text (an article body) is recorded as changed, not copied: revisions keep it.
_LONGEST_VALUE = 200


def actor_name(actor: Actor | None) -> str:
    if actor is None:
        return "anonymous"
    if actor.id is None:
        return f"{actor.display_name} (system)"
    return actor.display_name


def record(
    uow: UnitOfWork,
    *,
    action: str,
    object_type: str,
    object_id: int | None = None,
    object_repr: str = "",
    changes: Mapping[str, tuple[Any, Any]] | None = None,
) -> AuditEntry:
    """Add an entry for ``action`` by the unit of work's actor, from its origin."""
    entry = _entry(
        uow.actor,
        uow.origin,
        action=action,
        object_type=object_type,
        object_id=object_id,
        object_repr=object_repr,
        changes=changes,
    )
    uow.session.add(entry)
    return entry


def _entry(
    actor: Actor | None,
    origin: Origin,
    *,
    action: str,
    object_type: str,
    object_id: int | None,
    object_repr: str,
    changes: Mapping[str, tuple[Any, Any]] | None,
) -> AuditEntry:
    return AuditEntry(
        at=utcnow(),
        actor_id=actor.id if actor is not None else None,
        actor_name=actor_name(actor)[:108],
        action=action,
        object_type=object_type,
        object_id=object_id,
        object_repr=object_repr[:255],
        changes=json.dumps(
            {
                field: _shown(field, before, after)
                for field, (before, after) in (changes or {}).items()
            },
            ensure_ascii=False,
            sort_keys=True,
        ),
        surface=origin.surface,
        address=origin.address,
        request_id=origin.request_id,
    )


def _shown(field: str, before: Any, after: Any) -> Any:
    if field in SECRET_FIELDS:
        return CHANGED
    values = [_plain(before), _plain(after)]
    if any(isinstance(value, str) and len(value) > _LONGEST_VALUE for value in values):
        return CHANGED
    return values


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def entries_query(
    viewer: Actor | None,
    *,
    actor_id: int | None = None,
    action: str | None = None,
    object_type: str | None = None,
    object_id: int | None = None,
) -> Select[AuditEntry]:
    """The entries ``viewer`` may read, newest first, filtered as asked."""
    if not permissions.can_read_audit(viewer):
        raise PermissionDenied("Only admins may read the audit trail")
    stmt = select(AuditEntry)
    if actor_id is not None:
        stmt = stmt.where(AuditEntry.actor_id == actor_id)
    if action is not None:
        stmt = stmt.where(AuditEntry.action == action)
    if object_type is not None:
        stmt = stmt.where(AuditEntry.object_type == object_type)
    if object_id is not None:
        stmt = stmt.where(AuditEntry.object_id == object_id)
    return stmt.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())


def latest(session: Session, viewer: Actor | None, limit: int) -> Sequence[AuditEntry]:
    return session.scalars(entries_query(viewer).limit(limit)).all()
