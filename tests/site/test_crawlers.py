"""What search engines, social sites and feed readers read from the site."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree  # our own responses: no untrusted XML here

import feedparser
import httpx
import pytest
from fastapi import FastAPI

from cms.asgi import build_app
from cms.media.library import MediaLibrary
from cms.media.storage import LocalStorage
from tests.conftest import LiveServer, UserFactory, make_settings
from tests.media import files
from tests.site.conftest import Login, Page, publish

SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


@pytest.fixture
def library(app: FastAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    media: MediaLibrary = app.state.media
    monkeypatch.setattr(media, "storage", LocalStorage(tmp_path / "media-store"))
    yield
    media.wait_for_renders()


def _cover(api: httpx.Client, headers: dict[str, str]) -> dict[str, Any]:
    response = api.post(
        "/media/",
        headers=headers,
        files={"file": ("cover.png", files.photo(1000, 500, kind="PNG"), "image/png")},
        data={"alt": "A field of sunflowers"},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_an_article_page_tells_crawlers_what_it_is(
    api: httpx.Client, make_user: UserFactory, login: Login, library: None
) -> None:
    headers = login(make_user(name="Grace Meta"))
    cover = _cover(api, headers)
    article = publish(
        api,
        headers,
        title="Sunflowers & </script> <!-- tricks",
        body="# Heading\n\nSunflowers *follow* the sun. " + "More words here. " * 40,
        tags=["Garden"],
        cover_image_id=cover["id"],
    )
    base = str(api.base_url).rstrip("/")
    canonical = f"{base}{article['url']}"
    page = Page(api.get(article["url"]).text)
    assert page.title == f"{article['title']} \u2013 CMS"
    description = page.meta["description"]
    assert description.startswith("Heading Sunflowers follow the sun. More words")
    assert len(description) <= 160 and description.endswith("…")
    assert page.link("canonical") == {"rel": "canonical", "href": canonical}
    image = f"{base}{cover['url']}"
    assert page.meta["og:type"] == "article"
    assert page.meta["og:title"] == article["title"]
    assert page.meta["og:url"] == canonical
    assert page.meta["og:description"] == description
    assert page.meta["og:image"] == image
    assert page.meta["og:image:alt"] == "A field of sunflowers"
    assert page.meta["twitter:card"] == "summary_large_image"
    assert page.meta["twitter:image"] == image
    assert page.json_ld() == {
        "@context": "https://schema.org",
        "@type": "BlogPosting",
        "headline": article["title"],
        "datePublished": article["published_at"],
        "dateModified": article["updated_at"],
        "author": {
            "@type": "Person",
            "name": "Grace Meta",
            "url": f"{base}/author/{article['author_id']}",
        },
        "image": [image],
        "url": canonical,
        "mainEntityOfPage": canonical,
        "publisher": {"@type": "Organization", "name": "CMS"},
        "keywords": ["Garden"],
    }
    feed = page.link("alternate")
    assert feed is not None and feed["type"] == "application/rss+xml"
    assert feed["href"] == "/feed.xml"


def test_the_cover_image_lets_the_browser_pick_a_size(
    api: httpx.Client, make_user: UserFactory, login: Login, library: None
) -> None:
    headers = login(make_user())
    cover = _cover(api, headers)
    article = publish(api, headers, title="With a cover", cover_image_id=cover["id"])
    text = api.get(article["url"]).text
    renditions = cover["renditions"]
    assert f'<source type="image/webp" srcset="{renditions["thumb.webp"]} 200w, ' in text
    assert f'{renditions["800.webp"]} 800w, {renditions["1600.webp"]} 1000w"' in text
    assert f'<img src="{renditions["800.png"]}"' in text
    assert 'width="800" height="400" alt="A field of sunflowers"' in text
    assert 'sizes="(max-width: 46rem) 100vw, 46rem"' in text


def test_the_tag_page_offers_the_tag_feed(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    publish(api, login(make_user()), title="Tagged", tags=["Bird Watching"])
    page = Page(api.get("/tag/bird-watching").text)
    feed = page.link("alternate")
    assert feed is not None and feed["href"] == "/tags/bird-watching/feed.xml"
    assert api.get(feed["href"]).status_code == 200
    home = Page(api.get("/").text)
    assert home.link("alternate") == {
        "rel": "alternate",
        "type": "application/rss+xml",
        "title": "CMS",
        "href": "/feed.xml",
    }


def test_feeds_and_the_sitemap_point_at_the_pages(
    api: httpx.Client, make_user: UserFactory, login: Login, database_url: str
) -> None:
    headers = login(make_user())
    article = publish(api, headers, title="Linked everywhere", tags=["Links"])
    api.post("/articles/", json={"title": "Not yet", "tags": ["Hidden"]}, headers=headers)
    with LiveServer(
        build_app(make_settings(database_url, site_url="https://blog.example"))
    ) as live:
        page = "https://blog.example/posts/linked-everywhere"
        for path in ("/feed.xml", "/tags/links/feed.xml"):
            parsed = feedparser.parse(httpx.get(f"{live.url}{path}").content)
            assert not parsed.bozo
            assert [entry.link for entry in parsed.entries] == [page]
            assert [entry.id for entry in parsed.entries] == [page]
        assert feedparser.parse(httpx.get(f"{live.url}/feed.xml").content).feed.link == (
            "https://blog.example/"
        )
        root = ElementTree.fromstring(httpx.get(f"{live.url}/sitemap.xml").content)  # noqa: S314
        locations = [url.findtext(f"{SITEMAP}loc") for url in root.findall(f"{SITEMAP}url")]
        assert locations == [
            "https://blog.example/",
            "https://blog.example/tag/links",
            page,
        ]
        for location in locations:
            path = str(location).removeprefix("https://blog.example")
            assert httpx.get(f"{live.url}{path}").status_code == 200, path
    assert article["url"] == "/posts/linked-everywhere"


def test_robots_txt_names_the_sitemap(api: httpx.Client, database_url: str) -> None:
    answer = api.get("/robots.txt")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    lines = answer.text.splitlines()
    assert "User-agent: *" in lines
    assert "Disallow: /admin" in lines and "Disallow: /preview/" in lines
    assert f"Sitemap: {str(api.base_url).rstrip('/')}/sitemap.xml" in lines
    with LiveServer(
        build_app(make_settings(database_url, site_url="https://blog.example"))
    ) as live:
        text = httpx.get(f"{live.url}/robots.txt", headers={"Host": "evil.example"}).text
        assert "Sitemap: https://blog.example/sitemap.xml" in text.splitlines()
