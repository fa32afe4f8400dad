"""What users do to media, one class per action (see :mod:`cms.actions`).

An upload is checked and decoded in :meth:`UploadMedia.prepare`, before the transaction
begins: the type is decided from the bytes, the pixel cap is checked on the header, and
the original bytes are written under their content key (idempotent; if the transaction
then fails they are unreferenced, and ``cms media gc`` reclaims them). The renditions
are made after the commit, in the background. A delete removes bytes only after its
commit, and only when no other asset shares them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import BinaryIO, ClassVar

from PIL import Image
from sqlalchemy import func, select

from cms import metrics, permissions
from cms.actions import Action
from cms.audit import service as audit
from cms.changes import UNSET, Unset
from cms.db import UnitOfWork
from cms.errors import (
    Busy,
    DomainError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    TooLarge,
    UnsupportedMediaType,
)
from cms.media import images
from cms.media.fields import ALT_MAX_LENGTH
from cms.media.library import MediaLibrary, Slot
from cms.media.models import MediaAsset
from cms.media.storage import original_key
from cms.webhooks import outbox

MEDIA_NOT_FOUND = "Media asset not found"


@dataclass
class _Staged:
    """What :meth:`UploadMedia.prepare` made, until it is handed over or dropped."""

    inspection: images.Inspection | None = None
    pixels: Image.Image | None = None
    slot: Slot | None = None

    def drop(self) -> None:
        if self.pixels is not None:
            self.pixels.close()
            self.pixels = None
        if self.slot is not None:
            self.slot.release()
            self.slot = None


@dataclass(frozen=True, kw_only=True)
class UploadMedia(Action[MediaAsset]):
    """Store an uploaded image as a new asset of the actor.

    The surface that runs it calls :meth:`close` when done (a ``with`` block does): if
    the transaction failed, that gives back the decoding slot and the pixels.
    """

    name: ClassVar[str] = "upload"
    library: MediaLibrary
    file: BinaryIO
    alt: str = ""
    _staged: _Staged = field(default_factory=_Staged, compare=False, repr=False)

    def prepare(self) -> None:
        """Inspect, decode and store the original bytes, before the transaction begins."""
        try:
            self._prepare()
        except DomainError as exc:
            metrics.MEDIA_REFUSALS.labels(_refusal(exc)).inc()
            raise

    def _prepare(self) -> None:
        staged = self._staged
        if staged.inspection is not None:
            return
        _check_alt(self.alt)
        inspection = images.inspect(self.file, max_pixels=self.library.max_pixels)
        if inspection.bytes > self.library.max_upload_bytes:
            raise TooLarge(_too_large(self.library.max_upload_bytes))
        staged.slot = self.library.take_slot()
        try:
            file, kind = self.file, inspection.format
            staged.pixels, turned = self.library.on_media_thread(
                lambda: images.decode_oriented(file, source_format=kind)
            )
            if turned:  # shown upright, it is as wide as it is stored high
                inspection = replace(inspection, width=inspection.height, height=inspection.width)
            self.file.seek(0)
            self.library.storage.put_file(original_key(inspection.sha256), self.file)
        except BaseException:
            staged.drop()
            raise
        staged.inspection = inspection

    def __call__(self, uow: UnitOfWork) -> MediaAsset:
        if not permissions.can_upload_media(uow.actor):
            raise PermissionDenied("Sign in to upload images")
        self.prepare()
        inspection = self._staged.inspection
        assert inspection is not None and uow.actor is not None
        _check_quota(uow, self.library.quota_bytes_per_account, inspection.bytes)
        asset = MediaAsset(
            sha256=inspection.sha256,
            mime=inspection.mime,
            bytes=inspection.bytes,
            width=inspection.width,
            height=inspection.height,
            alt=self.alt,
            uploaded_by_id=uow.actor.id,
        )
        uow.session.add(asset)
        uow.session.flush()
        audit.record(
            uow,
            action=self.name,
            object_type="media",
            object_id=asset.id,
            object_repr=str(asset),
            changes={"sha256": (None, asset.sha256), "alt": (None, asset.alt)},
        )
        outbox.media_changed(uow, outbox.EventType.MEDIA_UPLOADED, asset_id=asset.id)
        surface = uow.origin.surface
        uow.after_commit(lambda: metrics.MEDIA_UPLOADS.labels(surface).inc())
        uow.after_commit(self._render)
        return asset

    def _render(self) -> None:
        staged = self._staged
        if staged.pixels is None or staged.slot is None or staged.inspection is None:
            return  # handed over by an earlier attempt's commit
        pixels, slot = staged.pixels, staged.slot
        staged.pixels, staged.slot = None, None
        self.library.render_in_background(
            pixels,
            sha256=staged.inspection.sha256,
            source_format=staged.inspection.format,
            slot=slot,
        )

    def close(self) -> None:
        """Give back what a failed or refused upload still holds."""
        self._staged.drop()

    def __enter__(self) -> UploadMedia:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _check_quota(uow: UnitOfWork, quota: int, adding: int) -> None:
    """Within the account's quota (``0``: none) once ``adding`` more bytes are stored."""
    if not quota or uow.actor is None or uow.actor.id is None:
        return
    used = uow.session.scalar(
        select(func.coalesce(func.sum(MediaAsset.bytes), 0)).where(
            MediaAsset.uploaded_by_id == uow.actor.id
        )
    )
    if int(used or 0) + adding > quota:
        metrics.MEDIA_REFUSALS.labels("too_large").inc()
        raise TooLarge(
            f"This upload would pass your quota of {quota / 2**20:.1f} MiB of images "
            f"({int(used or 0) / 2**20:.1f} MiB used); delete some in Media first"
        )


def _refusal(exc: DomainError) -> str:
    if isinstance(exc, UnsupportedMediaType):
        return "unsupported_type"
    if isinstance(exc, TooLarge):
        return "too_large"
    return "busy" if isinstance(exc, Busy) else "invalid"


def _too_large(limit: int) -> str:
    return f"The file is larger than uploads may be ({limit / 2**20:.0f} MiB); make it smaller"


def _check_alt(alt: str) -> None:
    if len(alt) > ALT_MAX_LENGTH:
        raise InvalidInput("alt", f"Alt text must be at most {ALT_MAX_LENGTH} characters")


def _check_focal(value: float, axis: str) -> None:
    if not 0.0 <= value <= 1.0:
        raise InvalidInput("focal_point", f"The focal point's {axis} must be between 0 and 1")


def get_asset_for_change(uow: UnitOfWork, asset_id: int) -> MediaAsset:
    """The asset, if the actor may change it (404 for one they may not even see)."""
    asset = uow.session.get(MediaAsset, asset_id)
    if asset is None or not permissions.can_manage_media(uow.actor, asset):
        raise NotFound(MEDIA_NOT_FOUND)
    return asset


@dataclass(frozen=True, kw_only=True)
class UpdateMedia(Action[MediaAsset]):
    """Change an asset's alt text and focal point (``x``, ``y`` in 0..1)."""

    name: ClassVar[str] = "update"
    asset_id: int
    alt: str | Unset = UNSET
    focal_point: tuple[float, float] | Unset = UNSET

    def __call__(self, uow: UnitOfWork) -> MediaAsset:
        asset = get_asset_for_change(uow, self.asset_id)
        changes: dict[str, tuple[object, object]] = {}
        if not isinstance(self.alt, Unset) and self.alt != asset.alt:
            _check_alt(self.alt)
            changes["alt"] = (asset.alt, self.alt)
            asset.alt = self.alt
        if not isinstance(self.focal_point, Unset):
            x, y = self.focal_point
            _check_focal(x, "x")
            _check_focal(y, "y")
            if (x, y) != (asset.focal_x, asset.focal_y):
                changes["focal_point"] = ([asset.focal_x, asset.focal_y], [x, y])
                asset.focal_x, asset.focal_y = x, y
        if changes:
            uow.session.flush()
            audit.record(
                uow,
                action=self.name,
                object_type="media",
                object_id=asset.id,
                object_repr=str(asset),
                changes=changes,
            )
            outbox.media_changed(
                uow, outbox.EventType.MEDIA_UPDATED, asset_id=asset.id, changed=list(changes)
            )
        return asset


@dataclass(frozen=True, kw_only=True)
class DeleteMedia(Action[None]):
    """Delete an asset. Its bytes go once the delete has committed, unless another asset
    has the same bytes."""

    name: ClassVar[str] = "delete"
    library: MediaLibrary
    asset_id: int

    def __call__(self, uow: UnitOfWork) -> None:
        asset = get_asset_for_change(uow, self.asset_id)
        sha256 = asset.sha256
        audit.record(
            uow,
            action=self.name,
            object_type="media",
            object_id=asset.id,
            object_repr=str(asset),
        )
        outbox.media_changed(uow, outbox.EventType.MEDIA_DELETED, asset_id=asset.id)
        uow.session.delete(asset)
        uow.session.flush()
        uow.after_commit(lambda: self._reclaim(sha256))

    def _reclaim(self, sha256: str) -> None:
        self.library.reclaim(sha256)
