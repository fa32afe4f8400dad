"""What editors do to articles, one class per action (see :mod:`cms.actions`).

Each action checks :mod:`cms.permissions`, changes the row, and records a numbered
revision and an audit entry under its own name, in the unit of work it is called with.
The REST API, the back office and the command line build the same action from what they
were sent and run it with :meth:`cms.db.Database.run`.

The publication state is decided here and nowhere else. An article is a draft (no
publication time), scheduled (published, its time still to come) or published; see
:func:`cms.articles.models.state_of`. Restoring a revision brings back content only
(title, body, slug, tags): the state changes only when the restore says so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cached_property
from typing import Any, ClassVar

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from cms import permissions
from cms.actions import Action
from cms.articles import counts, tag_counts
from cms.articles.changes import ArticleChanges, ArticleDraft
from cms.articles.models import (
    Article,
    ArticleRevision,
    ArticleSlug,
    ArticleState,
    ArticleStatus,
    TrashedArticle,
)
from cms.articles.rendering import RENDERER_VERSION, BodyTooComplex, render_markdown
from cms.articles.retention import apply_retention
from cms.articles.service import (
    etag_matches,
    get_revision,
    get_visible_article,
    revision_tags,
    trash_cutoff,
)
from cms.articles.slugs import available_slug, slug_from_title
from cms.articles.tags import clean_tags, tags_named
from cms.audit import service as audit
from cms.changes import Unset
from cms.db import UnitOfWork, utcnow
from cms.errors import Conflict, InvalidInput, NotFound, PermissionDenied, PreconditionFailed
from cms.fields import Body, PublicationTime, Slug, Title, validated
from cms.media.markup import responsive_images
from cms.media.service import existing_asset, usable_cover
from cms.users.models import User
from cms.webhooks import outbox

SLUG_TAKEN = "Slug already in use by another article; choose another"
STALE = "The article changed since you read it; read it again and reapply your change"
DRAFT_HAS_NO_TIME = (
    "A draft has no publication time. To schedule it, send status=published with a "
    "future published_at; to publish it now, send status=published."
)
# Each failed attempt means another writer committed that slug meanwhile.
_SLUG_ATTEMPTS = 20


# Writing an article


@dataclass(frozen=True, kw_only=True)
class CreateArticle(Action[Article]):
    """Write a new article credited to ``author_id`` (default: the actor).

    Without an explicit slug one is made from the title, suffixed ``-2``, ``-3``… on
    collision (slugs other articles had before count as taken), retrying if a concurrent
    writer takes the same one first. An explicit slug that another article had before is
    reclaimed: that article's redirect from it ends.
    """

    name: ClassVar[str] = "create"
    draft: ArticleDraft
    author_id: int | None = None

    @cached_property
    def _body_html(self) -> str:
        return _render(validated(Body, "body", self.draft.body))

    def prepare(self) -> None:
        """Render the body before the transaction begins."""
        self._body_html  # noqa: B018 (computed and kept)

    def __call__(self, uow: UnitOfWork) -> Article:
        session, actor, draft = uow.session, uow.actor, self.draft
        if not permissions.can_create_article(actor):
            raise PermissionDenied("Sign in to write articles")
        assert actor is not None
        title = validated(Title, "title", draft.title)
        status, published_at = _publication(
            draft.status, draft.published_at, given=True, now=utcnow()
        )
        tags = clean_tags(draft.tags)
        author_id = self.author_id
        if author_id is None:
            if actor.id is None:
                raise InvalidInput("author_id", "Name the author of this article")
            author_id = actor.id
        # Permission first: an author must not learn which user ids exist.
        if not permissions.can_write_as(actor, author_id):
            raise PermissionDenied("You may only write articles as yourself")
        author = session.get(User, author_id)
        if author is None:
            raise NotFound("User does not exist")
        article = Article(
            title=title,
            body=validated(Body, "body", draft.body),
            body_html=responsive_images(session, self._body_html),
            rendered_with=RENDERER_VERSION,
            status=status,
            published_at=published_at,
            # By id, not relationship: linking the author would cascade this
            # not-yet-inserted article into the session before its slug is settled.
            author_id=author.id,
            cover_image_id=usable_cover(session, actor=actor, asset_id=draft.cover_image_id),
        )
        if draft.slug is not None:
            article.slug = validated(Slug, "slug", draft.slug)
            _reclaim_retired_slug(uow, article.slug, for_article=None)
            if not _insert(session, article):
                raise Conflict(SLUG_TAKEN)
        else:
            base = slug_from_title(title)
            for _ in range(_SLUG_ATTEMPTS):
                article.slug = available_slug(session, base)
                if _insert(session, article):
                    break
            else:
                raise Conflict("Could not find a free slug for this title; try again")
        article.tags = tags_named(session, tags)
        session.flush()
        tag_counts.apply(session, None, tag_counts.tagging(article))
        counts.apply(session, None, counts.counted(article))
        _record(
            uow,
            article,
            self.name,
            changes={field: (None, value) for field, value in _tracked(article).items()},
        )
        return article


@dataclass(frozen=True, kw_only=True)
class UpdateArticle(Action[Article]):
    """Apply ``changes`` to an article the actor may edit.

    ``if_match`` (an ETag the caller read) must still be current, or nothing changes
    (:class:`PreconditionFailed`). A change of state is recorded under the name of what
    happened (``publish``, ``schedule``, ``unpublish``); anything else is ``update``. A save
    that changes nothing writes nothing: no revision, no entry.
    """

    name: ClassVar[str] = "update"
    article_id: int
    changes: ArticleChanges
    if_match: str | None = None
    # The state to move it to, besides ``changes`` (the back office's form says it in
    # words: draft, scheduled, published).
    publication: Publication | None = None
    # The version the editor's form was opened at; a newer one is refused (see
    # :class:`ChangedSince`). The API uses ``if_match`` instead.
    opened_version: int | None = None

    @cached_property
    def _body_html(self) -> str | None:
        if isinstance(self.changes.body, Unset):
            return None
        return _render(validated(Body, "body", self.changes.body))

    def prepare(self) -> None:
        """Render the new body (if any) before the transaction begins."""
        self._body_html  # noqa: B018 (computed and kept)

    def __call__(self, uow: UnitOfWork) -> Article:
        article = get_article_for_change(uow, self.article_id)
        changes = self.changes
        if self.publication is not None:
            state = self.publication.changes(article)
            changes = replace(changes, status=state.status, published_at=state.published_at)
        return _edit(
            uow,
            article,
            changes,
            body_html=self._body_html,
            if_match=self.if_match,
            opened_version=self.opened_version,
            name=None,
        )


@dataclass(frozen=True, kw_only=True)
class PublishArticle(Action[Article]):
    """Make the article public now. A time still to come is replaced by now; a time that
    has passed (a back-dated article) is kept."""

    name: ClassVar[str] = "publish"
    article_id: int
    if_match: str | None = None

    def __call__(self, uow: UnitOfWork) -> Article:
        article = get_article_for_change(uow, self.article_id)
        changes = Publication(ArticleState.PUBLISHED).changes(article)
        return _edit(uow, article, changes, if_match=self.if_match, name=self.name)


@dataclass(frozen=True, kw_only=True)
class ScheduleArticle(Action[Article]):
    """Publish the article at ``at``, a time still to come: it appears by itself then."""

    name: ClassVar[str] = "schedule"
    article_id: int
    at: datetime
    if_match: str | None = None

    def __call__(self, uow: UnitOfWork) -> Article:
        article = get_article_for_change(uow, self.article_id)
        changes = Publication(ArticleState.SCHEDULED, self.at).changes(article)
        return _edit(uow, article, changes, if_match=self.if_match, name=self.name)


@dataclass(frozen=True, kw_only=True)
class UnpublishArticle(Action[Article]):
    """Take the article off the public site (or out of the schedule): a draft again,
    without a publication time."""

    name: ClassVar[str] = "unpublish"
    article_id: int
    if_match: str | None = None

    def __call__(self, uow: UnitOfWork) -> Article:
        article = get_article_for_change(uow, self.article_id)
        changes = ArticleChanges(status=ArticleStatus.DRAFT)
        return _edit(uow, article, changes, if_match=self.if_match, name=self.name)


@dataclass(frozen=True)
class Publication:
    """A publication state chosen for an article: a draft, published (now, or at ``at``,
    a time that has passed), or scheduled for ``at``, a time to come."""

    state: ArticleState
    at: datetime | None = None

    def changes(self, article: Article | None) -> ArticleChanges:
        """What moves ``article`` (``None``: a new one) into this state."""
        now = utcnow()
        at = self.at
        stored = article.published_at if article is not None else None
        # Forms show times to the second: the stored time, so shown, is the stored time.
        if at is not None and stored is not None and at == stored.replace(microsecond=0):
            at = stored
        if self.state is ArticleState.DRAFT:
            return ArticleChanges(status=ArticleStatus.DRAFT, published_at=None)
        if self.state is ArticleState.SCHEDULED:
            if at is None or at <= now:
                raise InvalidInput("published_at", "Scheduling needs a time in the future")
            return ArticleChanges(status=ArticleStatus.PUBLISHED, published_at=at)
        if at is not None:
            if at > now:
                raise InvalidInput(
                    "published_at", "A time still to come schedules the article: schedule it"
                )
            return ArticleChanges(status=ArticleStatus.PUBLISHED, published_at=at)
        # Published now: a time to come becomes now, a time that has passed is kept.
        if article is not None and article.state_at(now) is ArticleState.PUBLISHED:
            return ArticleChanges(status=ArticleStatus.PUBLISHED)
        return ArticleChanges(status=ArticleStatus.PUBLISHED, published_at=None)


@dataclass(frozen=True, kw_only=True)
class RestoreRevision(Action[Article]):
    """Make revision ``number``'s content (title, body, slug, tags) current again, as a
    new revision. The publication state stays as it is unless ``publication`` says what
    it becomes: restoring a draft revision of a published article keeps it published."""

    name: ClassVar[str] = "restore"
    article_id: int
    number: int
    publication: Publication | None = None
    if_match: str | None = None

    def __call__(self, uow: UnitOfWork) -> Article:
        revision = get_revision(
            uow.session, viewer=uow.actor, article_id=self.article_id, number=self.number
        )
        article = get_article_for_change(uow, self.article_id)
        state = self.publication.changes(article) if self.publication else ArticleChanges()
        changes = ArticleChanges(
            title=revision.title,
            body=revision.body,
            slug=revision.slug,
            tags=tuple(revision_tags(revision)),
            status=state.status,
            published_at=state.published_at,
        )
        body_html = None if revision.body == article.body else _render(revision.body)
        return _edit(
            uow,
            article,
            changes,
            body_html=body_html,
            if_match=self.if_match,
            name=self.name,
        )


def restore_preview(
    session: Session, *, viewer: Any, article_id: int, number: int
) -> dict[str, tuple[Any, Any]]:
    """What restoring revision ``number`` would change, field by field (current, restored),
    the publication state aside; for the confirmation page."""
    revision = get_revision(session, viewer=viewer, article_id=article_id, number=number)
    article = get_visible_article(session, viewer=viewer, article_id=article_id)
    current = _tracked(article)
    restored = {
        "title": revision.title,
        "slug": revision.slug,
        "body": revision.body,
        "tags": sorted(revision_tags(revision)),
    }
    return {
        field: (current[field], value)
        for field, value in restored.items()
        if current[field] != value
    }


# Deleting, and the trash


@dataclass(frozen=True, kw_only=True)
class DeleteArticle(Action[None]):
    """Move an article to the trash: gone from every list and address, restorable (by
    whoever deleted it, or an admin) for :data:`TRASH_DAYS` days with its history."""

    name: ClassVar[str] = "delete"
    article_id: int
    if_match: str | None = None

    def __call__(self, uow: UnitOfWork) -> None:
        session = uow.session
        article = get_article_for_change(uow, self.article_id)
        if self.if_match is not None and not etag_matches(self.if_match, article):
            raise PreconditionFailed(
                "The article changed since you read it; read it again before deleting it"
            )
        if not permissions.can_edit_article(uow.actor, article):
            raise PermissionDenied("You may only delete your own articles")
        retired = session.scalars(
            select(ArticleSlug.slug).where(ArticleSlug.article_id == article.id)
        ).all()
        snapshot = {
            "title": article.title,
            "slug": article.slug,
            "body": article.body,
            "body_html": article.body_html,
            "status": article.status.value,
            "published_at": article.published_at.isoformat() if article.published_at else None,
            "created_at": article.created_at.isoformat(),
            "updated_at": article.updated_at.isoformat(),
            "version": article.version,
            "tags": [tag.name for tag in article.tags],
            "retired_slugs": list(retired),
            "cover_image_id": article.cover_image_id,
        }
        actor = uow.actor
        session.add(
            TrashedArticle(
                id=article.id,
                author_id=article.author_id,
                title=article.title,
                deleted_at=utcnow(),
                deleted_by_id=actor.id if actor is not None else None,
                deleted_by_name=audit.actor_name(actor)[:100],
                snapshot=json.dumps(snapshot, ensure_ascii=False),
            )
        )
        session.delete(article)
        session.flush()
        tag_counts.apply(session, tag_counts.tagging(article), None)
        counts.apply(session, counts.counted(article), None)
        audit.record(
            uow,
            action=self.name,
            object_type="article",
            object_id=self.article_id,
            object_repr=article.title,
        )
        outbox.article_deleted(uow, article)
        _purge_expired(uow)


@dataclass(frozen=True, kw_only=True)
class UndeleteArticle(Action[Article]):
    """Bring a deleted article back from the trash under its id, with its slug when still
    free, in the state it was deleted in."""

    name: ClassVar[str] = "undelete"
    article_id: int

    def __call__(self, uow: UnitOfWork) -> Article:
        session = uow.session
        trashed = _trashed(uow, self.article_id)
        data = json.loads(trashed.snapshot)
        slug = data["slug"]
        if available_slug(session, slug) != slug:
            slug = available_slug(session, f"{slug}-restored")
        status = ArticleStatus(data["status"])
        article = Article(
            id=trashed.id,
            title=data["title"],
            slug=slug,
            body=data["body"],
            body_html=data["body_html"],
            status=status,
            published_at=None if status is ArticleStatus.DRAFT else _time(data["published_at"]),
            created_at=_time(data["created_at"]),
            updated_at=utcnow(),
            author_id=trashed.author_id,
            version=int(data["version"]) + 1,
            cover_image_id=existing_asset(session, data.get("cover_image_id")),
        )
        session.add(article)
        session.delete(trashed)
        session.flush()
        article.tags = tags_named(session, clean_tags(data["tags"]))
        for old in data.get("retired_slugs", []):
            if available_slug(session, old) == old:
                session.add(ArticleSlug(slug=old, article_id=article.id))
        session.flush()
        tag_counts.apply(session, None, tag_counts.tagging(article))
        counts.apply(session, None, counts.counted(article))
        _record(uow, article, self.name)
        return article


@dataclass(frozen=True, kw_only=True)
class PurgeArticle(Action[None]):
    """Delete a trashed article for good, with its history. Cannot be undone."""

    name: ClassVar[str] = "purge"
    article_id: int

    def __call__(self, uow: UnitOfWork) -> None:
        _purge(uow, _trashed(uow, self.article_id, purging=True), self.name)


# What the actions share


def get_article_for_change(uow: UnitOfWork, article_id: int) -> Article:
    """The article ``uow.actor`` may see, locked until the transaction ends (concurrent
    edits queue instead of failing); :class:`NotFound` otherwise."""
    return get_visible_article(
        uow.session, viewer=uow.actor, article_id=article_id, for_update=True
    )


class ChangedSince(Conflict):
    """A save refused because someone saved the article after the editor opened it at
    ``version``."""

    def __init__(self, version: int) -> None:
        super().__init__("The article was saved by someone else since you opened it")
        self.version = version


def _edit(
    uow: UnitOfWork,
    article: Article,
    changes: ArticleChanges,
    *,
    name: str | None,
    body_html: str | None = None,
    if_match: str | None = None,
    opened_version: int | None = None,
) -> Article:
    """The one way an existing article changes: checked, applied as one UPDATE, recorded
    under ``name`` (``None``: named after the change of state, if any). ``article`` is
    locked (:func:`get_article_for_change`)."""
    session, actor = uow.session, uow.actor
    if if_match is not None and not etag_matches(if_match, article):
        raise PreconditionFailed(STALE)
    if not permissions.can_edit_article(actor, article):
        raise PermissionDenied("You may only edit your own articles")
    if opened_version is not None and article.version != opened_version:
        raise ChangedSince(opened_version)
    now = utcnow()
    before = _tracked(article)
    counted = tag_counts.tagging(article)
    counted_as = counts.counted(article)
    before_state = article.state_at(now)
    # New tags are created first: creating one takes a savepoint, which would flush the
    # article's half-applied changes.
    new_tags = None
    if not isinstance(changes.tags, Unset):
        names = clean_tags(changes.tags)
        if sorted(tag.name for tag in article.tags) != sorted(names):
            new_tags = tags_named(session, names)
    # One UPDATE at the end (one version step), not one per query that would autoflush.
    with session.no_autoflush:
        if not isinstance(changes.title, Unset):
            article.title = validated(Title, "title", changes.title)
        if not isinstance(changes.body, Unset):
            body = validated(Body, "body", changes.body)
            if body != article.body:
                article.body = body
                html = body_html if body_html is not None else _render(body)
                article.body_html = responsive_images(session, html)
                article.rendered_with = RENDERER_VERSION
        status = article.status if isinstance(changes.status, Unset) else changes.status
        given = not isinstance(changes.published_at, Unset)
        when = (
            article.published_at
            if isinstance(changes.published_at, Unset)
            else changes.published_at
        )
        article.status, new_time = _publication(ArticleStatus(status), when, given=given, now=now)
        if new_time != article.published_at:
            article.published_at = new_time
        if not isinstance(changes.slug, Unset) and changes.slug != article.slug:
            _change_slug(uow, article, validated(Slug, "slug", changes.slug))
        if new_tags is not None:
            article.tags = new_tags
        if not isinstance(changes.author_id, Unset) and changes.author_id != article.author_id:
            _reassign(uow, article, changes.author_id)
        cover = changes.cover_image_id
        if not isinstance(cover, Unset) and cover != article.cover_image_id:
            article.cover_image_id = usable_cover(session, actor=actor, asset_id=cover)
    after = _tracked(article)
    changed = {
        field: (before[field], after[field]) for field in after if before[field] != after[field]
    }
    if not changed:
        return article
    # Every change touches the row, so its version (and ETag) moves even when only the
    # tags, which live in another table, changed.
    article.updated_at = now
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise Conflict(SLUG_TAKEN) from exc
    except StaleDataError as exc:
        raise Conflict("The article was changed by someone else; reload it and retry") from exc
    tag_counts.apply(session, counted, tag_counts.tagging(article))
    counts.apply(session, counted_as, counts.counted(article))
    if name is None:
        name = transition(before_state, article.state_at(now), "published_at" in changed)
    _record(uow, article, name, changes=changed)
    return article


def transition(before: ArticleState, after: ArticleState, time_changed: bool) -> str:
    """What a save that took an article from ``before`` to ``after`` is called."""
    if after is ArticleState.SCHEDULED and (before is not after or time_changed):
        return "schedule"
    if after is ArticleState.PUBLISHED and before is not after:
        return "publish"
    if after is ArticleState.DRAFT and before is not after:
        return "unpublish"
    return "update"


def _publication(
    status: ArticleStatus, published_at: datetime | None, *, given: bool, now: datetime
) -> tuple[ArticleStatus, datetime | None]:
    """The stored pair for ``status`` and the time asked for: a draft has no time (one
    given explicitly is a mistake worth saying), a published article without one is
    published now."""
    if status is ArticleStatus.DRAFT:
        if given and published_at is not None:
            raise InvalidInput("published_at", DRAFT_HAS_NO_TIME)
        return status, None
    if published_at is None:
        return status, now
    checked: datetime = validated(PublicationTime, "published_at", published_at)
    return status, checked


def _tracked(article: Article) -> dict[str, Any]:
    """The fields a revision and an audit entry speak of."""
    return {
        "title": article.title,
        "slug": article.slug,
        "body": article.body,
        "status": article.status,
        "published_at": article.published_at,
        "tags": sorted(tag.name for tag in article.tags),
        "author_id": article.author_id,
        "cover_image_id": article.cover_image_id,
    }


def _record(
    uow: UnitOfWork,
    article: Article,
    action: str,
    changes: dict[str, tuple[Any, Any]] | None = None,
) -> None:
    """What every save leaves behind, in its own transaction: a revision, an audit entry
    and the outbox events it causes."""
    uow.session.refresh(article, ["author", "cover_image"])
    _save_revision(uow, article)
    audit.record(
        uow,
        action=action,
        object_type="article",
        object_id=article.id,
        object_repr=article.title,
        changes=changes,
    )
    outbox.article_saved(uow, article, action, changes)


def _save_revision(uow: UnitOfWork, article: Article) -> ArticleRevision:
    session, actor = uow.session, uow.actor
    latest = session.scalar(
        select(func.max(ArticleRevision.number)).where(ArticleRevision.article_id == article.id)
    )
    revision = ArticleRevision(
        article_id=article.id,
        number=(latest or 0) + 1,
        version=article.version,
        title=article.title,
        slug=article.slug,
        body=article.body,
        status=article.status,
        published_at=article.published_at,
        tags=json.dumps(sorted(tag.name for tag in article.tags), ensure_ascii=False),
        saved_at=utcnow(),
        saved_by_id=actor.id if actor is not None else None,
        saved_by_name=audit.actor_name(actor)[:100],
    )
    session.add(revision)
    session.flush()
    apply_retention(uow, article.id)
    return revision


def _change_slug(uow: UnitOfWork, article: Article, slug: str) -> None:
    """Move the article to ``slug``; its old slug keeps answering with a redirect."""
    session = uow.session
    _reclaim_retired_slug(uow, slug, for_article=article.id)
    if available_slug(session, slug, exclude_id=article.id) != slug:
        raise Conflict(SLUG_TAKEN)
    session.add(ArticleSlug(slug=article.slug, article_id=article.id, retired_at=utcnow()))
    article.slug = slug


def _reclaim_retired_slug(uow: UnitOfWork, slug: str, *, for_article: int | None) -> None:
    """A slug chosen explicitly that an article had before: its redirect ends here.

    An article going back to a slug of its own always may. Another article's old address
    (still linked from elsewhere, redirecting readers to it) is taken over only by
    someone who may edit that article: otherwise any author could catch its readers.
    The statement runs at once, so the slug is free to every query that follows."""
    session = uow.session
    owner = session.scalar(select(ArticleSlug.article_id).where(ArticleSlug.slug == slug))
    if owner is None:
        return
    if owner != for_article:
        other = session.get(Article, owner)
        allowed = (
            permissions.can_edit_article(uow.actor, other)
            if other is not None
            else permissions.is_staff(uow.actor)
        )
        if not allowed:
            raise Conflict(SLUG_TAKEN)
    session.execute(
        delete(ArticleSlug)
        .where(ArticleSlug.slug == slug)
        .execution_options(synchronize_session=False)
    )


def _reassign(uow: UnitOfWork, article: Article, author_id: int) -> None:
    """Credit ``article`` to another user: staff only."""
    if not permissions.can_write_as(uow.actor, author_id):
        raise PermissionDenied("Only editors and admins may change an article's author")
    author = uow.session.get(User, author_id)
    if author is None:
        raise NotFound("User does not exist")
    # The column too, not only the relationship (which sets it at the flush): the change
    # must be seen before it, or a change of author alone looks like no change at all
    # and is saved with no revision, audit entry or new version.
    article.author_id = author.id
    article.author = author


def _trashed(uow: UnitOfWork, article_id: int, *, purging: bool = False) -> TrashedArticle:
    if purging and not permissions.can_purge_trash(uow.actor):
        raise PermissionDenied("Only admins may delete articles for good")
    trashed = uow.session.get(TrashedArticle, article_id, with_for_update=True)
    if (
        trashed is None
        or trashed.deleted_at < trash_cutoff()
        # Another's deletion is not this caller's to see: it answers as missing.
        or not permissions.can_restore_from_trash(uow.actor, trashed)
    ):
        raise NotFound("No deleted article with that id that you may restore (kept for 30 days)")
    return trashed


def _purge_expired(uow: UnitOfWork) -> int:
    """Purge what has sat in the trash longer than :data:`TRASH_DAYS` (a bounded batch)."""
    expired = uow.session.scalars(
        select(TrashedArticle).where(TrashedArticle.deleted_at < trash_cutoff()).limit(100)
    ).all()
    for trashed in expired:
        _purge(uow, trashed, "expire")
    return len(expired)


def _purge(uow: UnitOfWork, trashed: TrashedArticle, action: str) -> None:
    session = uow.session
    session.execute(delete(ArticleRevision).where(ArticleRevision.article_id == trashed.id))
    session.delete(trashed)
    session.flush()
    audit.record(
        uow, action=action, object_type="article", object_id=trashed.id, object_repr=trashed.title
    )


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _render(body: str) -> str:
    try:
        return render_markdown(body)
    except BodyTooComplex as exc:
        raise InvalidInput("body", str(exc)) from None


def _insert(session: Session, article: Article) -> bool:
    """Insert ``article`` in a savepoint; ``False`` if its slug was taken meanwhile."""
    try:
        with session.begin_nested():
            session.add(article)
    except IntegrityError:
        return False
    return True
