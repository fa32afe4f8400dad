"""The S3 store against a real S3 API on loopback: put, get, delete, list, presigned GET."""

from __future__ import annotations

import io
from datetime import timedelta

import httpx
import pytest

from cms.config import Settings
from cms.db import utcnow
from cms.media.library import storage_for
from cms.media.storage import S3Storage
from tests.conftest import TEST_SECRET_KEY
from tests.media.conftest import new_bucket, s3_settings


@pytest.fixture
def store(s3_endpoint: str) -> S3Storage:
    return new_bucket(s3_endpoint)


def test_put_get_list_and_delete(store: S3Storage) -> None:
    store.put_bytes("renditions/ab/abc/400.webp", b"small")
    store.put_file("originals/ab/abc", io.BytesIO(b"x" * (9 * 1024 * 1024)))  # multipart
    with store.open("originals/ab/abc") as body:
        assert len(body.read()) == 9 * 1024 * 1024
    assert store.exists("renditions/ab/abc/400.webp")
    assert not store.exists("renditions/ab/abc/800.webp")
    written = store.modified_at("renditions/ab/abc/400.webp")
    assert written is not None and abs(written - utcnow()) < timedelta(minutes=5)
    assert [item.key for item in store.list("renditions/")] == ["renditions/ab/abc/400.webp"]
    # Under the configured prefix in the bucket itself.
    listed = store.client.list_objects_v2(Bucket=store.bucket)["Contents"]
    assert sorted(item["Key"] for item in listed) == [
        "site/originals/ab/abc",
        "site/renditions/ab/abc/400.webp",
    ]
    store.delete("renditions/ab/abc/400.webp")
    store.delete("renditions/ab/abc/400.webp")  # deleting what is gone is no error
    assert not store.exists("renditions/ab/abc/400.webp")
    with pytest.raises(FileNotFoundError):
        store.open("renditions/ab/abc/400.webp")
    assert store.modified_at("renditions/ab/abc/400.webp") is None


def test_a_presigned_get_serves_the_object_to_anyone_holding_it(store: S3Storage) -> None:
    store.put_bytes("renditions/cd/cde/thumb.webp", b"pixels")
    url = store.presigned_url("renditions/cd/cde/thumb.webp", expires_in=60)
    assert httpx.get(url).content == b"pixels"
    unsigned = url.split("?", 1)[0]
    assert httpx.get(unsigned).status_code == 403 or httpx.get(unsigned).content != b"pixels"


def test_keys_outside_the_store_are_refused(store: S3Storage) -> None:
    with pytest.raises(ValueError, match="not a key"):
        store.put_bytes("../other/key", b"")


def test_the_settings_choose_the_store(store: S3Storage, s3_endpoint: str) -> None:
    values = {
        key.removeprefix("CMS_").lower(): value
        for key, value in s3_settings(store, s3_endpoint).items()
    }
    settings = Settings(_env_file=None, environment="test", secret_key=TEST_SECRET_KEY, **values)
    chosen = storage_for(settings)
    assert isinstance(chosen, S3Storage) and chosen.bucket == store.bucket
    chosen.put_bytes("originals/ef/efg", b"same bucket")
    with store.open("originals/ef/efg") as body:
        assert body.read() == b"same bucket"
    with pytest.raises(ValueError, match="CMS_MEDIA_S3_BUCKET"):
        Settings(_env_file=None, environment="test", secret_key=TEST_SECRET_KEY, media_storage="s3")
