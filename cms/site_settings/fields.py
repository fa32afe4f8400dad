"""The rules of the site settings an admin edits, written once (see :mod:`cms.fields`).

Text is normalised before it is checked (surrounding space dropped, a description's line
breaks and runs of spaces made single spaces), so a form saved as it was shown compares
equal to what is stored, whatever line endings the browser sent.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

from cms.fields import (
    ONE_LINE_NOT_BLANK_PATTERN,
    ONE_LINE_PATTERN,
    Encodable,
    NotBlank,
    OneLine,
)

SITE_NAME_MAX_LENGTH = 100
DESCRIPTION_MAX_LENGTH = 300
NAV_LABEL_MAX_LENGTH = 40
NAV_URL_MAX_LENGTH = 500
MAX_NAV_LINKS = 10

_SCHEME = re.compile(r"^https?://", re.IGNORECASE)


def one_line(value: str) -> str:
    """``value`` without surrounding white space: what a one-line field stores."""
    return value.strip()


def collapsed(value: str) -> str:
    """``value`` with every run of white space (line breaks too) made one space."""
    return " ".join(value.split())


def link_address(value: str) -> str:
    """An address a reader's browser may follow: ``https://…``, ``http://…`` or a path on
    this site (``/about``). Nothing that runs (``javascript:``), embeds (``data:``) or
    depends on the page it is on (``about``, ``../x``), nor ``//host`` (another site
    that looks like a path)."""
    if any(character.isspace() for character in value) or "\\" in value:
        raise ValueError("must not contain spaces or backslashes")
    if value.startswith("/"):
        if value.startswith("//"):
            raise ValueError(
                "must be a path on this site (one slash: /about) or start with https://"
            )
        return value
    if _SCHEME.match(value):
        host = value.split("://", 1)[1].split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
        if not host:
            raise ValueError("must name a host after https://")
        return value
    raise ValueError(
        "must start with https://, http:// or / (a path on this site), "
        "like https://example.com/about or /about"
    )


SiteName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=SITE_NAME_MAX_LENGTH,
        json_schema_extra={"pattern": ONE_LINE_NOT_BLANK_PATTERN},
    ),
    Encodable,
    NotBlank,
    OneLine,
]
SiteDescription = Annotated[
    str,
    Field(max_length=DESCRIPTION_MAX_LENGTH, json_schema_extra={"pattern": ONE_LINE_PATTERN}),
    Encodable,
    OneLine,
]
NavLabel = Annotated[
    str,
    Field(
        min_length=1,
        max_length=NAV_LABEL_MAX_LENGTH,
        json_schema_extra={"pattern": ONE_LINE_NOT_BLANK_PATTERN},
    ),
    Encodable,
    NotBlank,
    OneLine,
]
NavUrl = Annotated[
    str,
    Field(min_length=1, max_length=NAV_URL_MAX_LENGTH),
    Encodable,
    AfterValidator(link_address),
]
