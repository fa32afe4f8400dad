"""Reading preview links: what a token opens, and an article's active links.

A token opens exactly one article, the one its link belongs to, while the link is
neither revoked nor expired and the article exists (a link is deleted with its article).
Whoever holds it sees the article's current content, draft or scheduled, as readers
will once it is published; nothing else about the link or the article's state is told.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from cms import permissions
from cms.actors import Actor
from cms.articles.models import Article
from cms.articles.service import get_visible_article
from cms.errors import PermissionDenied
from cms.previews import tokens
from cms.previews.models import DEFAULT_EXPIRES_IN, LONGEST_EXPIRES_IN, PreviewLink

# What the back office offers (the API takes any number of seconds within the bounds).
EXPIRY_CHOICES: tuple[tuple[timedelta, str], ...] = (
    (timedelta(hours=1), "1 hour"),
    (timedelta(days=1), "1 day"),
    (DEFAULT_EXPIRES_IN, "7 days"),
    (LONGEST_EXPIRES_IN, "30 days"),
)
NOT_YOURS = "You may only share previews of your own articles"


def resolve(
    connection: Connection | Session, token: str | None, now: datetime, *, secret: str
) -> int | None:
    """The id of the article ``token`` opens at ``now``, or ``None`` (malformed, forged,
    unknown, revoked or expired, or its article deleted: all alike). A token that is not
    signed with ``secret`` (the site's key) is refused without a query."""
    presented = tokens.parse(secret, token)
    if presented is None:
        return None
    return resolve_presented(connection, presented, now)


def resolve_presented(
    connection: Connection | Session, presented: tokens.PresentedPreview, now: datetime
) -> int | None:
    """:func:`resolve` for a token already parsed (its signature checked)."""
    found: int | None = connection.execute(
        select(Article.id).where(
            permissions.previewable_articles(presented.link_id, presented.secret_digest, now)
        )
    ).scalar()
    return found


def active_links(
    session: Session, *, viewer: Actor | None, article_id: int, now: datetime
) -> Sequence[PreviewLink]:
    """The links of an article ``viewer`` may share previews of that still open it,
    newest first. An article they cannot see: :class:`~cms.errors.NotFound`; one they
    see but may not edit: :class:`~cms.errors.PermissionDenied`."""
    article = get_visible_article(session, viewer=viewer, article_id=article_id)
    if not permissions.can_share_preview(viewer, article):
        raise PermissionDenied(NOT_YOURS)
    return session.scalars(
        select(PreviewLink)
        .where(
            PreviewLink.article_id == article.id,
            PreviewLink.revoked_at.is_(None),
            PreviewLink.expires_at > now,
        )
        .order_by(PreviewLink.created_at.desc(), PreviewLink.id.desc())
    ).all()
