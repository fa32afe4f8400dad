"""Reading media: the assets a caller may see, and whether stored bytes are still in use."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from cms import permissions
from cms.actors import Actor
from cms.articles.models import Article
from cms.db import utcnow
from cms.errors import InvalidInput, NotFound
from cms.media.models import MediaAsset

MEDIA_NOT_FOUND = "Media asset not found"


def list_media(
    session: Session, *, viewer: Actor | None, skip: int = 0, limit: int = 50
) -> Sequence[MediaAsset]:
    """The assets ``viewer`` may see, newest first."""
    query = (
        select(MediaAsset)
        .where(permissions.visible_media(viewer))
        .order_by(MediaAsset.created_at.desc(), MediaAsset.id.desc())
        .offset(skip)
        .limit(limit)
    )
    return session.scalars(query).all()


def get_media(session: Session, *, viewer: Actor | None, asset_id: int) -> MediaAsset:
    """One asset ``viewer`` may see; :class:`NotFound` otherwise (whether or not it exists)."""
    asset = session.get(MediaAsset, asset_id)
    if asset is None or not permissions.can_manage_media(viewer, asset):
        raise NotFound(MEDIA_NOT_FOUND)
    return asset


def stored_mime(connection: Connection, sha256: str) -> str | None:
    """The type of the bytes named ``sha256``, while some asset still uses them."""
    query = select(MediaAsset.mime).where(MediaAsset.sha256 == sha256).limit(1)
    return connection.scalar(query)


def usable_cover(session: Session, *, actor: Actor | None, asset_id: int | None) -> int | None:
    """``asset_id`` checked as an article's cover: an asset ``actor`` may manage (their
    own upload; staff: any), else :class:`InvalidInput`. ``None`` (no cover) passes."""
    if asset_id is None:
        return None
    asset = session.get(MediaAsset, asset_id)
    if asset is None or not permissions.can_manage_media(actor, asset):
        raise InvalidInput(
            "cover_image_id",
            "No image with this id that you may use; upload it first (POST /media/)",
        )
    return asset.id


def existing_asset(session: Session, asset_id: int | None) -> int | None:
    """``asset_id`` if that asset still exists (a trashed article's cover may be gone)."""
    if asset_id is None or session.get(MediaAsset, asset_id) is None:
        return None
    return asset_id


def covers_of(
    session: Session, *, viewer: Actor | None, asset_ids: Sequence[int]
) -> dict[int, list[tuple[int, str]]]:
    """Where each of ``asset_ids`` is an article's cover: ``(article id, title)`` of the
    articles ``viewer`` may see, by asset."""
    if not asset_ids:
        return {}
    rows = session.execute(
        select(Article.cover_image_id, Article.id, Article.title)
        .where(
            Article.cover_image_id.in_(asset_ids),
            permissions.visible_articles(viewer, utcnow()),
        )
        .order_by(Article.id)
    ).all()
    used: dict[int, list[tuple[int, str]]] = {}
    for cover_id, article_id, title in rows:
        if cover_id is not None:
            used.setdefault(cover_id, []).append((article_id, title))
    return used
