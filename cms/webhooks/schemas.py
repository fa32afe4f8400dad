"""What the ``/webhooks/`` API takes and gives."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from cms.webhooks.models import URL_MAX_LENGTH
from cms.webhooks.outbox import EventType


class EndpointCreate(BaseModel):
    """A new endpoint: where, and which events (none: every type)."""

    model_config = ConfigDict(extra="forbid")

    # Its host must also resolve to public addresses only, which no schema can say.
    url: Annotated[
        str, Field(min_length=8, max_length=URL_MAX_LENGTH, pattern=r"^https?://[^\s/?#@]+")
    ]
    events: Annotated[list[EventType], Field(max_length=len(EventType))] = []


class EndpointPublic(BaseModel):
    id: int
    url: str
    events: list[str]
    enabled: bool
    disabled_reason: str
    created_at: datetime


class EndpointCreated(EndpointPublic):
    """The endpoint just added, with its signing secret: shown this once."""

    secret: str


class PingQueued(BaseModel):
    event_id: int
