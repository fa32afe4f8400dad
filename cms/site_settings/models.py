"""The site settings row: one per installation, id 1 (a check constraint keeps it so)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cms.db import Base, UTCDateTime
from cms.site_settings.fields import DESCRIPTION_MAX_LENGTH, SITE_NAME_MAX_LENGTH

SETTINGS_ID = 1


class SiteSettings(Base):
    """The site's name, description, logo and navigation links. Until an admin first saves
    them there is no row, and readers see the defaults (:mod:`cms.site_settings.reads`)."""

    __tablename__ = "site_settings"
    __table_args__ = (
        CheckConstraint(f"id = {SETTINGS_ID}", name="single_row"),
        # TABLE_ARGS less SQLite's AUTOINCREMENT: the one id is always given.
        {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(SITE_NAME_MAX_LENGTH))
    description: Mapped[str] = mapped_column(String(DESCRIPTION_MAX_LENGTH), default="")
    # An image of the media library; deleting the image leaves the site without a logo.
    logo_id: Mapped[int | None] = mapped_column(
        ForeignKey("media_assets.id", ondelete="SET NULL"), nullable=True, index=True
    )
    # The navigation links in order, as JSON: [{"label": "About", "url": "/about"}, …].
    nav: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )

    def __repr__(self) -> str:
        return f"<SiteSettings {self.name!r}>"
