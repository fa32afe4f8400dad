"""The media library of one application: its store, its caps, and the rendering work.

Rendering decodes an image, which costs memory in proportion to its pixels; a process
does at most ``CMS_MEDIA_RENDER_SLOTS`` of it at once. An upload takes a slot before it
decodes anything and hands it, with the decoded pixels, to a background thread once its
transaction has committed; the upload is answered without waiting for the renditions.
With every slot taken, the upload (or a rendition asked for before it exists) is
answered 503 with ``Retry-After`` instead of queueing memory.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent import futures
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO, TypeVar, cast

from PIL import Image
from sqlalchemy import Connection, select

from cms import metrics
from cms.config import Settings
from cms.db import Database, utcnow
from cms.errors import Busy
from cms.media import images
from cms.media.models import MediaAsset
from cms.media.storage import (
    ORIGINALS,
    RENDITIONS,
    LocalStorage,
    S3Storage,
    Storage,
    original_key,
    rendition_key,
    rendition_prefix,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")
BUSY = "The server is processing as many images as it can at once; retry in a moment"
RETRY_AFTER_SECONDS = 2


@dataclass
class Slot:
    """The right to decode one image; released exactly once."""

    semaphore: threading.BoundedSemaphore
    released: bool = field(default=False)

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.semaphore.release()


def storage_for(settings: Settings) -> Storage:
    """The store ``CMS_MEDIA_STORAGE`` names."""
    if settings.media_storage == "s3":
        assert settings.media_s3_bucket is not None
        secret = settings.media_s3_secret_access_key
        return S3Storage(
            bucket=settings.media_s3_bucket,
            endpoint_url=settings.media_s3_endpoint_url,
            region=settings.media_s3_region,
            access_key_id=settings.media_s3_access_key_id,
            secret_access_key=secret.get_secret_value() if secret is not None else None,
            path_style=settings.media_s3_path_style,
            prefix=settings.media_s3_prefix,
        )
    return LocalStorage(Path(settings.media_root))


class MediaLibrary:
    """What the API, the back office and the command line share about media."""

    def __init__(
        self,
        storage: Storage,
        database: Database,
        *,
        max_pixels: int,
        max_upload_bytes: int,
        render_slots: int,
        gc_grace_seconds: int,
        render_wait_seconds: float = 0,
        quota_bytes_per_account: int = 0,
    ) -> None:
        self.storage = storage
        self.database = database
        self.max_pixels = max_pixels
        self.max_upload_bytes = max_upload_bytes
        self.gc_grace = timedelta(seconds=gc_grace_seconds)
        self._slots = threading.BoundedSemaphore(render_slots)
        self.slot_wait = render_wait_seconds
        self.quota_bytes_per_account = quota_bytes_per_account
        # Every decode and encode runs on these threads, one per slot: the memory an image
        # takes is then freed back to the same few allocator arenas instead of staying
        # behind in each of the request threads that once decoded one (with 40 request
        # threads, 20 simultaneous uploads left a worker at 740 MB instead of 300 MB; see
        # docs/architecture.md, "Media").
        self._pool = ThreadPoolExecutor(max_workers=render_slots, thread_name_prefix="media")
        self._renders: list[Future[None]] = []

    @classmethod
    def from_settings(cls, settings: Settings, database: Database) -> MediaLibrary:
        return cls(
            storage_for(settings),
            database,
            max_pixels=settings.media_max_pixels,
            max_upload_bytes=settings.media_max_upload_bytes,
            render_slots=settings.media_render_slots,
            gc_grace_seconds=settings.media_gc_grace_seconds,
            render_wait_seconds=settings.media_render_wait_seconds,
            quota_bytes_per_account=settings.media_quota_bytes_per_account,
        )

    # Rendering

    def take_slot(self) -> Slot:
        """A rendering slot, or :class:`Busy` when every one is still taken after
        ``slot_wait`` seconds (a short burst of uploads queues; a flood is turned away)."""
        if self.slot_wait > 0:
            acquired = self._slots.acquire(timeout=self.slot_wait)
        else:
            acquired = self._slots.acquire(blocking=False)
        if not acquired:
            raise Busy(BUSY, retry_after=RETRY_AFTER_SECONDS)
        return Slot(self._slots)

    def store_renditions(self, pixels: Image.Image, *, sha256: str, source_format: str) -> None:
        started = time.perf_counter()
        for filename, data in images.render(pixels, source_format=source_format):
            self.storage.put_bytes(rendition_key(sha256, filename), data)
        metrics.RENDITION_SECONDS.observe(time.perf_counter() - started)

    def render_in_background(
        self, pixels: Image.Image, *, sha256: str, source_format: str, slot: Slot
    ) -> None:
        """Write every rendition on a media thread, then release ``slot``."""

        def work() -> None:
            try:
                self.store_renditions(pixels, sha256=sha256, source_format=source_format)
            except Exception:
                # A rendition still missing is made on its first request.
                logger.exception("rendering %s failed", sha256[:12])
            finally:
                pixels.close()
                slot.release()

        self._renders = [f for f in self._renders if not f.done()] + [self._pool.submit(work)]

    def on_media_thread(self, work: Callable[[], T]) -> T:
        """``work()`` on one of the media threads, waited for. Only for a holder of a slot:
        there are as many threads as slots, so it never queues."""
        return self._pool.submit(work).result()

    def wait_for_renders(self, timeout: float = 30) -> None:
        """Until the background renderings started so far are done (tests, benchmarks)."""
        futures.wait(list(self._renders), timeout=timeout)

    def ensure_rendition(self, *, sha256: str, source_format: str, filename: str) -> None:
        """Make the renditions of stored bytes now if ``filename`` is missing (a fallback:
        uploads render them in the background)."""
        key = rendition_key(sha256, filename)
        if self.storage.exists(key):
            return
        slot = self.take_slot()
        try:
            if self.storage.exists(key):  # made meanwhile
                return
            self.on_media_thread(lambda: self._render_stored(sha256, source_format))
        finally:
            slot.release()

    def _render_stored(self, sha256: str, source_format: str) -> None:
        # Pillow reads a file it can seek in; a store's stream (S3) is copied to one.
        with (
            self.storage.open(original_key(sha256)) as stored,
            tempfile.SpooledTemporaryFile(max_size=1024 * 1024) as original,
        ):
            shutil.copyfileobj(stored, original, 1024 * 1024)
            pixels = images.decode(cast(BinaryIO, original), source_format=source_format)
        with pixels:
            self.store_renditions(pixels, sha256=sha256, source_format=source_format)

    # Reclaiming bytes

    def referenced(self, hashes: set[str]) -> set[str]:
        """Which of ``hashes`` some asset row names."""
        if not hashes:
            return set()

        def read(connection: Connection) -> set[str]:
            found: set[str] = set()
            ordered = sorted(hashes)
            for start in range(0, len(ordered), 500):
                batch = ordered[start : start + 500]
                query = select(MediaAsset.sha256).where(MediaAsset.sha256.in_(batch)).distinct()
                found.update(connection.scalars(query))
            return found

        return self.database.read(read)

    def reclaim(self, sha256: str) -> bool:
        """After a delete committed: remove the bytes of ``sha256`` if no asset uses them
        and they were not written within the grace period (an upload of the same bytes,
        not committed yet, may be counting on them; ``cms media gc`` takes them later).
        Whether they were removed."""
        if self.referenced({sha256}):
            return False
        written = self.storage.modified_at(original_key(sha256))
        if written is not None and written > utcnow() - self.gc_grace:
            return False
        self._remove(sha256)
        return True

    def _remove(self, sha256: str) -> None:
        for item in list(self.storage.list(rendition_prefix(sha256))):
            self.storage.delete(item.key)
        self.storage.delete(original_key(sha256))

    def garbage(self) -> list[str]:
        """The hashes stored (originals or renditions) that no asset row names and that
        were last written before the grace period: what ``cms media gc`` removes."""
        cutoff = utcnow() - self.gc_grace
        newest: dict[str, datetime] = {}
        for prefix in (ORIGINALS, RENDITIONS):
            for item in self.storage.list(prefix + "/"):
                parts = item.key.split("/")
                if len(parts) < 3:
                    continue
                sha256 = parts[2]
                seen = newest.get(sha256)
                if seen is None or item.modified_at > seen:
                    newest[sha256] = item.modified_at
        candidates = {sha for sha, moment in newest.items() if moment <= cutoff}
        return sorted(candidates - self.referenced(candidates))

    def collect(self, hashes: list[str]) -> None:
        """Remove the bytes of ``hashes`` (from :meth:`garbage`)."""
        for sha256 in hashes:
            self._remove(sha256)
