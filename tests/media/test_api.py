"""``/media/`` over real HTTP: uploads, hostile files, permissions, renditions, deletes."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from PIL import Image
from sqlalchemy import func, select
from typer.testing import CliRunner

from cms.cli import app as cli
from cms.db import Database
from cms.media.library import MediaLibrary
from cms.media.models import MediaAsset
from cms.media.storage import LocalStorage, S3Storage, Storage, original_key, rendition_key
from cms.roles import Role
from tests.conftest import (
    TEST_SECRET_KEY,
    LiveServer,
    UserFactory,
    failing_commits,
    make_settings,
)
from tests.media import files
from tests.media.conftest import new_bucket, s3_settings

Login = Callable[..., dict[str, str]]


@pytest.fixture(autouse=True, params=["local", "s3"])
def library(
    app: FastAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[MediaLibrary]:
    """The app's media library, over a store of this test's own: every test here runs
    against a folder and against an S3 bucket."""
    media: MediaLibrary = app.state.media
    if request.param == "s3":
        store: Storage = new_bucket(request.getfixturevalue("s3_endpoint"))
    else:
        store = LocalStorage(tmp_path / "media-store")
    monkeypatch.setattr(media, "storage", store)
    yield media
    media.wait_for_renders()


@pytest.fixture
def author(make_user: UserFactory, login: Login) -> dict[str, str]:
    return login(make_user())


def upload(
    api: httpx.Client,
    headers: dict[str, str],
    data: bytes,
    *,
    name: str = "photo.jpg",
    alt: str = "",
    content_type: str = "image/jpeg",
) -> httpx.Response:
    return api.post(
        "/media/",
        headers=headers,
        files={"file": (name, data, content_type)},
        data={"alt": alt},
    )


def count_assets(database: Database) -> int:
    with database.reading() as session:
        return session.scalar(select(func.count()).select_from(MediaAsset)) or 0


def test_an_upload_answers_201_with_the_asset_and_every_rendition_is_served(
    api: httpx.Client, author: dict[str, str], library: MediaLibrary
) -> None:
    response = upload(api, author, files.photo(2400, 1600), alt="A gradient")
    assert response.status_code == 201, response.text
    asset = response.json()
    assert response.headers["Location"] == f"/media/{asset['id']}"
    assert (asset["mime"], asset["width"], asset["height"]) == ("image/jpeg", 2400, 1600)
    assert asset["alt"] == "A gradient"
    assert asset["focal_point"] == {"x": 0.5, "y": 0.5}
    assert set(asset["renditions"]) == {
        f"{size}.{ext}"
        for size in ("thumb", "400", "800", "1600")
        for ext in ("jpg", "webp", "avif")
    }
    assert asset["url"] == asset["renditions"]["1600.jpg"]
    library.wait_for_renders()
    for name, url in asset["renditions"].items():
        served = api.get(url)
        assert served.status_code == 200, name
        assert served.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert served.headers["X-Content-Type-Options"] == "nosniff"
        assert (
            served.headers["Content-Type"]
            == {
                "webp": "image/webp",
                "avif": "image/avif",
                "jpg": "image/jpeg",
            }[name.split(".")[1]]
        )
        width = Image.open(io.BytesIO(served.content)).width
        assert width == {"thumb": 200, "400": 400, "800": 800, "1600": 1600}[name.split(".")[0]]
        again = api.get(url, headers={"If-None-Match": served.headers["ETag"]})
        assert again.status_code == 304 and again.content == b""


def test_a_rendition_not_made_yet_is_made_on_its_first_request(
    api: httpx.Client, author: dict[str, str], library: MediaLibrary
) -> None:
    asset = upload(api, author, files.photo(900, 600, kind="PNG")).json()
    library.wait_for_renders()
    sha256 = asset["url"].split("/")[3]
    for name in asset["renditions"]:
        library.storage.delete(rendition_key(sha256, name))
    served = api.get(asset["renditions"]["800.png"])
    assert served.status_code == 200
    assert Image.open(io.BytesIO(served.content)).size == (800, 533)


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (files.HTML, "photo.jpg"),
        (files.SVG, "drawing.svg"),
        (b"", "empty.png"),
        (b"GIF89a", "short.gif"),
    ],
)
def test_files_that_are_not_accepted_images_are_415(
    api: httpx.Client, author: dict[str, str], database: Database, data: bytes, name: str
) -> None:
    response = upload(api, author, data, name=name)
    assert response.status_code in (415, 422), response.text
    assert response.status_code == 415 or data == b"GIF89a"
    assert count_assets(database) == 0


def test_html_renamed_jpg_is_refused_by_what_it_is_not_by_its_name(
    api: httpx.Client, author: dict[str, str]
) -> None:
    response = upload(api, author, files.HTML, name="cat.jpg", content_type="image/jpeg")
    assert response.status_code == 415
    assert "not an image of an accepted type" in response.json()["detail"]


def test_decompression_bombs_are_422_and_nothing_is_stored(
    api: httpx.Client, author: dict[str, str], database: Database, library: MediaLibrary
) -> None:
    bomb = files.png_claiming(30_000, 30_000)
    response = upload(api, author, bomb, name="small.png")
    assert response.status_code == 422
    assert "too large" in response.json()["detail"][0]["msg"]
    over_the_sites_cap = files.png_claiming(8000, 8000)  # 64 MP: under Pillow's ceiling
    assert upload(api, author, over_the_sites_cap).status_code == 422
    assert count_assets(database) == 0
    assert not list(library.storage.list("originals/"))


def test_exif_and_gps_never_reach_a_reader_and_orientation_is_applied(
    api: httpx.Client, author: dict[str, str], library: MediaLibrary
) -> None:
    asset = upload(api, author, files.jpeg_with_gps_and_rotation(600, 400)).json()
    assert (asset["width"], asset["height"]) == (400, 600)
    library.wait_for_renders()
    for url in asset["renditions"].values():
        body = api.get(url).content
        assert b"Secret Camera" not in body and b"Exif" not in body
        image = Image.open(io.BytesIO(body))
        assert not image.getexif() and image.height > image.width


def test_a_jpeg_html_polyglot_is_served_as_pixels_only(
    api: httpx.Client, author: dict[str, str], library: MediaLibrary
) -> None:
    response = upload(api, author, files.jpeg_html_polyglot(), name="page.html")
    assert response.status_code == 201
    asset = response.json()
    library.wait_for_renders()
    for url in asset["renditions"].values():
        served = api.get(url)
        assert b"<script" not in served.content and served.headers["Content-Type"] != "text/html"
    sha256 = asset["url"].split("/")[3]
    # The uploaded bytes themselves have no public address.
    assert library.storage.exists(original_key(sha256))
    for guess in ("original", sha256, "page.html", "1600.gif", "../../originals"):
        assert api.get(f"/media/files/{sha256}/{guess}").status_code == 404


def test_identical_bytes_are_two_assets_over_one_stored_file(
    api: httpx.Client, author: dict[str, str], library: MediaLibrary
) -> None:
    data = files.photo(300, 200)
    first = upload(api, author, data, alt="first").json()
    second = upload(api, author, data, alt="second").json()
    assert first["id"] != second["id"] and first["url"] == second["url"]
    sha256 = first["url"].split("/")[3]
    assert [item.key for item in library.storage.list("originals/")] == [original_key(sha256)]


def test_two_different_files_of_the_same_name_are_two_files(
    api: httpx.Client, author: dict[str, str]
) -> None:
    one = upload(api, author, files.photo(300, 200), name="photo.jpg").json()
    two = upload(api, author, files.photo(301, 200), name="photo.jpg").json()
    assert one["url"] != two["url"]
    assert api.get(one["url"]).content != api.get(two["url"]).content


def test_anonymous_callers_cannot_upload(api: httpx.Client, database: Database) -> None:
    assert upload(api, {}, files.photo(50, 50)).status_code == 401
    assert count_assets(database) == 0


def test_only_the_uploader_and_staff_see_and_change_an_asset(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    owner, other = login(make_user()), login(make_user())
    editor = login(make_user(role=Role.EDITOR))
    asset = upload(api, owner, files.photo(60, 40)).json()
    path = f"/media/{asset['id']}"
    assert api.get(path, headers=other).status_code == 404
    assert api.patch(path, headers=other, json={"alt": "mine now"}).status_code == 404
    assert api.delete(path, headers=other).status_code == 404
    assert [item["id"] for item in api.get("/media/", headers=other).json()] == []
    assert [item["id"] for item in api.get("/media/", headers=owner).json()] == [asset["id"]]
    assert [item["id"] for item in api.get("/media/", headers=editor).json()] == [asset["id"]]
    changed = api.patch(
        path, headers=editor, json={"alt": "A sunset", "focal_point": {"x": 0.25, "y": 1}}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["alt"] == "A sunset"
    assert changed.json()["focal_point"] == {"x": 0.25, "y": 1.0}
    assert api.get(path, headers=owner).json()["alt"] == "A sunset"


@pytest.mark.parametrize(
    "body",
    [
        {"focal_point": {"x": 1.5, "y": 0.5}},
        {"focal_point": {"x": 0.5}},
        {"alt": None},
        {"alt": "x" * 501},
        {"unknown": 1},
    ],
)
def test_bad_changes_are_422(
    api: httpx.Client, author: dict[str, str], body: dict[str, Any]
) -> None:
    asset = upload(api, author, files.photo(60, 40)).json()
    assert api.patch(f"/media/{asset['id']}", headers=author, json=body).status_code == 422


def test_a_delete_removes_the_bytes_after_its_commit_unless_shared(
    api: httpx.Client,
    author: dict[str, str],
    library: MediaLibrary,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(library, "gc_grace", timedelta(0))
    data = files.photo(300, 200)
    first = upload(api, author, data).json()
    second = upload(api, author, data).json()
    library.wait_for_renders()
    sha256 = first["url"].split("/")[3]
    assert api.delete(f"/media/{first['id']}", headers=author).status_code == 204
    assert library.storage.exists(original_key(sha256))  # the second asset has them
    assert api.get(second["url"]).status_code == 200
    assert api.delete(f"/media/{second['id']}", headers=author).status_code == 204
    assert not library.storage.exists(original_key(sha256))
    assert not list(library.storage.list(f"renditions/{sha256[:2]}/{sha256}/"))
    assert api.get(second["url"]).status_code == 404


def test_a_delete_that_fails_to_commit_keeps_the_bytes(
    api: httpx.Client,
    author: dict[str, str],
    library: MediaLibrary,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(library, "gc_grace", timedelta(0))
    asset = upload(api, author, files.photo(300, 200)).json()
    library.wait_for_renders()
    with failing_commits(database):
        assert api.delete(f"/media/{asset['id']}", headers=author).status_code == 500
    assert api.get(asset["url"]).status_code == 200
    assert count_assets(database) == 1


def test_an_upload_that_fails_to_commit_leaves_no_row_and_gc_reclaims_its_bytes(
    api: httpx.Client,
    author: dict[str, str],
    library: MediaLibrary,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with failing_commits(database):
        assert upload(api, author, files.photo(300, 200)).status_code == 500
    assert count_assets(database) == 0
    # Nothing is rendered for it, and the rendering slot was given back.
    assert not list(library.storage.list("renditions/"))
    monkeypatch.setattr(library, "slot_wait", 0)
    slots = [library.take_slot() for _ in range(2)]
    for slot in slots:
        slot.release()
    assert len(list(library.storage.list("originals/"))) == 1
    store = library.storage
    env = {
        "CMS_DATABASE_URL": database.url,
        "CMS_ENVIRONMENT": "test",
        "CMS_SECRET_KEY": TEST_SECRET_KEY,
    }
    if isinstance(store, S3Storage):
        env.update(s3_settings(store, str(store.client.meta.endpoint_url)))
    else:
        assert isinstance(store, LocalStorage)
        env["CMS_MEDIA_ROOT"] = str(store.root)
    runner = CliRunner()
    kept = runner.invoke(cli, ["media", "gc"], env=env)  # within the grace period
    assert kept.exit_code == 0, kept.output
    assert len(list(library.storage.list("originals/"))) == 1
    env["CMS_MEDIA_GC_GRACE_SECONDS"] = "0"
    dry = runner.invoke(cli, ["media", "gc", "--dry-run"], env=env)
    assert dry.exit_code == 0 and len(list(library.storage.list("originals/"))) == 1
    collected = runner.invoke(cli, ["media", "gc"], env=env)
    assert collected.exit_code == 0, collected.output
    assert list(library.storage.list("originals/")) == []


def test_uploads_past_the_decoding_slots_are_503_with_retry_after(
    api: httpx.Client,
    author: dict[str, str],
    library: MediaLibrary,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    library.wait_for_renders()
    slots = [library.take_slot() for _ in range(2)]
    monkeypatch.setattr(library, "slot_wait", 0.2)
    try:
        response = upload(api, author, files.photo(100, 100))
        assert response.status_code == 503
        assert int(response.headers["Retry-After"]) >= 1
    finally:
        for slot in slots:
            slot.release()
    assert count_assets(database) == 0
    assert upload(api, author, files.photo(100, 100)).status_code == 201


@pytest.fixture
def small_caps(database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    """A server whose caps are small enough to pass with small files."""
    from cms.asgi import build_app

    settings = make_settings(
        database_url,
        media_root=tmp_path / "media",
        media_max_upload_bytes=100_000,
        media_max_pixels=1_000_000,
    )
    with LiveServer(build_app(settings)) as server:
        yield server


def test_an_upload_past_its_own_size_cap_is_413_and_json_keeps_its_cap(
    small_caps: LiveServer, make_user: UserFactory, login: Login, app: FastAPI
) -> None:
    headers = login(make_user())
    with httpx.Client(base_url=small_caps.url, timeout=30) as client:
        big = files.photo(1000, 1000, quality=100)
        assert len(big) > 100_000
        assert upload(client, headers, big).status_code == 413
        # Under the upload cap but over the file cap once the multipart framing is off.
        response = upload(client, headers, files.photo(900, 900, quality=95)[:100_010])
        assert response.status_code in (413, 422)
        assert upload(client, headers, files.photo(200, 200)).status_code == 201
        gif = files.animated_gif(300, 300, frames=12)  # 1.08 MP over 12 frames
        refused = upload(client, headers, gif, name="a.gif")
        assert refused.status_code == 422
        assert "frames" in refused.json()["detail"][0]["msg"]
    # The main server's upload cap is far above the 8 MiB a JSON body may have.
    assert app.state.media.max_upload_bytes > 8 * 1024 * 1024


def _metric(api: httpx.Client, line_start: str) -> float:
    for line in api.get("/metrics").text.splitlines():
        if line.startswith(line_start + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{line_start} not in /metrics")


def test_metrics_count_uploads_refusals_and_rendition_time(
    api: httpx.Client, author: dict[str, str], library: MediaLibrary
) -> None:
    uploads = 'cms_media_uploads_total{surface="api"}'
    refused = 'cms_media_refusals_total{reason="unsupported_type"}'
    rendered = "cms_media_rendition_seconds_count"
    before = {name: _metric(api, name) for name in (uploads, refused, rendered)}
    assert upload(api, author, files.photo(120, 80)).status_code == 201
    assert upload(api, author, files.HTML).status_code == 415
    library.wait_for_renders()
    after = {name: _metric(api, name) for name in (uploads, refused, rendered)}
    assert {name: after[name] - before[name] for name in after} == {
        uploads: 1,
        refused: 1,
        rendered: 1,
    }


def test_an_account_past_its_quota_is_told_so_and_nothing_is_stored(
    api: httpx.Client,
    make_user: UserFactory,
    login: Login,
    library: MediaLibrary,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, second = files.photo(200, 200), files.photo(201, 200)
    monkeypatch.setattr(library, "quota_bytes_per_account", len(first) + len(second) - 1)
    author, other = login(make_user()), login(make_user())
    assert upload(api, author, first).status_code == 201
    refused = upload(api, author, second)
    assert refused.status_code == 413 and "quota" in refused.json()["detail"]
    assert count_assets(database) == 1
    assert upload(api, other, second).status_code == 201  # a quota is per account


def test_a_png_or_webp_with_an_exif_orientation_is_described_upright(
    api: httpx.Client, author: dict[str, str]
) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # turned a quarter
    for kind in ("PNG", "WEBP"):
        data = files.photo(600, 400, kind=kind, exif=exif.tobytes())
        asset = upload(api, author, data, name=f"turned.{kind.lower()}").json()
        assert (asset["width"], asset["height"]) == (400, 600), kind
