"""Reading lists of articles over HTTP: parameters, cursor pages, full-text search,
HTTP caching, CORS, and what each read costs the database (counted, not timed)."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import event, update

from cms.articles.models import Article, ArticleStatus
from cms.asgi import build_app
from cms.db import Database, utcnow
from cms.demo import seed_demo
from cms.roles import Role
from tests.conftest import (
    DEFAULT_PASSWORD,
    ArticleFactory,
    LiveServer,
    UserFactory,
    make_settings,
)

Login = Callable[..., dict[str, str]]


def published(make_article: ArticleFactory, author: object, title: str, **extra: Any) -> Article:
    return make_article(
        author=author,
        title=title,
        status=ArticleStatus.PUBLISHED,
        published_at=extra.pop("published_at", utcnow() - timedelta(hours=1)),
        **extra,
    )


def next_link(response: httpx.Response) -> str | None:
    link: str | None = response.headers.get("link")
    if link is None:
        return None
    assert link.endswith('>; rel="next"')
    return link[1 : link.index(">")]


def walk(
    api: httpx.Client, path: str, headers: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """Every page of a list, following its Link headers."""
    seen: list[dict[str, Any]] = []
    url: str | None = path
    while url is not None:
        response = api.get(url, headers=headers)
        assert response.status_code == 200, response.text
        seen += response.json()
        url = next_link(response)
    return seen


# Parameters


def test_ordering_by_every_key_both_ways(
    api: httpx.Client, make_user: UserFactory, make_article: ArticleFactory
) -> None:
    author = make_user()
    now = utcnow()
    for n, title in enumerate(["Bravo", "alpha", "Charlie", "Ärger"]):
        published(make_article, author, title, published_at=now - timedelta(hours=n + 1))
    default = [a["title"] for a in api.get("/articles/").json()]
    assert default == ["Bravo", "alpha", "Charlie", "Ärger"]  # newest first
    assert [a["title"] for a in api.get("/articles/?order=published_at").json()] == list(
        reversed(default)
    )
    ids = [a["id"] for a in api.get("/articles/?order=-id").json()]
    assert ids == sorted(ids, reverse=True)
    by_title = [a["title"] for a in api.get("/articles/?order=title").json()]
    assert set(by_title) == set(default) and by_title[:2] != by_title[2:]
    assert by_title == [a["title"] for a in walk(api, "/articles/?order=title&limit=1")]


@pytest.mark.parametrize(
    "query",
    ["order=popularity", "order=--title", "limit=0", "limit=101", "skip=-1", "status=secret"],
)
def test_bad_list_parameters_are_422(api: httpx.Client, query: str) -> None:
    assert api.get(f"/articles/?{query}").status_code == 422


@pytest.mark.parametrize("path", ["/articles/", "/users/", "/trash/articles/", "/media/"])
def test_a_deep_skip_is_refused_with_the_way_to_page_further(
    api: httpx.Client, make_user: UserFactory, login: Login, path: str
) -> None:
    """An offset costs what it skips: past the cap, the answer names the cursor."""
    headers = login(make_user(role=Role.ADMIN))
    assert api.get(path, params={"skip": 10_000}, headers=headers).status_code == 200
    refused = api.get(path, params={"skip": 10_001}, headers=headers)
    assert refused.status_code == 422
    [error] = refused.json()["detail"]
    assert error["loc"] == ["query", "skip"]
    assert "10,000" in error["msg"] and 'Link: rel="next"' in error["msg"]


def test_drafts_and_scheduled_need_a_token_and_follow_the_policy(
    api: httpx.Client, make_user: UserFactory, make_article: ArticleFactory, login: Login
) -> None:
    author, other, editor = make_user(), make_user(), make_user(role=Role.EDITOR)
    make_article(author=author, title="My draft")
    make_article(author=other, title="Their draft")
    published(make_article, author, "My future", published_at=utcnow() + timedelta(days=1))
    published(make_article, other, "Public")
    assert api.get("/articles/?status=draft").status_code == 401
    mine = [a["title"] for a in api.get("/articles/?status=draft", headers=login(author)).json()]
    assert mine == ["My draft"]
    staff = {a["title"] for a in api.get("/articles/?status=draft", headers=login(editor)).json()}
    assert staff == {"My draft", "Their draft"}
    soon = api.get("/articles/?status=scheduled", headers=login(author)).json()
    assert [a["title"] for a in soon] == ["My future"]
    # Authors get their own, in every state; staff get everyone's.
    everything = api.get("/articles/?status=all", headers=login(author)).json()
    assert {a["title"] for a in everything} == {"My draft", "My future"}
    all_staff = api.get("/articles/?status=all", headers=login(editor)).json()
    assert {a["title"] for a in all_staff} == {"My draft", "Their draft", "My future", "Public"}


def test_author_and_tag_filters_and_the_total(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    ann, bob = make_user(), make_user()
    for user, title, tags in [(ann, "A1", ["Red"]), (ann, "A2", []), (bob, "B1", ["red", "Blue"])]:
        api.post(
            "/articles/",
            json={"title": title, "status": "published", "tags": tags},
            headers=login(user),
        )
    by_ann = api.get(f"/articles/?author_id={ann.id}&include_total=true")
    assert {a["title"] for a in by_ann.json()} == {"A1", "A2"}
    assert by_ann.headers["x-total-count"] == "2"
    red = [a["title"] for a in api.get("/articles/?tag=red").json()]
    assert sorted(red) == ["A1", "B1"]
    assert api.get("/articles/?tag=red&author_id=" + str(bob.id)).json()[0]["title"] == "B1"
    assert "x-total-count" not in api.get("/articles/").headers


# Cursor pages


def test_cursor_pages_cover_the_list_once_even_as_articles_arrive(
    api: httpx.Client, make_user: UserFactory, make_article: ArticleFactory
) -> None:
    author = make_user()
    now = utcnow()
    # Ties on the sort key are broken by id, so no row is lost between pages.
    same_moment = now - timedelta(hours=2)
    for n in range(7):
        published(make_article, author, f"Article {n}", published_at=same_moment)
    first = api.get("/articles/?limit=3")
    url = next_link(first)
    assert url is not None and "cursor=" in url and "limit=3" in url
    # A newer article arrives while a reader is paging: it is not shown twice, nor does
    # it push an old one off the list.
    published(make_article, author, "Late arrival", published_at=now)
    rest = walk(api, url)
    titles = [a["title"] for a in first.json() + rest]
    assert sorted(titles) == sorted(f"Article {n}" for n in range(7))
    assert len(titles) == len(set(titles))


@pytest.mark.parametrize(
    "tamper",
    [
        lambda cursor: cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB"),
        lambda cursor: "e30." + cursor.split(".")[1],
        lambda cursor: "not-a-cursor",
        lambda cursor: "",
    ],
)
def test_a_forged_cursor_is_422_never_a_500_or_a_draft(
    api: httpx.Client,
    make_user: UserFactory,
    make_article: ArticleFactory,
    tamper: Callable[[str], str],
) -> None:
    author = make_user()
    for n in range(3):
        published(make_article, author, f"Public {n}")
    cursor = parse_qs(urlsplit(next_link(api.get("/articles/?limit=1")) or "").query)["cursor"][0]
    response = api.get("/articles/", params={"cursor": tamper(cursor), "limit": 1})
    assert response.status_code == 422


def test_a_cursor_belongs_to_its_order(
    api: httpx.Client, make_user: UserFactory, make_article: ArticleFactory
) -> None:
    author = make_user()
    for n in range(3):
        published(make_article, author, f"Public {n}")
    cursor = parse_qs(urlsplit(next_link(api.get("/articles/?limit=1")) or "").query)["cursor"][0]
    assert api.get("/articles/", params={"cursor": cursor, "order": "title"}).status_code == 422
    assert api.get("/articles/", params={"cursor": cursor, "skip": 1}).status_code == 422


# Full-text search


def test_search_finds_title_and_body_words_among_visible_articles(
    api: httpx.Client, make_user: UserFactory, make_article: ArticleFactory, login: Login
) -> None:
    author = make_user()
    published(make_article, author, "Sourdough basics", body="Flour and water.")
    published(make_article, author, "Bicycles", body="Oil the chain; sourdough later.")
    published(make_article, author, "Gardening", body="Nothing about bread.")
    make_article(author=author, title="Sourdough draft", body="secret sourdough")
    published(make_article, author, "Sourdough tomorrow", published_at=utcnow() + timedelta(days=1))
    found = api.get("/articles/?q=sourdough")
    assert found.status_code == 200
    titles = [a["title"] for a in found.json()]
    assert sorted(titles) == ["Bicycles", "Sourdough basics"]
    assert titles[0] == "Sourdough basics"  # in the title and the body: more relevant
    by_date = [a["title"] for a in api.get("/articles/?q=sourdough&order=-published_at").json()]
    assert sorted(by_date) == sorted(titles)
    assert api.get("/articles/?q=zeppelin").json() == []
    assert api.get("/articles/?q=").status_code == 422
    # Whatever the operators of the engine's query syntax, a search is just words.
    odd_ones = ['"', "AND OR NOT", "flour*", "(", "sourdough -basics", "NEAR(a b)"]
    for odd in [*odd_ones, "sour\x00dough", "\x00", "flour\x1f\x7f"]:
        assert api.get("/articles/", params={"q": odd}).status_code == 200, odd


def test_search_keeps_in_step_with_every_edit(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    headers = login(make_user())
    article = api.post(
        "/articles/", json={"title": "Old name", "status": "published"}, headers=headers
    ).json()
    assert [a["id"] for a in api.get("/articles/?q=old").json()] == [article["id"]]
    api.patch(f"/articles/{article['id']}", json={"title": "Zanzibar"}, headers=headers)
    assert api.get("/articles/?q=old").json() == []
    assert [a["id"] for a in api.get("/articles/?q=zanzibar").json()] == [article["id"]]
    api.delete(f"/articles/{article['id']}", headers=headers)
    assert api.get("/articles/?q=zanzibar").json() == []


def test_search_pages_follow_their_cursor(api: httpx.Client, database: Database) -> None:
    seed_demo(database, users=2, articles=60, seed=9)
    # Every demo body has "patience" in it (and no search engine's stopword list does).
    first = api.get("/articles/?q=patience&limit=5")
    everything = walk(api, "/articles/?q=patience&limit=5")
    assert len(everything) == len({a["id"] for a in everything}) > 5
    assert everything[:5] == first.json()


def test_the_back_office_search_is_full_text(
    make_user: UserFactory, make_article: ArticleFactory, live_server: LiveServer
) -> None:
    from tests.admin.conftest import signed_in

    author = make_user()
    make_article(author=author, title="Plain title", body="mentions zeppelins inside")
    make_article(author=author, title="Another", body="nothing")
    with httpx.Client(base_url=live_server.url) as browser:
        signed_in(browser, make_user(role=Role.EDITOR))
        page = browser.get("/admin/article/list?search=zeppelins").text
    assert "Plain title" in page and "Another" not in page


# HTTP caching


def test_anonymous_reads_are_public_and_token_reads_private(
    api: httpx.Client, make_user: UserFactory, make_article: ArticleFactory, login: Login
) -> None:
    author = make_user()
    article = published(make_article, author, "Cacheable")
    anonymous = api.get(f"/articles/{article.id}")
    assert anonymous.headers["cache-control"] == "public, max-age=60"
    assert "Authorization" in anonymous.headers["vary"]
    signed = api.get(f"/articles/{article.id}", headers=login(author))
    assert signed.headers["cache-control"] == "private, no-store"
    draft = make_article(author=author, title="Private")
    assert (
        api.get(f"/articles/{draft.id}", headers=login(author)).headers["cache-control"]
        == "private, no-store"
    )
    assert api.get("/articles/", headers=login(author)).headers["cache-control"] == (
        "private, no-store"
    )


def test_a_revalidation_is_a_304_without_the_body(
    api: httpx.Client, make_user: UserFactory, make_article: ArticleFactory, login: Login
) -> None:
    author = make_user()
    article = published(make_article, author, "Revalidated")
    first = api.get(f"/articles/{article.id}")
    etag = first.headers["etag"]
    again = api.get(f"/articles/{article.id}", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    listing = api.get("/articles/")
    same_page = api.get("/articles/", headers={"If-None-Match": listing.headers["etag"]})
    assert same_page.status_code == 304
    api.patch(f"/articles/{article.id}", json={"title": "Changed"}, headers=login(author))
    assert api.get(f"/articles/{article.id}", headers={"If-None-Match": etag}).status_code == 200
    assert (
        api.get("/articles/", headers={"If-None-Match": listing.headers["etag"]}).status_code == 200
    )


def test_an_etag_says_nothing_about_the_authors_account(
    api: httpx.Client, make_user: UserFactory, make_article: ArticleFactory, login: Login
) -> None:
    """It changes with what the article shows (the author's name), not when the author
    last changed their password."""
    author = make_user(name="Bob")
    article = published(make_article, author, "Stable")
    before = api.get(f"/articles/{article.id}").headers["etag"]
    changed = api.patch(
        f"/users/{author.id}",
        json={"password": "a new password", "current_password": DEFAULT_PASSWORD},
        headers=login(author),
    )
    assert changed.status_code == 200
    assert api.get(f"/articles/{article.id}").headers["etag"] == before
    renamed = api.patch(
        f"/users/{author.id}", json={"name": "Robert"}, headers=login(author, "a new password")
    )
    assert renamed.status_code == 200
    assert api.get(f"/articles/{article.id}").headers["etag"] != before


def test_a_list_is_never_cached_past_the_next_scheduled_article(
    api: httpx.Client, make_user: UserFactory, make_article: ArticleFactory
) -> None:
    author = make_user()
    published(make_article, author, "Now")
    published(make_article, author, "In 20 s", published_at=utcnow() + timedelta(seconds=20))
    max_age = int(api.get("/articles/").headers["cache-control"].split("max-age=")[1])
    assert 0 <= max_age <= 20


# Browser consumers on other origins


@pytest.fixture(scope="module")
def cors_server(database_url: str) -> Iterator[LiveServer]:
    settings = make_settings(database_url, cors_origins="https://front.example")
    with LiveServer(build_app(settings)) as server:
        yield server


def test_cors_answers_preflights_for_allowed_origins_only(
    cors_server: LiveServer, database: Database
) -> None:
    with httpx.Client(base_url=cors_server.url) as client:
        allowed = client.options(
            "/articles/1",
            headers={
                "Origin": "https://front.example",
                "Access-Control-Request-Method": "PATCH",
                "Access-Control-Request-Headers": "authorization, if-match",
            },
        )
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://front.example"
        assert "access-control-allow-credentials" not in allowed.headers
        read = client.get("/articles/", headers={"Origin": "https://front.example"})
        exposed = read.headers["access-control-expose-headers"]
        assert all(header in exposed for header in ("ETag", "Link", "X-Total-Count"))
        other = client.get("/articles/", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
        admin = client.options(
            "/admin/login",
            headers={"Origin": "https://front.example", "Access-Control-Request-Method": "POST"},
        )
        assert "access-control-allow-origin" not in admin.headers


def test_no_cors_unless_configured(api: httpx.Client) -> None:
    response = api.get("/articles/", headers={"Origin": "https://front.example"})
    assert "access-control-allow-origin" not in response.headers


# What a read costs the database


@contextmanager
def counted(database: Database) -> Iterator[list[str]]:
    """Every statement sent to the database (both pools) while the block runs."""
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    engines = [database.engine, database.reader]
    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", record)


def test_an_anonymous_article_read_is_one_statement(
    api: httpx.Client, database: Database, make_user: UserFactory, make_article: ArticleFactory
) -> None:
    article = published(make_article, make_user(), "Cheap")
    api.get(f"/articles/{article.id}")  # warm the pools
    with counted(database) as statements:
        assert api.get(f"/articles/{article.id}").status_code == 200
    assert len(statements) == 1, statements
    with counted(database) as statements:
        etag = api.get(f"/articles/{article.id}").headers["etag"]
        statements.clear()
        assert (
            api.get(f"/articles/{article.id}", headers={"If-None-Match": etag}).status_code == 304
        )
    assert len(statements) == 1, statements  # the narrow read: no body, and it knows the rest


@pytest.mark.parametrize("limit", [5, 50])
def test_a_list_page_costs_the_same_whatever_its_size(
    api: httpx.Client, database: Database, limit: int
) -> None:
    seed_demo(database, users=3, articles=120, seed=4)
    api.get("/articles/")
    with counted(database) as statements:
        assert len(api.get(f"/articles/?limit={limit}").json()) == limit
    assert len(statements) == 2, statements  # the page, and when it next changes


def test_users_with_their_articles_cost_the_same_whatever_their_number(
    api: httpx.Client, database: Database, make_user: UserFactory, login: Login
) -> None:
    seed_demo(database, users=30, articles=200, seed=4)
    headers = login(make_user(role=Role.EDITOR))
    counts = []
    for limit in (3, 30):
        with counted(database) as statements:
            users = api.get(f"/users/?limit={limit}", headers=headers).json()
        assert len(users) == limit
        counts.append(len(statements))
        assert all("body" not in article for user in users for article in user["articles"])
    assert counts[0] == counts[1], counts


def test_tags_and_feeds_cost_a_fixed_number_of_statements(
    api: httpx.Client, database: Database
) -> None:
    seed_demo(database, users=3, articles=100, seed=5)
    for path, most in [("/tags/", 2), ("/feed.xml", 4)]:
        api.get(path)
        with counted(database) as statements:
            assert api.get(path).status_code == 200
        assert len(statements) <= most, (path, statements)


def test_the_read_path_survives_a_dropped_connection(
    api: httpx.Client, database: Database, make_user: UserFactory, make_article: ArticleFactory
) -> None:
    """No ping before each read: a connection the server dropped is noticed by the read,
    which is made again on a fresh one."""
    article = published(make_article, make_user(), "Resilient")
    assert api.get(f"/articles/{article.id}").status_code == 200
    with database.reader.connect() as connection:
        raw = connection.connection.dbapi_connection
        assert raw is not None
        raw.close()  # as if the server had gone away in between
    assert api.get(f"/articles/{article.id}").status_code == 200
    with database.transaction() as session:
        session.execute(update(Article).values(title="Still readable"))
    assert api.get(f"/articles/{article.id}").json()["title"] == "Still readable"
