"""Pages are cheap to serve and safe to cache: ETags, 304s, Cache-Control, one statement."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from cms.articles.models import ArticleStatus
from cms.asgi import build_app
from cms.db import Database, utcnow
from cms.site.theme import RenderedPages, Theme
from tests.articles.test_lists import counted
from tests.conftest import ArticleFactory, LiveServer, UserFactory, make_settings
from tests.site.conftest import Login, publish


def test_every_page_has_an_etag_and_answers_304(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    writer = make_user()
    headers = login(writer)
    article = publish(api, headers, title="Cached", tags=["Cache"])
    paths = [
        f"/posts/{article['slug']}",
        "/",
        "/tag/cache",
        f"/author/{writer.id}",
        "/search?q=cached",
    ]
    tags: dict[str, str] = {}
    for path in paths:
        first = api.get(path)
        assert first.status_code == 200, path
        tags[path] = first.headers["etag"]
        again = api.get(path, headers={"If-None-Match": tags[path]})
        assert again.status_code == 304, path
        assert again.content == b""
        assert again.headers["etag"] == tags[path]
        assert again.headers["cache-control"] == first.headers["cache-control"]
        assert api.get(path, headers={"If-None-Match": '"other"'}).status_code == 200
    changed = api.patch(f"/articles/{article['id']}", json={"body": "New text"}, headers=headers)
    assert changed.status_code == 200
    for path in paths[:4]:
        fresh = api.get(path, headers={"If-None-Match": tags[path]})
        assert fresh.status_code == 200, path
        assert fresh.headers["etag"] != tags[path]
    assert "New text" in api.get(paths[0]).text  # not an old rendering kept for its slug


def test_a_list_page_changes_when_an_older_page_appears(
    api: httpx.Client, make_user: UserFactory, make_article: ArticleFactory
) -> None:
    """The same ten articles, but now with an *Older articles* link: not a 304."""
    author = make_user()
    now = utcnow()
    for number in range(10):
        make_article(
            author=author,
            title=f"Recent {number}",
            status=ArticleStatus.PUBLISHED,
            published_at=now - timedelta(minutes=number + 1),
        )
    first = api.get("/")
    assert 'rel="next"' not in first.text
    make_article(
        author=author,
        title="Backdated",
        status=ArticleStatus.PUBLISHED,
        published_at=now - timedelta(days=30),
    )
    again = api.get("/", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 200 and 'rel="next"' in again.text


def _max_age(response: httpx.Response) -> int:
    found = re.search(r"max-age=(\d+)", response.headers["cache-control"])
    assert found is not None
    return int(found.group(1))


def test_pages_are_cached_publicly_only_when_the_site_address_is_configured(
    api: httpx.Client, database_url: str, make_user: UserFactory, login: Login
) -> None:
    """Without CMS_SITE_URL the canonical links come from the Host header: a page built
    for a forged Host must stay with the client that sent it."""
    article = publish(api, login(make_user()), title="Where am I")
    page = f"/posts/{article['slug']}"
    forged = api.get(page, headers={"Host": "evil.example"})
    assert "http://evil.example/posts/where-am-i" in forged.text
    assert forged.headers["cache-control"] == "private, max-age=60"
    assert api.get("/").headers["cache-control"] == "private, max-age=60"
    with LiveServer(
        build_app(make_settings(database_url, site_url="https://blog.example"))
    ) as live:
        answer = httpx.get(f"{live.url}{page}", headers={"Host": "evil.example"})
        assert answer.headers["cache-control"] == "public, max-age=60"
        assert "evil.example" not in answer.text
        assert '<link rel="canonical" href="https://blog.example/posts/where-am-i">' in answer.text
        assert httpx.get(f"{live.url}/").headers["cache-control"] == "public, max-age=60"


def test_list_pages_are_not_cached_past_the_next_scheduled_article(
    api: httpx.Client, make_user: UserFactory, make_article: ArticleFactory, login: Login
) -> None:
    author = make_user()
    publish(api, login(author), title="Now", tags=["Soon"])
    assert _max_age(api.get("/")) == 60
    make_article(
        author=author,
        title="In half a minute",
        status=ArticleStatus.PUBLISHED,
        published_at=utcnow() + timedelta(seconds=30),
    )
    for path in ("/", "/tag/soon", f"/author/{author.id}", "/search?q=now"):
        assert _max_age(api.get(path)) <= 30, path


def test_an_article_page_is_one_statement_and_a_304_one_narrow_one(
    api: httpx.Client, database: Database, make_user: UserFactory, login: Login
) -> None:
    article = publish(
        api, login(make_user()), title="One statement", body="Body " * 200, tags=["A", "B"]
    )
    page = f"/posts/{article['slug']}"
    etag = api.get(page).headers["etag"]  # warm the pools
    with counted(database) as statements:
        assert api.get(page).status_code == 200
    assert len(statements) == 1, statements
    with counted(database) as statements:
        assert api.get(page, headers={"If-None-Match": etag}).status_code == 304
    assert len(statements) == 1, statements
    assert "body" not in statements[0].split("FROM")[0]


def test_the_site_identity_is_part_of_the_etag(
    api: httpx.Client, database_url: str, make_user: UserFactory, login: Login
) -> None:
    article = publish(api, login(make_user()), title="Same article")
    page = f"/posts/{article['slug']}"
    ours = api.get(page)
    with LiveServer(build_app(make_settings(database_url, site_name="Another Name"))) as live:
        theirs = httpx.get(f"{live.url}{page}", headers={"If-None-Match": ours.headers["etag"]})
        assert theirs.status_code == 200
        assert "Another Name" in theirs.text
        assert theirs.headers["etag"] != ours.headers["etag"]


def test_the_stylesheet_is_served_under_its_content_hash_for_good(api: httpx.Client) -> None:
    page = api.get("/").text
    found = re.search(
        r'<link rel="stylesheet" href="(/site/static/site\.[0-9a-f]{16}\.css)">', page
    )
    assert found is not None
    sheet = api.get(found.group(1))
    assert sheet.status_code == 200
    assert sheet.headers["content-type"].startswith("text/css")
    assert sheet.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "prefers-color-scheme: dark" in sheet.text and "@media print" in sheet.text
    assert api.get("/site/static/site.0000000000000000.css").status_code == 404


def test_templates_are_compiled_once_per_process(
    api: httpx.Client,
    app: FastAPI,
    make_user: UserFactory,
    login: Login,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    article = publish(api, login(make_user()), title="Compiled once")
    theme: Theme = app.state.site_theme
    assert theme.environment.auto_reload is False
    api.get(f"/posts/{article['slug']}")
    api.get("/")
    compiled: list[Any] = []
    original = theme.environment.compile

    def counting(*args: Any, **kwargs: Any) -> Any:
        compiled.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(theme.environment, "compile", counting)
    for _ in range(3):
        assert api.get(f"/posts/{article['slug']}").status_code == 200
        assert api.get("/").status_code == 200
    assert compiled == []


def test_a_kept_page_is_never_another_address_s_page(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    """Two searches finding the same article are two pages (each says what was asked)."""
    publish(api, login(make_user()), title="Apples and pears", body="Fruit.")
    first = api.get("/search", params={"q": "apples"})
    second = api.get("/search", params={"q": "pears"})
    assert "Results for “apples”" in first.text and "Results for “pears”" in second.text
    assert "Results for “pears”" in api.get("/search", params={"q": "pears"}).text


def test_rendered_pages_are_kept_within_their_bounds() -> None:
    kept = RenderedPages(entries=2, total_bytes=64 * 100)
    kept.put('"a"', b"a" * 10)
    kept.put('"b"', b"b" * 10)
    assert kept.get('"a"') == b"a" * 10  # now the most recent
    kept.put('"c"', b"c" * 10)
    assert kept.get('"b"') is None and kept.get('"a"') is not None
    kept.put('"big"', b"x" * 101)  # over a 64th of the bytes: never kept
    assert kept.get('"big"') is None
    for number in range(10):
        kept.put(f'"{number}"', b"y" * 100)
    assert kept._bytes <= 64 * 100 and len(kept._pages) <= 2
    nothing = RenderedPages(entries=0)  # development: templates may change under it
    nothing.put('"a"', b"a")
    assert nothing.get('"a"') is None
