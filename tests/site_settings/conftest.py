"""Fixtures for the site settings: images in the media library (rows only: no page here
loads their bytes)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator

import httpx
import pytest

from cms.db import Database
from cms.media.models import MediaAsset
from tests.conftest import LiveServer

AssetFactory = Callable[..., MediaAsset]


@pytest.fixture
def make_asset(database: Database) -> AssetFactory:
    counter = iter(range(1, 1_000_000))

    def factory(*, alt: str = "", mime: str = "image/png") -> MediaAsset:
        number = next(counter)
        asset = MediaAsset(
            sha256=hashlib.sha256(f"image {number}".encode()).hexdigest(),
            mime=mime,
            bytes=1234,
            width=400,
            height=100,
            alt=alt or f"Logo {number}",
        )
        with database.transaction() as session:
            session.add(asset)
        return asset

    return factory


@pytest.fixture
def browser(live_server: LiveServer, database: Database) -> Iterator[httpx.Client]:
    """A cookie-keeping HTTP client, like a browser without JavaScript."""
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        yield client
