"""The rules of the media fields a user edits, written once (see :mod:`cms.fields`)."""

from typing import Annotated

from pydantic import Field

ALT_MAX_LENGTH = 500

AltText = Annotated[
    str,
    Field(
        max_length=ALT_MAX_LENGTH,
        description="What the image shows, for readers who cannot see it",
    ),
]
FocalCoordinate = Annotated[float, Field(ge=0.0, le=1.0)]
