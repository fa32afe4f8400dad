"""Article counts kept by every write: always what counting the articles would say, so
that the dashboard and X-Total-Count never count the articles table."""

import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TypeVar

import httpx
import pytest
from sqlalchemy import event, func, select

from cms.articles import actions
from cms.articles.changes import ArticleChanges, ArticleDraft
from cms.articles.counts import state_counts
from cms.articles.models import Article, ArticleState, ArticleStatus
from cms.db import Database, UnitOfWork, utcnow
from cms.demo import seed_demo
from cms.roles import Role
from cms.users import service as users
from tests.conftest import UserFactory

T = TypeVar("T")
Login = Callable[..., dict[str, str]]
ACTIONS = ["create", "create", "publish", "unpublish", "schedule", "now", "author"]
ACTIONS += ["delete", "restore", "revision"]


def counted(database: Database, author_id: int | None = None) -> dict[ArticleState, int]:
    """What counting the articles says, by state, as the dashboard used to."""
    now = utcnow()
    with database.reading() as session:
        exact: dict[ArticleState, int] = {}
        for state in ArticleState:
            query = select(func.count()).select_from(Article).where(Article.in_state(state, now))
            if author_id is not None:
                query = query.where(Article.author_id == author_id)
            exact[state] = session.execute(query).scalar_one()
    return exact


def kept(database: Database, author_id: int | None = None) -> dict[ArticleState, int]:
    with database.reading() as session:
        return state_counts(session, utcnow(), author_id=author_id)


def test_random_writes_keep_the_counts_equal_to_a_count(
    database: Database, make_user: UserFactory
) -> None:
    rng = random.Random(7)
    editor = make_user(role=Role.EDITOR)
    authors = [make_user(), make_user(), editor]

    def run(action: Callable[[UnitOfWork], T]) -> T:
        return database.run(action, actor=editor)

    live: list[int] = []
    trashed: list[int] = []
    done: set[str] = set()
    for step in range(100):
        choice = rng.choice(ACTIONS)
        if choice == "create" or not live:
            status = rng.choice([ArticleStatus.DRAFT, ArticleStatus.PUBLISHED])
            when = utcnow() + timedelta(days=rng.choice([-2, 3]))
            draft = ArticleDraft(
                title=f"Article {step}",
                status=status,
                published_at=when if status is ArticleStatus.PUBLISHED else None,
            )
            writer = rng.choice(authors)
            live.append(database.run(actions.CreateArticle(draft=draft), actor=writer).id)
            done.add("create")
            continue
        article_id = rng.choice(live)
        changes = {
            "publish": ArticleChanges(status=ArticleStatus.PUBLISHED),
            "unpublish": ArticleChanges(status=ArticleStatus.DRAFT),
            "schedule": ArticleChanges(
                status=ArticleStatus.PUBLISHED, published_at=utcnow() + timedelta(days=1)
            ),
            "author": ArticleChanges(author_id=rng.choice(authors).id),
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
        done.add(choice)
        assert kept(database) == counted(database), (step, choice)
        for author in authors:
            assert kept(database, author.id) == counted(database, author.id), (step, choice)
    assert {"publish", "unpublish", "schedule", "now", "author", "delete", "restore"} <= done
    # Something of each state, or the comparison proved little.
    assert all(counted(database).values())


def test_deleting_a_user_moves_or_removes_their_counts(
    database: Database, make_user: UserFactory
) -> None:
    admin, heir, leaving, doomed = (
        make_user(role=Role.ADMIN),
        make_user(),
        make_user(),
        make_user(),
    )
    for writer in (leaving, leaving, doomed):
        database.run(
            actions.CreateArticle(
                draft=ArticleDraft(title="Written", status=ArticleStatus.PUBLISHED)
            ),
            actor=writer,
        )
    database.run(
        lambda uow: users.delete_user(uow, user_id=leaving.id, reassign_to=heir.id), actor=admin
    )
    database.run(
        lambda uow: users.delete_user(uow, user_id=doomed.id, articles="delete"), actor=admin
    )
    assert kept(database, heir.id)[ArticleState.PUBLISHED] == 2
    assert kept(database, leaving.id) == counted(database, leaving.id)
    assert kept(database, doomed.id)[ArticleState.PUBLISHED] == 0
    assert kept(database) == counted(database)


def test_demo_data_is_counted(database: Database, make_user: UserFactory) -> None:
    make_user()
    seed_demo(database, users=3, articles=300, seed=1)
    assert kept(database) == counted(database)
    assert sum(kept(database).values()) == 300


def test_concurrent_writers_lose_no_count(database: Database, make_user: UserFactory) -> None:
    """Eight writers creating and publishing as one author at once: every move lands."""
    author = make_user()

    def write(n: int) -> None:
        article = database.run(
            actions.CreateArticle(draft=ArticleDraft(title=f"Race {n}")), actor=author
        )
        database.run(actions.PublishArticle(article_id=article.id), actor=author)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(write, range(40)))
    assert kept(database, author.id) == counted(database, author.id)
    assert kept(database, author.id)[ArticleState.PUBLISHED] == 40


@pytest.fixture
def mixed_site(make_user: UserFactory, database: Database) -> dict[str, object]:
    editor, author, other = make_user(role=Role.EDITOR), make_user(), make_user()
    now = utcnow()
    for writer, status, at, tags in [
        (author, ArticleStatus.DRAFT, None, ("Soup",)),
        (author, ArticleStatus.PUBLISHED, now - timedelta(days=1), ("Soup",)),
        (author, ArticleStatus.PUBLISHED, now + timedelta(days=1), ("Soup",)),
        (other, ArticleStatus.PUBLISHED, now - timedelta(days=2), ()),
        (other, ArticleStatus.DRAFT, None, ("Soup",)),
        (other, ArticleStatus.PUBLISHED, now + timedelta(days=3), ()),
    ]:
        draft = ArticleDraft(title="Written", status=status, published_at=at, tags=tags)
        database.run(actions.CreateArticle(draft=draft), actor=writer)
    return {"editor": editor, "author": author, "other": other}


@pytest.mark.parametrize(
    ("who", "query", "total"),
    [
        (None, {}, 2),
        (None, {"tag": "soup"}, 1),
        (None, {"author_id": "author"}, 1),
        (None, {"q": "Written"}, 2),
        ("editor", {"status": "draft"}, 2),
        ("editor", {"status": "scheduled"}, 2),
        ("editor", {"status": "all"}, 6),
        ("editor", {"status": "all", "author_id": "other"}, 3),
        ("author", {"status": "all"}, 3),
        ("author", {"status": "scheduled"}, 1),
        ("author", {"status": "draft", "author_id": "other"}, 0),
    ],
)
def test_x_total_count_is_what_the_list_holds(
    api: httpx.Client,
    database: Database,
    login: Login,
    mixed_site: dict[str, object],
    who: str | None,
    query: dict[str, str],
    total: int,
) -> None:
    params = {"include_total": "true", "limit": "100", **query}
    if "author_id" in params:
        params["author_id"] = str(mixed_site[params["author_id"]].id)  # type: ignore[attr-defined]
    headers = login(mixed_site[who]) if who else {}
    response = api.get("/articles/", params=params, headers=headers)
    assert response.status_code == 200, response.text
    assert int(response.headers["X-Total-Count"]) == total == len(response.json())


def test_the_total_reads_no_article_row_outside_the_scheduled_few(
    api: httpx.Client, database: Database, make_user: UserFactory
) -> None:
    """Counting the public list reads the kept counts and the scheduled range, never a
    COUNT over the published articles."""
    seed_demo(database, users=2, articles=200, seed=3)
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(" ".join(statement.split()))

    engine = database.reader
    event.listen(engine, "before_cursor_execute", seen)
    try:
        response = api.get("/articles/", params={"include_total": "true"})
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert response.status_code == 200
    assert int(response.headers["X-Total-Count"]) == counted(database)[ArticleState.PUBLISHED]
    counts = [s for s in statements if "count(" in s.lower()]
    assert counts, statements
    assert not any("article_counts" not in s and "published_at >" not in s for s in counts), counts
