"""Sharing and revoking preview links (see :mod:`cms.actions`): each checks the policy,
changes the row and writes an audit entry on the article, in the unit of work."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import ClassVar

from sqlalchemy import delete, func, select

from cms import permissions
from cms.actions import Action
from cms.articles.models import ArticleState
from cms.articles.service import get_visible_article
from cms.audit import service as audit
from cms.db import UnitOfWork, utcnow
from cms.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from cms.previews import tokens
from cms.previews.models import (
    DEFAULT_EXPIRES_IN,
    LONGEST_EXPIRES_IN,
    SHORTEST_EXPIRES_IN,
    PreviewLink,
)
from cms.previews.service import NOT_YOURS

# Links one article may have open at once; past it, revoke some first.
MOST_ACTIVE_LINKS = 100
# Revoked and expired links are kept this long (the article's page can say who shared
# what), then dropped when the article is shared again.
KEPT_AFTER_END = timedelta(days=30)
EXPIRES_IN_RULE = (
    f"expires_in must be between {int(SHORTEST_EXPIRES_IN.total_seconds())} seconds and "
    f"{int(LONGEST_EXPIRES_IN.total_seconds())} seconds (30 days)"
)
NO_SUCH_LINK = "No such preview link on this article"


@dataclass(frozen=True)
class SharedPreview:
    """A new link, and its token: shown this once, never stored. ``slug`` is the
    article's when it was shared (a front end's preview address carries it)."""

    link: PreviewLink
    token: str
    slug: str


def checked_expiry(expires_in: timedelta) -> timedelta:
    """``expires_in`` if it is within the bounds, else :class:`InvalidInput`."""
    if not SHORTEST_EXPIRES_IN <= expires_in <= LONGEST_EXPIRES_IN:
        raise InvalidInput("expires_in", EXPIRES_IN_RULE)
    return expires_in


@dataclass(frozen=True, kw_only=True)
class SharePreview(Action[SharedPreview]):
    """Make a preview link for a draft or scheduled article the actor may edit, valid for
    ``expires_in`` (at most 30 days). The token is signed with ``site_key``."""

    name: ClassVar[str] = "share_preview"
    article_id: int
    site_key: str = field(repr=False)
    expires_in: timedelta = DEFAULT_EXPIRES_IN

    def __call__(self, uow: UnitOfWork) -> SharedPreview:
        session, actor = uow.session, uow.actor
        expires_in = checked_expiry(self.expires_in)
        # Locked: a concurrent delete of the article waits, or wins and this is a 404.
        article = get_visible_article(
            session, viewer=actor, article_id=self.article_id, for_update=True
        )
        if not permissions.can_share_preview(actor, article):
            raise PermissionDenied(NOT_YOURS)
        now = utcnow()
        if article.state_at(now) is ArticleState.PUBLISHED:
            raise Conflict("This article is published: share its address instead of a preview")
        session.execute(
            delete(PreviewLink).where(
                PreviewLink.article_id == article.id,
                func.coalesce(PreviewLink.revoked_at, PreviewLink.expires_at)
                < now - KEPT_AFTER_END,
            )
        )
        active = session.scalar(
            select(func.count())
            .select_from(PreviewLink)
            .where(
                PreviewLink.article_id == article.id,
                PreviewLink.revoked_at.is_(None),
                PreviewLink.expires_at > now,
            )
        )
        if (active or 0) >= MOST_ACTIVE_LINKS:
            raise Conflict(
                f"This article has {MOST_ACTIVE_LINKS} preview links open; revoke some first"
            )
        secret = tokens.new_secret()
        link = PreviewLink(
            article_id=article.id,
            secret_hash=tokens.digest(secret),
            created_by_id=actor.id if actor is not None else None,
            created_by_name=audit.actor_name(actor),
            created_at=now,
            expires_at=now + expires_in,
        )
        session.add(link)
        session.flush()
        audit.record(
            uow,
            action=self.name,
            object_type="article",
            object_id=article.id,
            object_repr=article.title,
            changes={"preview_link": (None, link.id), "expires_at": (None, link.expires_at)},
        )
        token = tokens.compose(self.site_key, link.id, secret)
        return SharedPreview(link=link, token=token, slug=article.slug)


@dataclass(frozen=True, kw_only=True)
class RevokePreview(Action[PreviewLink]):
    """End a preview link at once (on every worker: nothing is cached). ``article_id``,
    when given, must be the link's article."""

    name: ClassVar[str] = "revoke_preview"
    link_id: int
    article_id: int | None = None

    def __call__(self, uow: UnitOfWork) -> PreviewLink:
        session, actor = uow.session, uow.actor
        link = session.scalar(
            select(PreviewLink).where(PreviewLink.id == self.link_id).with_for_update()
        )
        if link is None or (self.article_id is not None and link.article_id != self.article_id):
            raise NotFound(NO_SUCH_LINK)
        # Another author's article: not found, as the article itself would be.
        article = get_visible_article(session, viewer=actor, article_id=link.article_id)
        if not permissions.can_share_preview(actor, article):
            raise PermissionDenied(NOT_YOURS)
        if link.revoked_at is not None:
            raise NotFound(NO_SUCH_LINK)
        now: datetime = utcnow()
        link.revoked_at = now
        link.revoked_by_id = actor.id if actor is not None else None
        link.revoked_by_name = audit.actor_name(actor)
        session.flush()
        audit.record(
            uow,
            action=self.name,
            object_type="article",
            object_id=article.id,
            object_repr=article.title,
            changes={"preview_link": (link.id, None)},
        )
        return link
