"""Media stores for the tests: a folder of the test's own, or a fresh bucket on an S3
server (moto's, threaded, on loopback: real HTTP, as to MinIO or AWS)."""

from __future__ import annotations

import secrets
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from cms.media.storage import S3Storage

S3_CREDENTIALS = {"access_key_id": "testing", "secret_access_key": "testing"}


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def new_bucket(endpoint: str) -> S3Storage:
    """A store over a bucket no other test uses."""
    store = S3Storage(
        bucket=f"media-{secrets.token_hex(6)}",
        endpoint_url=endpoint,
        region="us-east-1",
        path_style=True,
        prefix="site",
        **S3_CREDENTIALS,
    )
    store.client.create_bucket(Bucket=store.bucket)
    return store


def s3_settings(store: S3Storage, endpoint: str) -> dict[str, Any]:
    """The CMS_* settings naming ``store``."""
    return {
        "CMS_MEDIA_STORAGE": "s3",
        "CMS_MEDIA_S3_BUCKET": store.bucket,
        "CMS_MEDIA_S3_ENDPOINT_URL": endpoint,
        "CMS_MEDIA_S3_REGION": "us-east-1",
        "CMS_MEDIA_S3_ACCESS_KEY_ID": "testing",
        "CMS_MEDIA_S3_SECRET_ACCESS_KEY": "testing",
        "CMS_MEDIA_S3_PATH_STYLE": "true",
        "CMS_MEDIA_S3_PREFIX": "site",
    }
