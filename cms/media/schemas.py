"""What the media endpoints accept and return."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from cms.media.fields import AltText, FocalCoordinate
from cms.media.models import MediaAsset
from cms.media.projection import from_asset
from cms.schemas import PartialUpdate, UTCTimestamp


class FocalPoint(BaseModel):
    """The point to keep in view when the image is cropped, as fractions of its width and
    height from the top left."""

    model_config = ConfigDict(extra="forbid")

    x: FocalCoordinate
    y: FocalCoordinate


class MediaPublic(BaseModel):
    id: int
    url: str
    mime: str
    bytes: int
    width: int
    height: int
    alt: str
    focal_point: FocalPoint
    renditions: dict[str, str]
    created_at: UTCTimestamp

    @classmethod
    def build(cls, asset: MediaAsset) -> MediaPublic:
        return cls.model_validate(from_asset(asset))


class MediaUpdate(PartialUpdate):
    """Any subset: the alt text, the focal point."""

    alt: AltText | None = None
    focal_point: FocalPoint | None = None
