"""Per-tag counts, kept by every write: always what counting the articles would say, and
no tag outlives its last article."""

import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from functools import partial
from typing import TypeVar

import pytest
from sqlalchemy import func, select

from cms.articles import actions
from cms.articles.changes import ArticleChanges, ArticleDraft
from cms.articles.models import Article, ArticleStatus, Tag, TrashedArticle, article_tags
from cms.articles.tag_actions import DeleteTag, MergeTags, RenameTag
from cms.audit.models import AuditEntry
from cms.db import Database, UnitOfWork, utcnow
from cms.demo import seed_demo
from cms.errors import Conflict, NotFound, PermissionDenied
from cms.roles import Role
from cms.users import service as users
from tests.conftest import UserFactory

T = TypeVar("T")
NAMES = ["Cooking", "Travel", "Python", "Go", "Music", "Books"]


def stored_counts(database: Database) -> dict[str, tuple[int, int]]:
    with database.reading() as session:
        return {
            tag.name: (tag.tagged_count, tag.published_count)
            for tag in session.scalars(select(Tag))
        }


def recounted(database: Database) -> dict[str, tuple[int, int]]:
    """The counts by GROUP BY over the articles, as GET /tags/ used to on every read."""
    links = (
        select(Tag.name, func.count())
        .select_from(article_tags)
        .join(Tag, Tag.id == article_tags.c.tag_id)
        .join(Article, Article.id == article_tags.c.article_id)
        .group_by(Tag.name)
    )
    with database.reading() as session:
        tagged = dict(session.execute(links).all())
        published = dict(
            session.execute(links.where(Article.status == ArticleStatus.PUBLISHED)).all()
        )
    return {name: (count, published.get(name, 0)) for name, count in tagged.items()}


def test_random_writes_keep_the_counts_equal_to_a_recount(
    database: Database, make_user: UserFactory
) -> None:
    rng = random.Random(12)
    admin = make_user(role=Role.ADMIN)

    def run(action: Callable[[UnitOfWork], T]) -> T:
        return database.run(action, actor=admin)

    def some_tags() -> tuple[str, ...]:
        return tuple(rng.sample(NAMES, rng.randint(0, 4)))

    def some_time() -> datetime:
        return utcnow() + timedelta(days=rng.choice([-3, 2]))

    live: list[int] = []
    trashed: list[int] = []
    operations = []
    for step in range(120):
        choice = rng.choice(
            [
                "create",
                "create",
                "tags",
                "publish",
                "unpublish",
                "schedule",
                "now",
                "delete",
                "restore",
                "revision",
            ]
        )
        if choice == "create" or not live:
            status = rng.choice([ArticleStatus.DRAFT, ArticleStatus.PUBLISHED])
            draft = ArticleDraft(
                title=f"Article {step}",
                status=status,
                published_at=some_time() if status is ArticleStatus.PUBLISHED else None,
                tags=some_tags(),
            )
            live.append(run(actions.CreateArticle(draft=draft)).id)
            operations.append("create")
            continue
        article_id = rng.choice(live)
        changes = {
            "tags": ArticleChanges(tags=some_tags()),
            "publish": ArticleChanges(status=ArticleStatus.PUBLISHED),
            "unpublish": ArticleChanges(status=ArticleStatus.DRAFT),
            "schedule": ArticleChanges(
                status=ArticleStatus.PUBLISHED, published_at=utcnow() + timedelta(days=1)
            ),
        }.get(choice)
        if changes is not None:
            run(actions.UpdateArticle(article_id=article_id, changes=changes))
        elif choice == "now":
            run(actions.PublishArticle(article_id=article_id))
        elif choice == "delete":
            run(actions.DeleteArticle(article_id=article_id))
            live.remove(article_id)
            trashed.append(article_id)
        elif choice == "restore" and trashed:
            back = trashed.pop(rng.randrange(len(trashed)))
            run(actions.UndeleteArticle(article_id=back))
            live.append(back)
        elif choice == "revision":
            run(actions.RestoreRevision(article_id=article_id, number=1))
        operations.append(choice)
        assert stored_counts(database) == recounted(database), operations
    # Every kind of write was exercised, and the tags are exactly those articles carry.
    assert {
        "create",
        "tags",
        "publish",
        "unpublish",
        "schedule",
        "now",
        "delete",
        "restore",
        "revision",
    } <= set(operations)
    with database.reading() as session:
        assert session.scalar(select(func.count()).select_from(TrashedArticle)) == len(trashed)
    assert set(stored_counts(database)) == set(recounted(database))


def test_fifty_tag_edits_leave_no_tag_behind(database: Database, make_user: UserFactory) -> None:
    author = make_user()
    article = database.run(
        actions.CreateArticle(draft=ArticleDraft(title="Tagged", tags=("start",))),
        actor=author,
    )
    for edit in range(50):
        changes = ArticleChanges(tags=tuple(f"tag {edit} {n}" for n in range(20)))
        database.run(actions.UpdateArticle(article_id=article.id, changes=changes), actor=author)
    assert sorted(stored_counts(database)) == sorted(f"tag 49 {n}" for n in range(20))
    database.run(actions.DeleteArticle(article_id=article.id), actor=author)
    assert stored_counts(database) == {}


def test_concurrent_writers_sharing_tags_keep_the_counts_right(
    database: Database, make_user: UserFactory
) -> None:
    """Writers tagging, retagging and deleting with the same few tags at once: every
    write succeeds (a lost deadlock is retried), no tag is removed while another writer
    links it, and the counts end equal to a recount."""
    editors = [make_user(role=Role.EDITOR) for _ in range(4)]

    def work(seed: int) -> None:
        rng = random.Random(seed)
        editor = editors[seed]
        mine: list[int] = []
        for step in range(12):
            tags = tuple(rng.sample(NAMES[:3], rng.randint(0, 3)))
            if not mine or rng.random() < 0.4:
                draft = ArticleDraft(
                    title=f"W{seed} {step}", status=ArticleStatus.PUBLISHED, tags=tags
                )
                work_ = actions.CreateArticle(draft=draft)
                mine.append(database.run(work_, actor=editor).id)
            elif rng.random() < 0.7:
                changes = ArticleChanges(tags=tags)
                database.run(
                    actions.UpdateArticle(article_id=rng.choice(mine), changes=changes),
                    actor=editor,
                )
            else:
                doomed = mine.pop(rng.randrange(len(mine)))
                database.run(actions.DeleteArticle(article_id=doomed), actor=editor)

    with ThreadPoolExecutor(max_workers=len(editors)) as pool:
        for outcome in [pool.submit(work, seed) for seed in range(len(editors))]:
            outcome.result()
    assert stored_counts(database) == recounted(database)


def test_a_tag_removed_by_one_writer_while_another_adds_it_is_never_lost(
    database: Database, make_user: UserFactory
) -> None:
    """Two writers toggling one tag on their own articles: each removal may orphan it
    just as the other adds it back. The adder must find it (and wait) or create it
    anew, never link a tag being deleted."""
    editors = [make_user(role=Role.EDITOR) for _ in range(2)]
    articles = [
        database.run(
            actions.CreateArticle(draft=ArticleDraft(title=f"T{n}", tags=("Flip",))),
            actor=editor,
        )
        for n, editor in enumerate(editors)
    ]

    def toggle(n: int) -> None:
        for step in range(40):
            changes = ArticleChanges(tags=("Flip",) if step % 2 else ())
            database.run(
                actions.UpdateArticle(article_id=articles[n].id, changes=changes),
                actor=editors[n],
            )

    with ThreadPoolExecutor(max_workers=2) as pool:
        for outcome in [pool.submit(toggle, n) for n in range(2)]:
            outcome.result()
    assert stored_counts(database) == recounted(database) == {"Flip": (2, 0)}


def test_bulk_paths_leave_the_counts_right(database: Database, make_user: UserFactory) -> None:
    """Demo data goes in by the batch and a user's articles go with them in one
    statement: both recount what they touched."""
    seed_demo(database, users=2, articles=60, seed=3)
    assert stored_counts(database) == recounted(database) != {}
    admin, leaving, staying = (
        make_user(role=role) for role in (Role.ADMIN, Role.AUTHOR, Role.AUTHOR)
    )
    for author, tags in [(leaving, ("Only theirs", "Shared")), (staying, ("Shared",))]:
        draft = ArticleDraft(title="Theirs", status=ArticleStatus.PUBLISHED, tags=tags)
        database.run(actions.CreateArticle(draft=draft), actor=author)
    database.run(partial(users.delete_user, user_id=leaving.id, articles="delete"), actor=admin)
    counts = stored_counts(database)
    assert counts == recounted(database)
    assert "Only theirs" not in counts and counts["Shared"][0] >= 1


def test_only_staff_change_tags_and_each_change_is_audited(
    database: Database, make_user: UserFactory
) -> None:
    author, editor = make_user(), make_user(role=Role.EDITOR)
    draft = ArticleDraft(title="Tagged", tags=("Cook", "Cooking", "Spam"))
    article = database.run(actions.CreateArticle(draft=draft), actor=author)
    with database.reading() as session:
        ids = {tag.name: tag.id for tag in session.scalars(select(Tag))}
    for action in (
        RenameTag(tag_id=ids["Cook"], new_name="Cookery"),
        MergeTags(source_id=ids["Cook"], into_id=ids["Cooking"]),
        DeleteTag(tag_id=ids["Spam"]),
    ):
        with pytest.raises(PermissionDenied):
            database.run(action, actor=author)
    database.run(RenameTag(tag_id=ids["Cook"], new_name="Cookery"), actor=editor)
    with pytest.raises(Conflict):
        database.run(RenameTag(tag_id=ids["Cook"], new_name="cooking"), actor=editor)
    database.run(MergeTags(source_id=ids["Cook"], into_id=ids["Cooking"]), actor=editor)
    database.run(DeleteTag(tag_id=ids["Spam"]), actor=editor)
    with pytest.raises(NotFound):
        database.run(DeleteTag(tag_id=ids["Spam"]), actor=editor)
    assert stored_counts(database) == recounted(database) == {"Cooking": (1, 0)}
    with database.reading() as session:
        trail = session.scalars(
            select(AuditEntry.action).where(AuditEntry.object_type == "tag").order_by(AuditEntry.id)
        ).all()
        current = session.get(Article, article.id)
    assert trail == ["tag.rename", "tag.merge", "tag.delete"]
    assert current is not None and current.version == article.version + 3
