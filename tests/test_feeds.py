"""Feeds and the sitemap, read the way feed readers and crawlers read them."""

from datetime import timedelta
from xml.etree import ElementTree  # our own responses: no untrusted XML here

import feedparser
import httpx

from cms.articles.models import ArticleStatus
from cms.asgi import build_app
from cms.db import Database, utcnow
from cms.demo import seed_demo
from cms.feeds import service
from tests.conftest import ArticleFactory, LiveServer, UserFactory, make_settings

SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


def test_the_feed_parses_and_lists_only_what_is_visible_newest_first(
    api: httpx.Client, make_user: UserFactory, make_article: ArticleFactory
) -> None:
    author = make_user(name="Feed Writer")
    now = utcnow()
    make_article(
        author=author,
        title="Older",
        body="*old*",
        status=ArticleStatus.PUBLISHED,
        published_at=now - timedelta(days=2),
    )
    make_article(
        author=author,
        title="Newer & better",
        body="**new**",
        status=ArticleStatus.PUBLISHED,
        published_at=now - timedelta(hours=1),
    )
    make_article(author=author, title="Still a draft")
    make_article(
        author=author,
        title="Tomorrow",
        status=ArticleStatus.PUBLISHED,
        published_at=now + timedelta(days=1),
    )
    response = api.get("/feed.xml")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/rss+xml")
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.bozo_exception
    assert parsed.version == "rss20"
    assert [entry.title for entry in parsed.entries] == ["Newer & better", "Older"]
    newest = parsed.entries[0]
    assert newest.content[0].value.strip() == "<p><strong>new</strong></p>"
    assert newest.author == "Feed Writer"
    assert newest.link.endswith("/posts/newer-better")


def test_a_scheduled_article_enters_the_feed_at_its_time(
    api: httpx.Client, make_user: UserFactory, make_article: ArticleFactory, database: Database
) -> None:
    article = make_article(
        author=make_user(),
        title="Soon",
        status=ArticleStatus.PUBLISHED,
        published_at=utcnow() + timedelta(hours=1),
    )
    assert feedparser.parse(api.get("/feed.xml").content).entries == []
    with database.transaction() as session:  # time passes: its moment has come
        from cms.articles.models import Article

        stored = session.get(Article, article.id)
        assert stored is not None
        stored.published_at = utcnow() - timedelta(seconds=1)
    titles = [e.title for e in feedparser.parse(api.get("/feed.xml").content).entries]
    assert titles == ["Soon"]


def test_a_tag_has_its_own_feed(api: httpx.Client, make_user: UserFactory, login: object) -> None:
    headers = login(make_user())  # type: ignore[operator]
    api.post(
        "/articles/",
        json={"title": "Tagged one", "status": "published", "tags": ["Py"]},
        headers=headers,
    )
    api.post("/articles/", json={"title": "Untagged", "status": "published"}, headers=headers)
    parsed = feedparser.parse(api.get("/tags/py/feed.xml").content)
    assert not parsed.bozo
    assert [entry.title for entry in parsed.entries] == ["Tagged one"]
    assert api.get("/tags/no-such-tag/feed.xml").status_code == 404


def test_a_tag_only_drafts_carry_has_no_public_feed(
    api: httpx.Client, make_user: UserFactory, login: object
) -> None:
    """Its name can say what is coming ("Acquisition of X"): unknown until published."""
    headers = login(make_user())  # type: ignore[operator]
    api.post("/articles/", json={"title": "Coming", "tags": ["Big Merger"]}, headers=headers)
    assert api.get("/tags/big-merger/feed.xml").status_code == 404
    assert "big-merger" not in api.get("/tags/").text


def test_text_pasted_from_a_word_processor_keeps_the_feed_valid(
    api: httpx.Client, make_user: UserFactory, login: object
) -> None:
    """Word's soft line break is a vertical tab, which XML cannot carry at all."""
    headers = login(make_user())  # type: ignore[operator]
    created = api.post(
        "/articles/",
        json={"title": "Pasted", "body": "Line one\u000bline two\u000c", "status": "published"},
        headers=headers,
    )
    assert created.status_code == 201
    feed = api.get("/feed.xml")
    assert feed.status_code == 200
    parsed = feedparser.parse(feed.content)
    assert not parsed.bozo
    assert parsed.entries[0].summary == "Line one line two"
    # Titles, names and tags are one line: refused with a reason where they are typed.
    refused = api.post("/articles/", json={"title": "Tab\tin title"}, headers=headers)
    assert refused.status_code == 422 and "U+0009" in refused.text


def test_feeds_are_for_shared_caches_only_when_the_site_url_is_configured(
    api: httpx.Client, database_url: str
) -> None:
    """Without CMS_SITE_URL the links come from the Host header: a forged one must not
    land in a cache everyone reads."""
    forged = api.get("/feed.xml", headers={"Host": "evil.example"})
    assert "evil.example" in forged.text  # as asked, for this one client
    assert forged.headers["cache-control"] == "private, max-age=60"
    assert api.get("/sitemap.xml").headers["cache-control"] == "private, max-age=60"
    with LiveServer(
        build_app(make_settings(database_url, site_url="https://cms.example"))
    ) as configured:
        answer = httpx.get(f"{configured.url}/feed.xml", headers={"Host": "evil.example"})
        assert answer.headers["cache-control"] == "public, max-age=60"
        assert "evil.example" not in answer.text and "https://cms.example/" in answer.text


def test_the_sitemap_lists_every_visible_article_with_lastmod(
    api: httpx.Client, make_user: UserFactory, make_article: ArticleFactory
) -> None:
    author = make_user()
    make_article(
        author=author,
        title="Public",
        status=ArticleStatus.PUBLISHED,
        published_at=utcnow() - timedelta(days=1),
    )
    make_article(author=author, title="Private")
    response = api.get("/sitemap.xml")
    assert response.status_code == 200
    root = ElementTree.fromstring(  # noqa: S314
        response.content
    )
    assert root.tag == f"{SITEMAP}urlset"
    urls = root.findall(f"{SITEMAP}url")
    articles = [url for url in urls if "/posts/" in url.findtext(f"{SITEMAP}loc", "")]
    assert [url.findtext(f"{SITEMAP}loc", "").rsplit("/", 1)[1] for url in articles] == ["public"]
    assert articles[0].findtext(f"{SITEMAP}lastmod", "").endswith("Z")


def test_a_large_sitemap_becomes_an_index_of_sitemaps(
    api: httpx.Client, database: Database, monkeypatch: object
) -> None:
    seed_demo(database, users=2, articles=300, seed=5)
    monkeypatch.setattr(service, "SITEMAP_URLS", 100)  # type: ignore[attr-defined]
    index = ElementTree.fromstring(  # noqa: S314
        api.get("/sitemap.xml").content
    )
    assert index.tag == f"{SITEMAP}sitemapindex"
    files = [entry.findtext(f"{SITEMAP}loc", "") for entry in index]
    assert len(files) >= 2 and files[0].endswith("/sitemap-1.xml")
    seen: list[str] = []
    for url in files:
        page = ElementTree.fromstring(  # noqa: S314
            api.get("/" + url.split("/", 3)[3]).content
        )
        seen += [loc.text or "" for loc in page.iter(f"{SITEMAP}loc")]
    assert len(seen) == len(set(seen))
    visible = api.get("/articles/?limit=100").json()
    assert len(seen) >= len(visible)
    assert api.get(f"/sitemap-{len(files) + 1}.xml").status_code == 404
