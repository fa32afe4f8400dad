"""Field types shared by the request and response schemas of every domain."""

from typing import Annotated

from fastapi import Path, Query
from pydantic import AfterValidator, Field

# Primary keys are 32-bit integers on every backend; anything larger cannot exist.
MAX_ID = 2**31 - 1
ObjectId = Annotated[int, Path(ge=1, le=MAX_ID, description="The object's id")]
Skip = Annotated[int, Query(ge=0, le=10_000_000, description="Rows to skip")]


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


def _encodable(value: str) -> str:
    # JSON may escape half a surrogate pair ("\ud800"); no database can store one.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("must be valid Unicode text (found an unpaired surrogate)") from exc
    return value


NonBlank = AfterValidator(_not_blank)
Encodable = AfterValidator(_encodable)
Name = Annotated[str, Field(max_length=100), Encodable]
