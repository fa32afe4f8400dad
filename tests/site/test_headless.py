"""Headless mode: every link points at the site's own front end, and the built-in pages
can be switched off while the API, feeds, sitemap and back office keep working."""

from __future__ import annotations

from datetime import timedelta
from xml.etree import ElementTree  # our own responses: no untrusted XML here

import feedparser
import httpx
import pytest
from pydantic import ValidationError

from cms.articles.models import ArticleStatus
from cms.asgi import build_app
from cms.db import utcnow
from cms.roles import Role
from cms.site.urls import SiteAddresses
from tests.admin.conftest import signed_in
from tests.conftest import DEFAULT_PASSWORD, ArticleFactory, LiveServer, UserFactory, make_settings
from tests.site.conftest import Login, publish

SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
FRONT_END = "https://www.example.com/blog/{slug}"


def test_without_a_front_end_every_link_is_the_built_in_page() -> None:
    local = SiteAddresses()
    assert local.article("hello") == "/posts/hello"
    assert local.article("hello", origin="http://h") == "http://h/posts/hello"
    assert local.tag("py") == "/tag/py" and local.author(7) == "/author/7"
    assert local.preview_url("tok", "hello") == "/preview/tok"
    configured = SiteAddresses(origin="https://blog.example")
    assert (
        configured.article("hello", origin="http://ignored") == "https://blog.example/posts/hello"
    )
    assert configured.preview_url("tok", "hello") == "https://blog.example/preview/tok"


def test_with_a_front_end_articles_and_previews_point_there() -> None:
    headless = SiteAddresses(origin="https://cms.example", frontend=FRONT_END)
    assert headless.article("hello") == "https://www.example.com/blog/hello"
    assert headless.preview_url("a.b", "hello") == "https://www.example.com/blog/hello?preview=a.b"
    query = SiteAddresses(frontend="https://x.example/read?post={slug}")
    assert query.preview_url("t", "s") == "https://x.example/read?post=s&preview=t"
    # The built-in pages keep their own paths (for the site's routes).
    assert headless.article_page("hello") == "/posts/hello"


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        ("www.example.com/blog/{slug}", "must be an http:// or https:// address"),
        ("ftp://example.com/{slug}", "must be an http:// or https:// address"),
        ("https://www.example.com/blog/", "must contain {slug}"),
        ("https://{slug}.example.com/", "in its path or query only"),
        ("https://example.com/{slug}/{id}", "nothing else in braces"),
    ],
)
def test_a_front_end_pattern_is_checked(database_url: str, pattern: str, problem: str) -> None:
    with pytest.raises(ValidationError) as refused:
        make_settings(database_url, site_frontend_url=pattern)
    assert "CMS_SITE_FRONTEND_URL" in str(refused.value) and problem in str(refused.value)


def test_headless_mode_points_the_api_feeds_and_sitemap_at_the_front_end(
    api: httpx.Client, make_user: UserFactory, login: Login, database_url: str
) -> None:
    writer = make_user()
    headers = login(writer)
    article = publish(api, headers, title="Headless hello", tags=["Api"])
    settings = make_settings(database_url, site_frontend_url=FRONT_END, site_pages=False)
    front = "https://www.example.com/blog/headless-hello"
    with LiveServer(build_app(settings)) as live:
        client = httpx.Client(base_url=live.url)
        token = client.post(
            "/auth/token", data={"username": writer.email, "password": DEFAULT_PASSWORD}
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        assert client.get(f"/articles/{article['id']}").json()["url"] == front
        assert client.get("/articles/slug/headless-hello").json()["url"] == front
        assert [a["url"] for a in client.get("/articles/").json()] == [front]
        created = client.post("/articles/", json={"title": "Another"}, headers=headers)
        assert created.json()["url"] == "https://www.example.com/blog/another"
        patched = client.patch(
            f"/articles/{created.json()['id']}", json={"slug": "renamed"}, headers=headers
        )
        assert patched.json()["url"] == "https://www.example.com/blog/renamed"
        parsed = feedparser.parse(client.get("/feed.xml").content)
        assert [entry.link for entry in parsed.entries] == [front]
        tagged = feedparser.parse(client.get("/tags/api/feed.xml").content)
        assert [entry.link for entry in tagged.entries] == [front]
        root = ElementTree.fromstring(client.get("/sitemap.xml").content)  # noqa: S314
        assert [u.findtext(f"{SITEMAP}loc") for u in root.findall(f"{SITEMAP}url")] == [front]
        # The built-in pages are off; everything else works.
        for path in ("/", "/posts/headless-hello", "/tag/api", f"/author/{writer.id}", "/search"):
            answer = client.get(path)
            assert answer.status_code == 404, path
            assert answer.headers["content-type"].startswith("text/html"), path
        assert client.get("/admin/login").status_code == 200
        assert client.get("/robots.txt").status_code == 200
        client.close()


def test_headless_with_the_pages_on_makes_the_front_end_canonical(
    api: httpx.Client, make_user: UserFactory, login: Login, database_url: str
) -> None:
    publish(api, login(make_user()), title="Both ways")
    with LiveServer(build_app(make_settings(database_url, site_frontend_url=FRONT_END))) as live:
        page = httpx.get(f"{live.url}/posts/both-ways")
        assert page.status_code == 200
        canonical = '<link rel="canonical" href="https://www.example.com/blog/both-ways">'
        assert canonical in page.text


def test_view_on_site_in_the_back_office_points_at_the_front_end(
    make_user: UserFactory, make_article: ArticleFactory, database_url: str
) -> None:
    editor = make_user(role=Role.EDITOR)
    live = make_article(
        author=editor,
        title="Seen there",
        status=ArticleStatus.PUBLISHED,
        published_at=utcnow() - timedelta(hours=1),
    )
    with (
        LiveServer(build_app(make_settings(database_url, site_frontend_url=FRONT_END))) as server,
        httpx.Client(base_url=server.url, timeout=30) as browser,
    ):
        signed_in(browser, editor)
        page = browser.get(f"/admin/article/edit/{live.id}").text
        assert 'href="https://www.example.com/blog/seen-there"' in page
