"""The media library in a real headless Chromium: an image uploaded from the article
editor lands at the cursor, shows in the preview, and the article is published with it
as its cover; the Media page sets a focal point by a click. No CSP violation anywhere."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from playwright.sync_api import FilePayload, Page, expect
from sqlalchemy import select

from cms.articles.models import Article, ArticleStatus
from cms.db import Database
from cms.media.library import MediaLibrary
from cms.media.models import MediaAsset
from cms.media.storage import LocalStorage
from cms.roles import Role
from tests.admin.test_browser import chromium, page, save, sign_in, site  # noqa: F401
from tests.conftest import UserFactory
from tests.media import files

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def library(
    app: FastAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[MediaLibrary]:
    media: MediaLibrary = app.state.media
    monkeypatch.setattr(media, "storage", LocalStorage(tmp_path / "media-store"))
    yield media
    media.wait_for_renders()


@pytest.fixture
def csp_violations(page: Page) -> list[str]:  # noqa: F811
    seen: list[str] = []
    page.on(
        "console",
        lambda message: (
            seen.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return seen


def test_an_image_uploaded_in_the_editor_is_inserted_previewed_and_published(
    page: Page,  # noqa: F811
    make_user: UserFactory,
    database: Database,
    csp_violations: list[str],
) -> None:
    sign_in(page, make_user(role=Role.EDITOR).email)
    page.goto("/admin/article/create")
    page.fill("#title", "With a picture")
    page.fill("#body", "Before the picture.\n\n")
    page.focus("#body")
    page.keyboard.press("Control+End")
    page.set_input_files(
        "#cms-image-file",
        files=[
            FilePayload(
                name="sunset-over-sea.png",
                mimeType="image/png",
                buffer=files.photo(900, 600, kind="PNG"),
            )
        ],
    )
    expect(page.locator(".cms-image-state")).to_contain_text("Inserted image #")
    body = page.input_value("#body")
    match = re.search(r"!\[sunset over sea\]\((/media/files/[0-9a-f]{64}/1600\.png)\)$", body)
    assert match, body
    assert body.startswith("Before the picture.\n\n")
    preview = page.locator(f".cms-preview-body img[src='{match.group(1)}']")
    # Shown once its rendition is made (after the upload, on a pool of decoding slots:
    # seconds on a loaded machine).
    expect(preview).to_be_visible(timeout=30_000)
    page.wait_for_function(
        "src => [...document.images].some("
        "i => i.getAttribute('src') === src && i.naturalWidth > 0)",
        arg=match.group(1),
    )
    with database.sessionmaker() as session:
        asset = session.scalars(select(MediaAsset)).one()
    page.fill("#cover_image_id", str(asset.id))
    page.check("input[name=state][value=published]")
    save(page)
    with database.sessionmaker() as session:
        article = session.scalars(select(Article)).one()
    assert article.status is ArticleStatus.PUBLISHED and article.cover_image_id == asset.id
    (tag,) = re.findall(r"<img [^>]*>", article.body_html)
    assert f'src="{match.group(1)}"' in tag and 'alt="sunset over sea"' in tag
    assert 'width="900" height="600"' in tag and 'loading="lazy"' in tag
    assert csp_violations == []


def test_a_click_on_the_picture_sets_its_focal_point(
    page: Page,  # noqa: F811
    make_user: UserFactory,
    database: Database,
    csp_violations: list[str],
) -> None:
    sign_in(page, make_user(role=Role.EDITOR).email)
    page.goto("/admin/media")
    page.set_input_files(
        "#media-file",
        files=[FilePayload(name="door.jpg", mimeType="image/jpeg", buffer=files.photo(400, 400))],
    )
    page.fill("#media-alt", "A red door")
    with page.expect_navigation():
        page.click(".cms-media-upload button[type=submit]")
    picture = page.locator(".cms-focal img")
    expect(picture).to_be_visible()
    page.wait_for_function("() => [...document.images].some(i => i.naturalWidth > 0)")
    box = picture.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.75)
    with page.expect_navigation():
        page.click(".cms-media-card button[type=submit]:has-text('Save')")
    with database.sessionmaker() as session:
        asset = session.scalars(select(MediaAsset)).one()
    assert asset.alt == "A red door"
    assert abs(asset.focal_x - 0.25) < 0.02 and abs(asset.focal_y - 0.75) < 0.02
    assert csp_violations == []
