"""What editors do to tags themselves: rename, merge two into one, delete.

Each is an :class:`~cms.actions.Action`, audited under its own name. They change what
every article carrying the tag shows, so those articles' versions move (their ETags with
them); their revisions are left as they were saved, as history is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from sqlalchemy import delete, insert, literal, select, update
from sqlalchemy.orm import Session

from cms import permissions
from cms.actions import Action
from cms.articles import tag_counts
from cms.articles.models import Article, Tag, article_tags
from cms.articles.tags import clean_tags, tag_slug
from cms.audit import service as audit
from cms.db import UnitOfWork
from cms.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from cms.webhooks import outbox

TAG_NOT_FOUND = "Tag not found (deleted or merged meanwhile?)"


@dataclass(frozen=True)
class RenameTag(Action[Tag]):
    """Give a tag another name. A name that is another tag's already is a
    :class:`Conflict`: merge the two instead."""

    tag_id: int
    new_name: str
    name: ClassVar[str] = "tag.rename"

    def __call__(self, uow: UnitOfWork) -> Tag:
        session = uow.session
        tag = _locked(uow, self.tag_id)
        cleaned = clean_tags([self.new_name])
        if not cleaned:
            raise InvalidInput("name", "Give the tag a name")
        new_name, new_slug = cleaned[0], tag_slug(cleaned[0])
        if new_name == tag.name:
            return tag
        taken = session.scalar(select(Tag.id).where(Tag.slug == new_slug, Tag.id != tag.id))
        if taken is not None:
            raise Conflict(f"A tag named like “{new_name}” exists already: merge into it instead")
        old_name = tag.name
        _touch_articles(session, tag.id)
        tag.name, tag.slug = new_name, new_slug
        session.flush()
        audit.record(
            uow,
            action=self.name,
            object_type="tag",
            object_id=tag.id,
            object_repr=new_name,
            changes={"name": (old_name, new_name)},
        )
        outbox.tag_changed(
            uow,
            outbox.EventType.TAG_RENAMED,
            tag_id=tag.id,
            slug=new_slug,
            name=new_name,
            previous_name=old_name,
        )
        return tag


@dataclass(frozen=True)
class MergeTags(Action[Tag]):
    """Put ``into`` wherever ``source`` is, then remove ``source``."""

    source_id: int
    into_id: int
    name: ClassVar[str] = "tag.merge"

    def __call__(self, uow: UnitOfWork) -> Tag:
        session = uow.session
        if self.source_id == self.into_id:
            raise InvalidInput("into", "Choose another tag to merge into")
        # Both locked in one order, so two opposite merges queue instead of deadlocking.
        first, second = sorted((self.source_id, self.into_id))
        locked = {first: _locked(uow, first), second: _locked(uow, second)}
        source, into = locked[self.source_id], locked[self.into_id]
        source_name = source.name
        _touch_articles(session, source.id)
        already = select(article_tags.c.article_id).where(article_tags.c.tag_id == into.id)
        session.execute(
            insert(article_tags).from_select(
                ["article_id", "tag_id"],
                select(article_tags.c.article_id, literal(into.id))
                .where(article_tags.c.tag_id == source.id)
                .where(article_tags.c.article_id.not_in(already)),
            )
        )
        session.execute(delete(article_tags).where(article_tags.c.tag_id == source.id))
        # An editorial operation, rare: counting the merged tag again is simplest right.
        tag_counts.recount(session, [source.id, into.id])
        session.expire(into)
        session.expunge(source)
        audit.record(
            uow,
            action=self.name,
            object_type="tag",
            object_id=into.id,
            object_repr=into.name,
            changes={"merged": (source_name, into.name)},
        )
        outbox.tag_changed(
            uow,
            outbox.EventType.TAG_MERGED,
            tag_id=into.id,
            slug=into.slug,
            name=into.name,
            merged=source_name,
        )
        return into


@dataclass(frozen=True)
class DeleteTag(Action[None]):
    """Take a tag off every article and remove it."""

    tag_id: int
    name: ClassVar[str] = "tag.delete"

    def __call__(self, uow: UnitOfWork) -> None:
        session = uow.session
        tag = _locked(uow, self.tag_id)
        tag_id, tag_name, tag_slug_ = tag.id, tag.name, tag.slug
        _touch_articles(session, tag_id)
        # Its links go with it (ON DELETE CASCADE), and with them every count of it.
        session.delete(tag)
        session.flush()
        audit.record(
            uow, action=self.name, object_type="tag", object_id=tag_id, object_repr=tag_name
        )
        outbox.tag_changed(uow, outbox.EventType.TAG_DELETED, tag_id=tag_id, slug=tag_slug_)


def _locked(uow: UnitOfWork, tag_id: int) -> Tag:
    if not permissions.can_manage_tags(uow.actor):
        raise PermissionDenied("Only editors and admins may change tags")
    tag = uow.session.scalar(
        select(Tag)
        .where(Tag.id == tag_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if tag is None:
        raise NotFound(TAG_NOT_FOUND)
    return tag


def _touch_articles(session: Session, tag_id: int) -> None:
    """The articles carrying the tag show it: their version (and so their ETag) moves,
    so no cache keeps showing the old name."""
    session.execute(
        update(Article)
        .where(
            Article.id.in_(select(article_tags.c.article_id).where(article_tags.c.tag_id == tag_id))
        )
        .values(version=Article.version + 1)
        .execution_options(synchronize_session=False)
    )
