"""The API's preview-link shapes: ``PreviewCreate`` in, ``PreviewPublic`` and
``PreviewShared`` (with the token, once) out."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from cms.previews.models import DEFAULT_EXPIRES_IN, LONGEST_EXPIRES_IN, SHORTEST_EXPIRES_IN
from cms.schemas import UTCTimestamp

ExpiresIn = Annotated[
    int,
    Field(
        ge=int(SHORTEST_EXPIRES_IN.total_seconds()),
        le=int(LONGEST_EXPIRES_IN.total_seconds()),
        description="Seconds until the link stops working: 60 up to 2592000 (30 days)",
    ),
]


class PreviewCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expires_in: ExpiresIn = int(DEFAULT_EXPIRES_IN.total_seconds())


class PreviewPublic(BaseModel):
    """A link as its article's editors see it (never its token)."""

    id: int
    article_id: int
    created_at: UTCTimestamp
    created_by: str
    created_by_id: int | None
    expires_at: UTCTimestamp


class PreviewShared(PreviewPublic):
    """A new link: ``token`` and ``url`` are shown this once and cannot be read again."""

    token: str
    url: str
