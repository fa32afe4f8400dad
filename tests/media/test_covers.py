"""An article's cover image: in the API (both read paths), the ETag, the feed, the dump."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import feedparser
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from typer.testing import CliRunner

from cms import migrations
from cms.articles.models import Article
from cms.cli import app as cli
from cms.db import Database
from cms.media.library import MediaLibrary
from cms.media.models import MediaAsset
from cms.media.storage import LocalStorage
from cms.roles import Role
from tests.conftest import TEST_SECRET_KEY, ScratchDatabases, UserFactory
from tests.media import files

Login = Callable[..., dict[str, str]]


@pytest.fixture(autouse=True)
def library(
    app: FastAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[MediaLibrary]:
    media: MediaLibrary = app.state.media
    monkeypatch.setattr(media, "storage", LocalStorage(tmp_path / "media-store"))
    yield media
    media.wait_for_renders()


def uploaded(api: httpx.Client, headers: dict[str, str], alt: str = "A cover") -> dict[str, Any]:
    response = api.post(
        "/media/",
        headers=headers,
        files={"file": ("cover.png", files.photo(320, 200, kind="PNG"), "image/png")},
        data={"alt": alt},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_an_article_shows_its_cover_on_every_read_path(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    author = login(make_user())
    cover = uploaded(api, author)
    created = api.post(
        "/articles/",
        headers=author,
        json={"title": "With a picture", "status": "published", "cover_image_id": cover["id"]},
    )
    assert created.status_code == 201, created.text
    assert created.json()["cover_image"] == cover
    article_id = created.json()["id"]
    read = api.get(f"/articles/{article_id}")  # the Core read path, anonymously
    assert read.json()["cover_image"] == cover
    assert read.headers["ETag"] == created.headers["ETag"]
    listed = api.get("/articles/").json()
    assert [item["cover_image"] for item in listed] == [cover]
    without = api.post("/articles/", headers=author, json={"title": "Plain"})
    assert without.json()["cover_image"] is None


def test_an_author_cannot_use_someone_elses_image_but_staff_can(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    owner, other = login(make_user()), login(make_user())
    editor = login(make_user(role=Role.EDITOR))
    cover = uploaded(api, owner)
    refused = api.post(
        "/articles/", headers=other, json={"title": "Borrowed", "cover_image_id": cover["id"]}
    )
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "cover_image_id"]
    missing = api.post(
        "/articles/", headers=other, json={"title": "Nothing", "cover_image_id": 999}
    )
    assert missing.status_code == 422
    allowed = api.post(
        "/articles/", headers=editor, json={"title": "Chosen", "cover_image_id": cover["id"]}
    )
    assert allowed.status_code == 201


def test_the_etag_follows_the_covers_alt_text_and_its_removal(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    author = login(make_user())
    cover = uploaded(api, author)
    article = api.post(
        "/articles/",
        headers=author,
        json={"title": "Tagged", "status": "published", "cover_image_id": cover["id"]},
    )
    path = f"/articles/{article.json()['id']}"
    first = api.get(path).headers["ETag"]
    assert api.get(path, headers={"If-None-Match": first}).status_code == 304
    api.patch(f"/media/{cover['id']}", headers=author, json={"alt": "A better description"})
    changed = api.get(path, headers={"If-None-Match": first})
    assert changed.status_code == 200
    assert changed.json()["cover_image"]["alt"] == "A better description"
    second = changed.headers["ETag"]
    assert api.delete(f"/media/{cover['id']}", headers=author).status_code == 204
    gone = api.get(path, headers={"If-None-Match": second})
    assert gone.status_code == 200 and gone.json()["cover_image"] is None
    cleared = api.patch(path, headers=author, json={"cover_image_id": None})
    assert cleared.status_code == 200 and cleared.json()["cover_image"] is None


def test_a_cover_can_be_set_and_cleared_with_patch(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    author = login(make_user())
    cover = uploaded(api, author)
    article = api.post("/articles/", headers=author, json={"title": "Later"}).json()
    path = f"/articles/{article['id']}"
    set_ = api.patch(path, headers=author, json={"cover_image_id": cover["id"]})
    assert set_.status_code == 200 and set_.json()["cover_image"]["id"] == cover["id"]
    assert set_.json()["version"] == article["version"] + 1
    cleared = api.patch(path, headers=author, json={"cover_image_id": None})
    assert cleared.json()["cover_image"] is None


def test_the_feed_carries_the_cover_as_an_enclosure(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    author = login(make_user())
    cover = uploaded(api, author)
    api.post(
        "/articles/",
        headers=author,
        json={"title": "In the feed", "status": "published", "cover_image_id": cover["id"]},
    )
    parsed = feedparser.parse(api.get("/feed.xml").content)
    (entry,) = parsed.entries
    (enclosure,) = entry.enclosures
    assert enclosure.href.endswith(cover["url"]) and enclosure.type == "image/png"


def test_a_dump_carries_assets_and_covers_and_the_bytes_stay_in_the_store(
    api: httpx.Client,
    make_user: UserFactory,
    login: Login,
    database: Database,
    scratch_databases: ScratchDatabases,
    tmp_path: Path,
) -> None:
    author = login(make_user())
    cover = uploaded(api, author)
    api.post("/articles/", headers=author, json={"title": "Dumped", "cover_image_id": cover["id"]})
    runner = CliRunner()
    env = {"CMS_ENVIRONMENT": "test", "CMS_SECRET_KEY": TEST_SECRET_KEY}
    dump = tmp_path / "site.jsonl"
    dumped = runner.invoke(
        cli, ["dumpdata", str(dump)], env={**env, "CMS_DATABASE_URL": database.url}
    )
    assert dumped.exit_code == 0, dumped.output
    target = scratch_databases.create()
    migrations.upgrade(target)
    loaded = runner.invoke(cli, ["loaddata", str(dump)], env={**env, "CMS_DATABASE_URL": target})
    assert loaded.exit_code == 0, loaded.output
    copy = Database(target)
    try:
        with copy.reading() as session:
            asset = session.scalars(select(MediaAsset)).one()
            article = session.scalars(select(Article)).one()
            assert (asset.id, asset.alt, asset.sha256) == (
                cover["id"],
                "A cover",
                cover["url"].split("/")[3],
            )
            assert article.cover_image_id == asset.id
    finally:
        copy.dispose()


def test_our_images_in_a_body_get_dimensions_srcset_and_lazy_loading(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    author = login(make_user())
    image = uploaded(api, author)  # 320 x 200
    url = image["renditions"]["800.png"]
    body = f"![A cover]({url})\n\n![elsewhere](https://example.com/a.png)"
    article = api.post("/articles/", headers=author, json={"title": "Pictured", "body": body})
    html = article.json()["body_html"]
    sha = url.split("/")[3]
    (tag,) = re.findall(r"<img[^>]*/media/files/[^>]*>", html)
    assert 'width="320" height="200"' in tag and 'loading="lazy"' in tag
    assert f"/media/files/{sha}/thumb.png 200w" in tag
    assert f"/media/files/{sha}/400.png 320w" in tag
    assert 'sizes="(max-width: 320px) 100vw, 320px"' in tag
    assert '<img src="https://example.com/a.png" alt="elsewhere">' in html
    # An address that names no asset is left as written.
    changed = api.patch(
        f"/articles/{article.json()['id']}",
        headers=author,
        json={"body": f"![gone](/media/files/{'0' * 64}/400.png)"},
    )
    assert "srcset" not in changed.json()["body_html"]
