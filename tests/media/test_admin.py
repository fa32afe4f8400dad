"""The back office's Media page and the editor's image upload, over real HTTP."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from cms.articles.models import Article
from cms.db import Database
from cms.media.library import MediaLibrary
from cms.media.models import MediaAsset
from cms.media.storage import LocalStorage
from cms.roles import Role
from tests.admin.browser_forms import csrf_token_on
from tests.admin.conftest import signed_in
from tests.conftest import ArticleFactory, LiveServer, UserFactory
from tests.media import files


@pytest.fixture(autouse=True)
def library(
    app: FastAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[MediaLibrary]:
    media: MediaLibrary = app.state.media
    monkeypatch.setattr(media, "storage", LocalStorage(tmp_path / "media-store"))
    yield media
    media.wait_for_renders()


@pytest.fixture
def editor(live_server: LiveServer, make_user: UserFactory) -> Iterator[httpx.Client]:
    """A cookie-keeping client signed in to the back office as an editor."""
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        yield signed_in(client, make_user(role=Role.EDITOR))


def test_the_upload_form_stores_an_image_and_the_grid_shows_its_thumbnail(
    editor: httpx.Client,
) -> None:
    page = editor.get("/admin/media")
    assert page.status_code == 200 and "No images yet" in page.text
    token = csrf_token_on(page)
    response = editor.post(
        "/admin/media/upload",
        data={"csrf_token": token, "alt": "A red door"},
        files={"file": ("door.jpg", files.photo(800, 600), "image/jpeg")},
    )
    assert response.status_code == 303
    grid = editor.get("/admin/media")
    (src,) = re.findall(r'<img src="(/media/files/[0-9a-f]{64}/400\.webp)"', grid.text)
    assert 'alt="A red door"' in grid.text
    assert editor.get(src).status_code == 200
    # The back office may show our own images, and still nothing from elsewhere.
    csp = grid.headers["content-security-policy"]
    assert "img-src 'self' data:;" in csp and "http" not in csp


def test_an_upload_without_the_token_is_refused(editor: httpx.Client) -> None:
    response = editor.post(
        "/admin/media/upload", files={"file": ("x.jpg", files.photo(50, 50), "image/jpeg")}
    )
    assert response.status_code == 403


def test_the_editors_script_upload_answers_json_for_the_markdown(editor: httpx.Client) -> None:
    token = csrf_token_on(editor.get("/admin/article/create"))
    response = editor.post(
        "/admin/media/upload",
        headers={"X-CSRF-Token": token, "Accept": "application/json"},
        files={"file": ("shot.png", files.photo(300, 200, kind="PNG"), "image/png")},
        data={"alt": "shot"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["url"].endswith("/1600.png")
    refused = editor.post(
        "/admin/media/upload",
        headers={"X-CSRF-Token": token, "Accept": "application/json"},
        files={"file": ("page.jpg", files.HTML, "image/jpeg")},
    )
    assert refused.status_code == 422 and "not an image" in refused.json()["detail"]
    forged = editor.post(
        "/admin/media/upload",
        headers={"X-CSRF-Token": "not-the-token", "Accept": "application/json"},
        files={"file": ("shot.png", files.photo(30, 20, kind="PNG"), "image/png")},
    )
    assert forged.status_code == 403


def test_alt_text_and_focal_point_are_saved_from_the_card(editor: httpx.Client) -> None:
    token = csrf_token_on(editor.get("/admin/media"))
    editor.post(
        "/admin/media/upload",
        data={"csrf_token": token},
        files={"file": ("a.jpg", files.photo(100, 100), "image/jpeg")},
    )
    (pk,) = re.findall(r'action="/admin/media/(\d+)"', editor.get("/admin/media").text)
    saved = editor.post(
        f"/admin/media/{pk}",
        data={"csrf_token": token, "alt": "A described image", "focal_x": "0.2", "focal_y": "0.8"},
    )
    assert saved.status_code == 303
    grid = editor.get("/admin/media").text
    assert 'value="A described image"' in grid and 'data-x="0.2" data-y="0.8"' in grid
    bad = editor.post(
        f"/admin/media/{pk}", data={"csrf_token": token, "alt": "x", "focal_x": "2", "focal_y": "0"}
    )
    assert bad.status_code == 303
    assert "between 0 and 1" in editor.get("/admin/media").text


def test_the_article_editor_offers_the_image_picker(editor: httpx.Client) -> None:
    page = editor.get("/admin/article/create")
    assert 'data-upload-url="/admin/media/upload"' in page.text
    assert 'name="cover_image_id"' in page.text


def test_a_script_upload_past_the_form_cap_streams_through(editor: httpx.Client) -> None:
    """The CSRF check reads no body when the token is in the header: a 9 MiB+ photo (over
    the back office's 8 MiB form cap, under the media cap) is stored."""
    token = csrf_token_on(editor.get("/admin/media"))
    photo = files.photo(3000, 2400, quality=100)
    assert len(photo) > 8 * 1024 * 1024
    response = editor.post(
        "/admin/media/upload",
        headers={"X-CSRF-Token": token, "Accept": "application/json"},
        files={"file": ("big.jpg", photo, "image/jpeg")},
    )
    assert response.status_code == 201, response.text
    assert (response.json()["width"], response.json()["bytes"]) == (3000, len(photo))


def test_the_grid_says_which_articles_use_an_image_as_their_cover(
    editor: httpx.Client, make_user: UserFactory, make_article: ArticleFactory, database: Database
) -> None:
    token = csrf_token_on(editor.get("/admin/media"))
    editor.post(
        "/admin/media/upload",
        data={"csrf_token": token},
        files={"file": ("c.jpg", files.photo(100, 100), "image/jpeg")},
    )
    with database.reading() as session:
        asset_id = session.scalars(select(MediaAsset.id)).one()
    article = make_article(author=make_user(), title="Uses the picture")
    with database.transaction() as session:
        session.execute(
            update(Article).where(Article.id == article.id).values(cover_image_id=asset_id)
        )
    grid = editor.get("/admin/media").text
    assert "Cover of" in grid and f'/admin/article/edit/{article.id}">Uses the picture</a>' in grid


def test_an_author_cannot_change_or_delete_another_authors_image(
    live_server: LiveServer, make_user: UserFactory, database: Database
) -> None:
    with httpx.Client(base_url=live_server.url, timeout=30) as owner:
        signed_in(owner, make_user(name="Bea Owner"))
        token = csrf_token_on(owner.get("/admin/media"))
        uploaded = owner.post(
            "/admin/media/upload",
            data={"csrf_token": token, "alt": "Bea's door"},
            files={"file": ("door.jpg", files.photo(400, 300), "image/jpeg")},
        )
        assert uploaded.status_code == 303
    with database.sessionmaker() as session:
        asset = session.scalars(select(MediaAsset)).one()
    with httpx.Client(base_url=live_server.url, timeout=30) as other:
        signed_in(other, make_user(name="Ann Other"))
        page = other.get("/admin/media")
        assert "Bea&#39;s door" not in page.text and "Bea's door" not in page.text
        token = csrf_token_on(page)
        for path, data in (
            (f"/admin/media/{asset.id}", {"alt": "Defaced", "focal_x": "0", "focal_y": "0"}),
            (f"/admin/media/{asset.id}/delete", {}),
        ):
            answer = other.post(path, data={"csrf_token": token, **data})
            assert answer.status_code in (303, 403, 404)
    with database.sessionmaker() as session:
        kept = session.get(MediaAsset, asset.id)
        assert kept is not None and kept.alt == "Bea's door"
