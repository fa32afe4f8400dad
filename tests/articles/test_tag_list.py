"""GET /tags/: the tags readers can see, paged, ordered, searched by prefix and cached,
at a fixed number of statements."""

import re
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import update

from cms.articles import actions
from cms.articles.changes import ArticleDraft
from cms.articles.models import Article, ArticleStatus
from cms.db import Database, utcnow
from cms.roles import Role
from cms.users.models import User
from tests.articles.test_lists import counted
from tests.conftest import UserFactory

Write = Callable[..., Article]


@pytest.fixture
def write(database: Database, make_user: UserFactory) -> Write:
    """Save an article through the service, as the API would."""
    editor = make_user(role=Role.EDITOR)

    def article(
        *tags: str,
        status: ArticleStatus = ArticleStatus.PUBLISHED,
        published_at: datetime | None = None,
        author: User | None = None,
    ) -> Article:
        draft = ArticleDraft(
            title="A " + " ".join(tags), status=status, published_at=published_at, tags=tags
        )
        return database.run(actions.CreateArticle(draft=draft), actor=author or editor)

    return article


def walk(api: httpx.Client, path: str) -> list[list[dict[str, object]]]:
    """Every page, following the Link headers."""
    pages = []
    url: str | None = path
    while url is not None:
        response = api.get(url)
        assert response.status_code == 200, response.text
        pages.append(response.json())
        link = response.headers.get("link")
        url = re.fullmatch(r'<([^>]+)>; rel="next"', link).group(1) if link else None  # type: ignore[union-attr]
    return pages


def names(tags: Sequence[dict[str, object]]) -> list[str]:
    return [str(tag["name"]) for tag in tags]


def test_only_tags_with_visible_articles_are_listed_with_their_counts(
    api: httpx.Client, database: Database, write: Write
) -> None:
    write("Cooking", "Travel")
    write("Cooking")
    write("Cooking", "Drafts", status=ArticleStatus.DRAFT)
    soon = write("Cooking", "Later", published_at=utcnow() + timedelta(days=1))
    assert api.get("/tags/").json() == [
        {"name": "Cooking", "slug": "cooking", "article_count": 2},
        {"name": "Travel", "slug": "travel", "article_count": 1},
    ]
    # Its time comes (the clock moved): it counts, with no write to any tag.
    with database.transaction() as session:
        session.execute(
            update(Article)
            .where(Article.id == soon.id)
            .values(published_at=utcnow() - timedelta(seconds=1))
        )
    assert [(tag["name"], tag["article_count"]) for tag in api.get("/tags/").json()] == [
        ("Cooking", 3),
        ("Later", 1),
        ("Travel", 1),
    ]


def test_tags_are_paged_by_name_with_a_signed_cursor(api: httpx.Client, write: Write) -> None:
    every = ["apple", "Banana", "cherry", "date", "Elder", "fig", "grape"]
    for name in every:
        write(name)
    pages = walk(api, "/tags/?limit=3")
    assert [len(page) for page in pages] == [3, 3, 1]
    listed = [name for page in pages for name in names(page)]
    assert sorted(listed, key=str.casefold) == sorted(every, key=str.casefold)
    assert len(set(listed)) == len(every)
    first = api.get("/tags/?limit=3")
    cursor = re.search(r"cursor=([^&>]+)", first.headers["link"]).group(1)  # type: ignore[union-attr]
    tampered = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
    assert api.get(f"/tags/?cursor={tampered}").status_code == 422
    wrong_order = api.get(f"/tags/?order=-article_count&cursor={cursor}")
    assert wrong_order.status_code == 422


def test_most_used_first_counts_only_what_is_visible(
    api: httpx.Client, database: Database, write: Write
) -> None:
    for _ in range(3):
        write("Three", "Shared")
    write("Two", "Shared")
    write("Two")
    write("One")
    # Stored as four published articles; only two are visible yet.
    for _ in range(2):
        write("Shared", published_at=utcnow() + timedelta(hours=1))
    write("Scheduled only", published_at=utcnow() + timedelta(hours=1))
    expected = [("Shared", 4), ("Three", 3), ("Two", 2), ("One", 1)]
    whole = api.get("/tags/?order=-article_count").json()
    assert [(tag["name"], tag["article_count"]) for tag in whole] == expected
    for limit in (1, 2, 3):
        pages = walk(api, f"/tags/?order=-article_count&limit={limit}")
        listed = [(tag["name"], tag["article_count"]) for page in pages for tag in page]
        assert listed == expected, limit


def test_a_prefix_finds_tags_in_any_case_and_wildcards_are_literal(
    api: httpx.Client, write: Write
) -> None:
    write("Cooking", "cookies", "Cars", "%off", "_under", "under", "!bang")

    def found(q: str) -> list[str]:
        response = api.get("/tags/", params={"q": q})
        assert response.status_code == 200, response.text
        return names(response.json())

    assert sorted(found("coo"), key=str.casefold) == ["cookies", "Cooking"]
    assert found("COOK")[0].casefold().startswith("cook")
    assert found("%") == ["%off"]
    assert found("_") == ["_under"]
    assert found("!") == ["!bang"]
    assert found("nothing like it") == []
    for hostile in ["'", '"', "\\", "\x00", "%%", "!%", "🙂", "a" * 50]:
        assert api.get("/tags/", params={"q": hostile}).status_code == 200, hostile
    for raw in ["%ED%A0%80", "%FF%FE", "%C0%AF", "%25%5F%21", "%E2%80%AE"]:
        assert api.get(f"/tags/?q={raw}").status_code in (200, 422), raw
    assert api.get("/tags/", params={"q": "a" * 51}).status_code == 422
    assert api.get("/tags/", params={"q": ""}).status_code == 422


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=101", "order=count", "order=-name", "cursor=nonsense"]
)
def test_bad_parameters_are_a_422(api: httpx.Client, query: str) -> None:
    assert api.get(f"/tags/?{query}").status_code == 422


def test_the_list_is_cached_like_public_reads(
    api: httpx.Client, database: Database, write: Write
) -> None:
    write("Cached")
    response = api.get("/tags/")
    assert response.headers["cache-control"] == "public, max-age=60"
    etag = response.headers["etag"]
    again = api.get("/tags/", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    write("Cached")  # its count changed
    changed = api.get("/tags/", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    # Not cached past the moment a scheduled article makes the list change by itself.
    write("Soon", published_at=utcnow() + timedelta(seconds=20))
    max_age = int(api.get("/tags/").headers["cache-control"].split("max-age=")[1])
    assert 0 <= max_age <= 20


def test_the_list_costs_two_statements_whatever_the_number_of_tags(
    api: httpx.Client, database: Database, write: Write
) -> None:
    write("First")
    api.get("/tags/")  # warm the pools
    costs = []
    for batch in range(2):
        for n in range(0, 100, 20):
            write(*(f"tag {batch} {n + m}" for m in range(20)))
        write("Later", published_at=utcnow() + timedelta(hours=1))
        for path in ["/tags/", "/tags/?order=-article_count", "/tags/?q=tag&limit=100"]:
            with counted(database) as statements:
                assert api.get(path).status_code == 200
            costs.append(len(statements))
    assert costs == [2] * len(costs), costs
