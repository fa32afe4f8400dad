"""The media asset: one uploaded image, described by what its bytes are."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cms.db import TABLE_ARGS, Base, UTCDateTime, exact_string, utcnow
from cms.media.fields import ALT_MAX_LENGTH


class MediaAsset(Base):
    """An uploaded image. ``sha256`` names its bytes in the store: two uploads of the same
    bytes are two assets (each with its own alt text) over one stored file."""

    __tablename__ = "media_assets"
    __table_args__ = TABLE_ARGS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(exact_string(64), index=True)
    # Decided from the bytes (image/jpeg, image/png, image/webp, image/gif).
    mime: Mapped[str] = mapped_column(String(32))
    bytes: Mapped[int] = mapped_column(Integer)
    # As displayed: after the EXIF orientation is applied.
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    alt: Mapped[str] = mapped_column(String(ALT_MAX_LENGTH), default="")
    # The point to keep in view when cropping, as fractions of width and height.
    focal_x: Mapped[float] = mapped_column(Float, default=0.5)
    focal_y: Mapped[float] = mapped_column(Float, default=0.5)
    uploaded_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    def __repr__(self) -> str:
        return f"<MediaAsset {self.id} {self.sha256[:12]}>"

    def __str__(self) -> str:
        return self.alt or f"Image {self.id}"
