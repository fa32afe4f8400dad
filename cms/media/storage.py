"""Where media bytes live: a small interface, a local-disk backend and an S3 one.

Keys are made from the content's SHA-256 (:func:`original_key`, :func:`rendition_key`),
never from a file name a user chose, so a write is idempotent: writing a key again writes
the same bytes. Every write lands under a temporary name and is renamed into place, so a
reader never sees half a file. Bytes written for a transaction that then fails are left
unreferenced and reclaimed by ``cms media gc``; bytes are removed only after the delete
that stops referencing them has committed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

ORIGINALS = "originals"
RENDITIONS = "renditions"
_CHUNK = 1024 * 1024


def original_key(sha256: str) -> str:
    """The uploaded bytes (never served as they are)."""
    return f"{ORIGINALS}/{sha256[:2]}/{sha256}"


def rendition_prefix(sha256: str) -> str:
    return f"{RENDITIONS}/{sha256[:2]}/{sha256}/"


def rendition_key(sha256: str, filename: str) -> str:
    """A re-encoded size of those bytes, e.g. ``400.webp``."""
    return rendition_prefix(sha256) + filename


@dataclass(frozen=True)
class StoredObject:
    key: str
    modified_at: datetime


class Storage(ABC):
    """What the media domain needs of a store. Keys are ``/``-separated relative paths."""

    @abstractmethod
    def put_file(self, key: str, source: BinaryIO) -> None:
        """Store what ``source`` holds (read from its current position) under ``key``."""

    @abstractmethod
    def put_bytes(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key``."""

    @abstractmethod
    def open(self, key: str) -> BinaryIO:
        """The stored bytes, for reading; :class:`FileNotFoundError` if there are none."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def modified_at(self, key: str) -> datetime | None:
        """When ``key`` was last written; ``None`` if it is not there."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove ``key``; nothing happens if it is not there."""

    @abstractmethod
    def list(self, prefix: str) -> Iterator[StoredObject]:
        """Every key under ``prefix``, with when it was last written."""

    def local_path(self, key: str) -> Path | None:
        """A path the server may send from directly, for stores on this machine."""
        return None


class LocalStorage(Storage):
    """Files under ``root`` (``CMS_MEDIA_ROOT``), one per key."""

    def __init__(self, root: Path) -> None:
        self.root = root.expanduser().resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root) or path == self.root:
            raise ValueError(f"not a key of this store: {key!r}")
        return path

    def _write(self, key: str, write: BinaryIO | bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        try:
            with os.fdopen(descriptor, "wb") as file:
                if isinstance(write, bytes):
                    file.write(write)
                else:
                    shutil.copyfileobj(write, file, _CHUNK)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise

    def put_file(self, key: str, source: BinaryIO) -> None:
        self._write(key, source)

    def put_bytes(self, key: str, data: bytes) -> None:
        self._write(key, data)

    def open(self, key: str) -> BinaryIO:
        return self._path(key).open("rb")

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def modified_at(self, key: str) -> datetime | None:
        try:
            return datetime.fromtimestamp(self._path(key).stat().st_mtime, UTC)
        except FileNotFoundError:
            return None

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(key).unlink()

    def list(self, prefix: str) -> Iterator[StoredObject]:
        base = self.root / prefix
        if not base.is_dir():
            return
        for path in sorted(base.rglob("*")):
            if path.is_file() and not path.name.startswith(".incoming-"):
                modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
                yield StoredObject(path.relative_to(self.root).as_posix(), modified)

    def local_path(self, key: str) -> Path | None:
        return self._path(key)


class S3Storage(Storage):
    """Objects in a bucket of any S3-compatible store (AWS, MinIO, R2, Ceph…), under
    ``prefix``. A PUT is atomic: an object appears whole or not at all."""

    def __init__(
        self,
        *,
        bucket: str,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        path_style: bool = False,
        prefix: str = "",
    ) -> None:
        # Imported here: boto3 is needed only by sites that configure this store.
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.client: Any = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=Config(
                s3={"addressing_style": "path" if path_style else "auto"},
                retries={"max_attempts": 3, "mode": "standard"},
            ),
        )

    def _key(self, key: str) -> str:
        if key.startswith("/") or ".." in key.split("/"):
            raise ValueError(f"not a key of this store: {key!r}")
        return self.prefix + key

    def put_file(self, key: str, source: BinaryIO) -> None:
        # Multipart past a few MiB, read from the file as it goes: never whole in memory.
        self.client.upload_fileobj(source, self.bucket, self._key(key))

    def put_bytes(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)

    def open(self, key: str) -> BinaryIO:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except self.client.exceptions.NoSuchKey:
            raise FileNotFoundError(key) from None
        body: BinaryIO = answer["Body"]
        return body

    def _head(self, key: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            head: dict[str, Any] = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return head

    def exists(self, key: str) -> bool:
        return self._head(key) is not None

    def modified_at(self, key: str) -> datetime | None:
        head = self._head(key)
        return None if head is None else _aware(head["LastModified"])

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def list(self, prefix: str) -> Iterator[StoredObject]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._key(prefix)
        )
        for page in pages:
            for item in page.get("Contents", []):
                key = str(item["Key"])[len(self.prefix) :]
                yield StoredObject(key, _aware(item["LastModified"]))

    def presigned_url(self, key: str, *, expires_in: int = 300) -> str:
        """A time-limited address a client can GET the object from directly."""
        url: str = self.client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": self._key(key)},
            ExpiresIn=expires_in,
        )
        return url


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
