"""The editorial actions, the article projection and the unit of work, called directly on
the real database (no HTTP): fast tests of the rules every surface shares."""

from datetime import timedelta
from itertools import product

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from cms.articles import actions, projection, reads
from cms.articles.changes import ArticleChanges, ArticleDraft
from cms.articles.models import (
    Article,
    ArticleRevision,
    ArticleState,
    ArticleStatus,
    state_of,
)
from cms.audit.models import AuditEntry
from cms.db import Database, UnitOfWork, utcnow
from cms.errors import InvalidInput
from cms.roles import Role
from cms.site.urls import SiteAddresses
from tests.conftest import ArticleFactory, UserFactory


def last_action(database: Database) -> str:
    with database.sessionmaker() as session:
        return session.scalars(
            select(AuditEntry.action).order_by(AuditEntry.id.desc()).limit(1)
        ).one()


@pytest.mark.parametrize(
    ("before", "after", "time_changed", "name"),
    [
        (ArticleState.DRAFT, ArticleState.DRAFT, False, "update"),
        (ArticleState.DRAFT, ArticleState.SCHEDULED, True, "schedule"),
        (ArticleState.DRAFT, ArticleState.PUBLISHED, True, "publish"),
        (ArticleState.SCHEDULED, ArticleState.SCHEDULED, False, "update"),
        (ArticleState.SCHEDULED, ArticleState.SCHEDULED, True, "schedule"),
        (ArticleState.SCHEDULED, ArticleState.PUBLISHED, True, "publish"),
        (ArticleState.SCHEDULED, ArticleState.DRAFT, True, "unpublish"),
        (ArticleState.PUBLISHED, ArticleState.PUBLISHED, True, "update"),
        (ArticleState.PUBLISHED, ArticleState.SCHEDULED, True, "schedule"),
        (ArticleState.PUBLISHED, ArticleState.DRAFT, True, "unpublish"),
    ],
)
def test_a_save_is_named_after_its_change_of_state(
    before: ArticleState, after: ArticleState, time_changed: bool, name: str
) -> None:
    assert actions.transition(before, after, time_changed) == name


def test_the_state_of_a_row_agrees_with_the_state_in_sql(
    database: Database, make_user: UserFactory, make_article: ArticleFactory
) -> None:
    author = make_user()
    now = utcnow()
    for status, offset in product(ArticleStatus, (-1, 1)):
        published = status is ArticleStatus.PUBLISHED
        make_article(
            author=author,
            title=f"{status} {offset}",
            slug=f"{status}-{offset + 1}",
            status=status,
            published_at=now + timedelta(days=offset) if published else None,
        )
    with database.sessionmaker() as session:
        rows = session.scalars(select(Article)).all()
        for state in ArticleState:
            by_sql = set(session.scalars(select(Article.id).where(Article.in_state(state, now))))
            assert by_sql == {row.id for row in rows if row.state_at(now) is state}, state
    assert state_of("published", now, now) is ArticleState.PUBLISHED
    assert state_of("published", now + timedelta(microseconds=1), now) is ArticleState.SCHEDULED


def test_the_orm_path_and_the_read_path_give_the_same_article_and_etag(
    database: Database, make_user: UserFactory
) -> None:
    """If the two drifted, a 304 would stand for a body it does not match."""
    author = make_user(name="Dana Drift")
    article = database.run(
        actions.CreateArticle(
            draft=ArticleDraft(
                title="Twins",
                body="Some *text*",
                status=ArticleStatus.PUBLISHED,
                tags=("b", "a"),
            )
        ),
        actor=author,
    )
    addresses = SiteAddresses()
    shaped = projection.from_article(article, addresses=addresses)
    read = database.read(
        lambda connection: reads.read_article(
            connection, viewer=None, now=utcnow(), article_id=article.id, addresses=addresses
        )
    )
    assert read.article == shaped
    assert read.etag == projection.article_etag(article)
    assert shaped["author"] == "Dana Drift" and shaped["tags"] == ["a", "b"]
    assert shaped["published_at"].endswith("Z")
    assert shaped["url"] == f"/posts/{article.slug}"


def test_publish_now_on_a_scheduled_article_is_a_publish(
    database: Database, make_user: UserFactory
) -> None:
    editor = make_user(role=Role.EDITOR)
    later = utcnow() + timedelta(days=1)
    article = database.run(
        actions.CreateArticle(
            draft=ArticleDraft(title="Soon", status=ArticleStatus.PUBLISHED, published_at=later)
        ),
        actor=editor,
    )
    assert article.state_at(utcnow()) is ArticleState.SCHEDULED
    published = database.run(actions.PublishArticle(article_id=article.id), actor=editor)
    assert published.state_at(utcnow()) is ArticleState.PUBLISHED
    assert published.published_at is not None and published.published_at < later
    assert last_action(database) == "publish"

    # Publishing what is already published changes nothing and records nothing.
    with database.sessionmaker() as session:
        entries = session.scalar(select(func.count()).select_from(AuditEntry))
    database.run(actions.PublishArticle(article_id=article.id), actor=editor)
    with database.sessionmaker() as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == entries

    unpublished = database.run(actions.UnpublishArticle(article_id=article.id), actor=editor)
    assert unpublished.status is ArticleStatus.DRAFT and unpublished.published_at is None
    assert last_action(database) == "unpublish"


def test_schedule_needs_a_time_to_come(database: Database, make_user: UserFactory) -> None:
    editor = make_user(role=Role.EDITOR)
    article = database.run(actions.CreateArticle(draft=ArticleDraft(title="X")), actor=editor)
    with pytest.raises(InvalidInput, match="future"):
        database.run(
            actions.ScheduleArticle(article_id=article.id, at=utcnow() - timedelta(minutes=1)),
            actor=editor,
        )
    at = utcnow() + timedelta(hours=3)
    scheduled = database.run(actions.ScheduleArticle(article_id=article.id, at=at), actor=editor)
    assert scheduled.published_at == at and last_action(database) == "schedule"


def test_restore_keeps_the_state_unless_told(database: Database, make_user: UserFactory) -> None:
    editor = make_user(role=Role.EDITOR)
    article = database.run(
        actions.CreateArticle(draft=ArticleDraft(title="One", body="first")), actor=editor
    )
    database.run(
        actions.UpdateArticle(
            article_id=article.id,
            changes=ArticleChanges(title="Two", body="second", status=ArticleStatus.PUBLISHED),
        ),
        actor=editor,
    )
    with database.sessionmaker() as session:
        preview = actions.restore_preview(session, viewer=editor, article_id=article.id, number=1)
    assert preview == {"title": ("Two", "One"), "body": ("second", "first")}
    restored = database.run(actions.RestoreRevision(article_id=article.id, number=1), actor=editor)
    assert restored.title == "One" and restored.body_html == "<p>first</p>\n"
    assert restored.state_at(utcnow()) is ArticleState.PUBLISHED
    as_draft = database.run(
        actions.RestoreRevision(
            article_id=article.id,
            number=2,
            publication=actions.Publication(ArticleState.DRAFT),
        ),
        actor=editor,
    )
    assert as_draft.title == "Two" and as_draft.state_at(utcnow()) is ArticleState.DRAFT
    with database.sessionmaker() as session:
        numbers = session.scalars(
            select(ArticleRevision.number).where(ArticleRevision.article_id == article.id)
        ).all()
    assert sorted(numbers) == [1, 2, 3, 4]


# The unit of work


class Deadlocked(Exception):
    args = (1213, "Deadlock found when trying to get lock")


def deadlock() -> OperationalError:
    return OperationalError("UPDATE …", {}, Deadlocked())


def test_a_lost_deadlock_reruns_the_whole_transaction_once_prepared(
    database: Database, make_user: UserFactory
) -> None:
    editor = make_user(role=Role.EDITOR)
    calls: list[str] = []
    hooks: list[str] = []

    class Flaky(actions.CreateArticle):
        def prepare(self) -> None:
            calls.append("prepare")
            super().prepare()

        def __call__(self, uow: UnitOfWork) -> Article:
            calls.append("run")
            article = super().__call__(uow)
            uow.after_commit(lambda: hooks.append("committed"))
            if calls.count("run") == 1:
                raise deadlock()  # after writing: the rollback must take it all back
            return article

    article = database.run(Flaky(draft=ArticleDraft(title="Retried", body="*x*")), actor=editor)
    assert calls == ["prepare", "run", "run"]
    assert hooks == ["committed"]
    with database.sessionmaker() as session:
        assert session.scalars(select(Article.title)).all() == ["Retried"]
        assert session.scalar(select(func.count()).select_from(ArticleRevision)) == 1
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == 1
    assert article.body_html == "<p><em>x</em></p>\n"


def test_a_deadlock_inside_a_savepoint_is_retried_too(database: Database) -> None:
    """InnoDB drops the savepoint with the transaction: the error that surfaces is the
    failed ROLLBACK TO SAVEPOINT, raised while the deadlock was being handled."""
    attempts: list[int] = []

    class SavepointGone(Exception):
        args = (1305, "SAVEPOINT sa_savepoint_2 does not exist")

    def deadlocks_in_a_savepoint(uow: UnitOfWork) -> str:
        attempts.append(1)
        if len(attempts) == 1:
            try:
                raise deadlock()
            except OperationalError:
                raise OperationalError("ROLLBACK TO SAVEPOINT", {}, SavepointGone()) from None
        return "done"

    # "from None" hides the cause but keeps the context, as SQLAlchemy's handler does.
    assert database.run(deadlocks_in_a_savepoint) == "done"
    assert len(attempts) == 2


def test_a_deadlock_every_time_gives_up_after_the_attempts(database: Database) -> None:
    attempts: list[int] = []

    def always(uow: UnitOfWork) -> None:
        attempts.append(1)
        raise deadlock()

    with pytest.raises(OperationalError):
        database.run(always, attempts=3)
    assert len(attempts) == 3


def test_other_database_errors_are_not_retried(database: Database) -> None:
    attempts: list[int] = []

    class Gone(Exception):
        args = (2006, "MySQL server has gone away")

    def fails(uow: UnitOfWork) -> None:
        attempts.append(1)
        raise OperationalError("SELECT 1", {}, Gone())

    with pytest.raises(OperationalError):
        database.run(fails)
    assert attempts == [1]


def test_a_failed_unit_of_work_runs_no_hook(database: Database) -> None:
    hooks: list[str] = []

    def fails(uow: UnitOfWork) -> None:
        uow.after_commit(lambda: hooks.append("ran"))
        raise InvalidInput("title", "no")

    with pytest.raises(InvalidInput):
        database.run(fails)
    assert hooks == []
