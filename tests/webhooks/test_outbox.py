"""The outbox: each editorial action writes its events in its own transaction, thin."""

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from cms.articles import actions
from cms.articles.changes import ArticleChanges, ArticleDraft
from cms.articles.models import Article, ArticleRevision, ArticleStatus, Tag
from cms.articles.tag_actions import DeleteTag, MergeTags, RenameTag
from cms.audit.models import AuditEntry
from cms.db import Database, utcnow
from cms.media.library import MediaLibrary
from cms.media.storage import LocalStorage
from cms.roles import Role
from cms.users.models import User
from cms.webhooks.models import OutboxEvent
from tests.conftest import UserFactory, failing_commits
from tests.media import files


def events(database: Database) -> list[tuple[str, dict[str, Any]]]:
    """(type, data) of every event not yet fanned out, in the order written."""
    with database.sessionmaker() as session:
        rows = session.scalars(select(OutboxEvent).order_by(OutboxEvent.id)).all()
    return [(row.type, json.loads(row.body)["data"]) for row in rows]


def types(database: Database) -> list[str]:
    return [event_type for event_type, _ in events(database)]


def create(database: Database, actor: User, **fields: Any) -> Article:
    article: Article = database.run(
        actions.CreateArticle(draft=ArticleDraft(title="Hello", **fields)), actor=actor
    )
    return article


@pytest.fixture
def editor(make_user: UserFactory) -> User:
    return make_user(role=Role.EDITOR, email="secret.editor@example.com")


def test_publishing_writes_one_thin_event(database: Database, editor: User) -> None:
    article = create(database, editor, body="Private words")
    assert events(database) == []  # a draft tells nobody
    database.run(actions.PublishArticle(article_id=article.id), actor=editor)
    [(event_type, data)] = events(database)
    assert event_type == "article.published"
    assert data["id"] == article.id and data["slug"] == "hello"
    assert data["state"] == "published" and data["author_id"] == editor.id
    with database.sessionmaker() as session:
        body = session.scalars(select(OutboxEvent.body)).one()
    assert "secret.editor" not in body and "Private words" not in body
    assert set(json.loads(body)) == {"type", "timestamp", "data"}


def test_a_failed_commit_leaves_no_event_revision_or_entry(
    database: Database, editor: User
) -> None:
    article = create(database, editor)
    with database.sessionmaker() as session:
        before = [
            session.scalar(select(func.count()).select_from(table))
            for table in (OutboxEvent, ArticleRevision, AuditEntry)
        ]
    with failing_commits(database), pytest.raises(RuntimeError):
        database.run(actions.PublishArticle(article_id=article.id), actor=editor)
    with database.sessionmaker() as session:
        after = [
            session.scalar(select(func.count()).select_from(table))
            for table in (OutboxEvent, ArticleRevision, AuditEntry)
        ]
    assert after == before


def test_an_update_is_told_only_of_a_published_article_with_the_fields_changed(
    database: Database, editor: User
) -> None:
    article = create(database, editor)
    database.run(
        actions.UpdateArticle(article_id=article.id, changes=ArticleChanges(title="Draft 2")),
        actor=editor,
    )
    assert events(database) == []
    database.run(actions.PublishArticle(article_id=article.id), actor=editor)
    database.run(
        actions.UpdateArticle(
            article_id=article.id, changes=ArticleChanges(title="Better", tags=("news",))
        ),
        actor=editor,
    )
    (_, _), (event_type, data) = events(database)
    assert event_type == "article.updated"
    assert data["changed"] == ["tags", "title"]


def test_unpublish_delete_and_undelete_each_tell(
    database: Database, editor: User, make_user: UserFactory
) -> None:
    admin = make_user(role=Role.ADMIN)
    article = create(database, editor, status=ArticleStatus.PUBLISHED)
    database.run(actions.UnpublishArticle(article_id=article.id), actor=editor)
    database.run(actions.DeleteArticle(article_id=article.id), actor=editor)
    database.run(actions.UndeleteArticle(article_id=article.id), actor=admin)
    assert types(database) == [
        "article.published",
        "article.unpublished",
        "article.deleted",
        "article.restored",
    ]
    assert events(database)[-1][1]["state"] == "draft"


def test_a_scheduled_article_has_its_publication_waiting_until_its_time(
    database: Database, editor: User
) -> None:
    at = (utcnow() + timedelta(days=1)).replace(microsecond=0)
    article = create(database, editor)
    database.run(actions.ScheduleArticle(article_id=article.id, at=at), actor=editor)
    assert types(database) == ["article.scheduled", "article.published"]
    with database.sessionmaker() as session:
        waiting = session.scalars(
            select(OutboxEvent).where(OutboxEvent.type == "article.published")
        ).one()
    assert waiting.due_at == at
    assert json.loads(waiting.body)["data"]["state"] == "published"

    later = at + timedelta(hours=1)
    database.run(actions.ScheduleArticle(article_id=article.id, at=later), actor=editor)
    with database.sessionmaker() as session:
        due = session.scalars(
            select(OutboxEvent.due_at).where(OutboxEvent.type == "article.published")
        ).all()
    assert due == [later]  # the first time is withdrawn

    database.run(actions.UnpublishArticle(article_id=article.id), actor=editor)
    assert types(database) == [
        "article.scheduled",
        "article.scheduled",
        "article.unpublished",
    ]


def test_a_restore_that_keeps_the_state_of_a_published_article_is_an_update(
    database: Database, editor: User
) -> None:
    article = create(database, editor, status=ArticleStatus.PUBLISHED)
    database.run(
        actions.UpdateArticle(article_id=article.id, changes=ArticleChanges(title="Second")),
        actor=editor,
    )
    database.run(actions.RestoreRevision(article_id=article.id, number=1), actor=editor)
    assert types(database) == ["article.published", "article.updated", "article.updated"]
    assert events(database)[-1][1]["changed"] == ["title"]


def test_creating_a_scheduled_article_schedules_it(database: Database, editor: User) -> None:
    create(
        database,
        editor,
        status=ArticleStatus.PUBLISHED,
        published_at=utcnow() + timedelta(hours=2),
    )
    assert types(database) == ["article.scheduled", "article.published"]


def test_tag_renames_merges_and_deletes_each_tell(database: Database, editor: User) -> None:
    create(database, editor, status=ArticleStatus.DRAFT, tags=("Cookng", "Baking", "Old"))
    with database.sessionmaker() as session:
        ids = {tag.name: tag.id for tag in session.scalars(select(Tag))}
    database.run(RenameTag(tag_id=ids["Cookng"], new_name="Cooking"), actor=editor)
    database.run(MergeTags(source_id=ids["Baking"], into_id=ids["Cookng"]), actor=editor)
    database.run(DeleteTag(tag_id=ids["Old"]), actor=editor)
    assert events(database) == [
        (
            "tag.renamed",
            {"id": ids["Cookng"], "slug": "cooking", "name": "Cooking", "previous_name": "Cookng"},
        ),
        (
            "tag.merged",
            {"id": ids["Cookng"], "slug": "cooking", "name": "Cooking", "merged": "Baking"},
        ),
        ("tag.deleted", {"id": ids["Old"], "slug": "old"}),
    ]


def test_media_uploads_changes_and_deletes_each_tell(
    api: httpx.Client,
    app: FastAPI,
    database: Database,
    make_user: UserFactory,
    login: Callable[[User], dict[str, str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    media: MediaLibrary = app.state.media
    monkeypatch.setattr(media, "storage", LocalStorage(tmp_path / "media-store"))
    headers = login(make_user())
    uploaded = api.post(
        "/media/",
        headers=headers,
        files={"file": ("door.jpg", files.photo(300, 200), "image/jpeg")},
        data={"alt": "A door"},
    )
    assert uploaded.status_code == 201, uploaded.text
    asset_id = uploaded.json()["id"]
    assert api.patch(f"/media/{asset_id}", json={"alt": "A red door"}, headers=headers).is_success
    assert api.delete(f"/media/{asset_id}", headers=headers).status_code == 204
    media.wait_for_renders()
    assert events(database) == [
        ("media.uploaded", {"id": asset_id}),
        ("media.updated", {"id": asset_id, "changed": ["alt"]}),
        ("media.deleted", {"id": asset_id}),
    ]
