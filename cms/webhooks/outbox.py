"""Writing events to the outbox, in the transaction of the change they tell of.

The editorial actions call :func:`article_saved` (from the one place that records a
save) and :func:`article_deleted`; whatever else wants to tell the world calls
:func:`emit`. Nothing is sent from here: the dispatcher reads the table, so an event
is delivered exactly when its change was committed, even if this process dies a moment
later.

Payloads are thin, for a front end to know what to fetch again: ids, slug, state, the
names of the fields that changed. Never a body, an email, a hash or a token.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import delete

from cms.articles.models import Article, ArticleState, ArticleStatus, state_of
from cms.db import UnitOfWork, utcnow
from cms.webhooks.models import OutboxEvent


class EventType(StrEnum):
    """Every type of event an endpoint can listen for."""

    ARTICLE_PUBLISHED = "article.published"
    ARTICLE_UPDATED = "article.updated"
    ARTICLE_UNPUBLISHED = "article.unpublished"
    ARTICLE_SCHEDULED = "article.scheduled"
    ARTICLE_DELETED = "article.deleted"
    ARTICLE_RESTORED = "article.restored"
    TAG_RENAMED = "tag.renamed"
    TAG_MERGED = "tag.merged"
    TAG_DELETED = "tag.deleted"
    MEDIA_UPLOADED = "media.uploaded"
    MEDIA_UPDATED = "media.updated"
    MEDIA_DELETED = "media.deleted"
    PING = "ping"


EVENT_TYPES = tuple(event_type.value for event_type in EventType)

# Saves named after a change of state (cms.articles.actions.transition) tell of it.
_BY_ACTION = {
    "publish": "article.published",
    "schedule": "article.scheduled",
    "unpublish": "article.unpublished",
}
_BY_NEW_STATE = {
    ArticleState.PUBLISHED: "article.published",
    ArticleState.SCHEDULED: "article.scheduled",
    ArticleState.DRAFT: "article.unpublished",
}

# Set when this process commits an event, so a dispatcher in the same process (the one
# `cms serve` starts) sends it at once instead of at its next poll.
_committed = threading.Event()


def wait_for_events(timeout: float) -> bool:
    """Block until this process commits an event or ``timeout`` seconds pass."""
    woken = _committed.wait(timeout)
    _committed.clear()
    return woken


def emit(
    uow: UnitOfWork,
    event_type: str,
    data: Mapping[str, Any],
    *,
    object_type: str = "",
    object_id: int | None = None,
    due_at: datetime | None = None,
    endpoint_id: int | None = None,
) -> OutboxEvent:
    """Add an event to the outbox in ``uow``'s transaction; it becomes deliverable at
    ``due_at`` (default: now), to ``endpoint_id`` only if given."""
    now = utcnow()
    due = due_at or now
    body = json.dumps(
        {"type": event_type, "timestamp": _iso(due), "data": dict(data)},
        ensure_ascii=False,
        separators=(",", ":"),
    )
    event = OutboxEvent(
        message_id="msg_" + secrets.token_urlsafe(18),
        type=event_type,
        body=body,
        created_at=now,
        due_at=due,
        fanned_out=False,
        object_type=object_type,
        object_id=object_id,
        endpoint_id=endpoint_id,
    )
    uow.session.add(event)
    uow.after_commit(_committed.set)
    return event


def article_saved(
    uow: UnitOfWork,
    article: Article,
    action: str,
    changes: Mapping[str, tuple[Any, Any]] | None = None,
) -> None:
    """The events of a save recorded under ``action`` (``create``, ``update``,
    ``publish``, ``schedule``, ``unpublish``, ``restore``, ``undelete``…).

    A scheduled article also gets its ``article.published``, due at its publication
    time; a save that moves or cancels that time withdraws the one written before."""
    changes = changes or {}
    now = utcnow()
    state = article.state_at(now)
    before = _state_before(article, changes, now, created=action == "create")
    if before is ArticleState.SCHEDULED or state is ArticleState.SCHEDULED:
        _withdraw_pending(uow, article.id, now)
    event_type: str | None
    if action == "undelete":
        event_type = "article.restored"
    elif action in _BY_ACTION:
        event_type = _BY_ACTION[action]
    elif before is not state:
        event_type = (
            None if before is None and state is ArticleState.DRAFT else _BY_NEW_STATE[state]
        )
    elif state is ArticleState.SCHEDULED and "published_at" in changes:
        event_type = "article.scheduled"
    else:
        event_type = "article.updated" if state is ArticleState.PUBLISHED else None
    if event_type is not None:
        emit(
            uow,
            event_type,
            _article_data(article, state, sorted(changes)),
            object_type="article",
            object_id=article.id,
        )
    if state is ArticleState.SCHEDULED:
        emit(
            uow,
            "article.published",
            _article_data(article, ArticleState.PUBLISHED, []),
            object_type="article",
            object_id=article.id,
            due_at=article.published_at,
        )


def article_deleted(uow: UnitOfWork, article: Article) -> None:
    """``article.deleted`` for an article moved to the trash (and its scheduled
    publication, if any, withdrawn)."""
    now = utcnow()
    state = article.state_at(now)
    if state is ArticleState.SCHEDULED:
        _withdraw_pending(uow, article.id, now)
    emit(
        uow,
        "article.deleted",
        _article_data(article, state, []),
        object_type="article",
        object_id=article.id,
    )


def tag_changed(
    uow: UnitOfWork, event_type: EventType, *, tag_id: int, slug: str, **data: Any
) -> None:
    """A tag renamed, merged (``tag_id`` is the one kept) or deleted. The articles it is
    on change too (their ETags move); a front end refetches the tag's pages."""
    emit(
        uow,
        event_type,
        {"id": tag_id, "slug": slug, **data},
        object_type="tag",
        object_id=tag_id,
    )


def media_changed(
    uow: UnitOfWork, event_type: EventType, *, asset_id: int, changed: list[str] | None = None
) -> None:
    """An image uploaded, its description changed, or deleted: its id, and which fields."""
    data: dict[str, Any] = {"id": asset_id}
    if changed is not None:
        data["changed"] = sorted(changed)
    emit(uow, event_type, data, object_type="media", object_id=asset_id)


def _state_before(
    article: Article, changes: Mapping[str, tuple[Any, Any]], now: datetime, *, created: bool
) -> ArticleState | None:
    if created:
        return None
    status = changes["status"][0] if "status" in changes else article.status
    published_at = changes["published_at"][0] if "published_at" in changes else article.published_at
    return state_of(ArticleStatus(status), published_at, now)


def _withdraw_pending(uow: UnitOfWork, article_id: int, now: datetime) -> None:
    uow.session.execute(
        delete(OutboxEvent)
        .where(
            OutboxEvent.object_type == "article",
            OutboxEvent.object_id == article_id,
            OutboxEvent.fanned_out.is_(False),
            OutboxEvent.due_at > now,
        )
        .execution_options(synchronize_session=False)
    )


def _article_data(article: Article, state: ArticleState, changed: list[str]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": article.id,
        "slug": article.slug,
        "state": state.value,
        "published_at": _iso(article.published_at) if article.published_at else None,
        "author_id": article.author_id,
    }
    if changed:
        data["changed"] = changed
    return data


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
