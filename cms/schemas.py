"""Field types shared by the request and response schemas of every domain."""

from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, PlainSerializer, model_validator

# Primary keys are 32-bit integers on every backend; anything larger cannot exist.
MAX_ID = 2**31 - 1
ObjectId = Annotated[int, Path(ge=1, le=MAX_ID, description="The object's id")]
Skip = Annotated[int, Query(ge=0, le=10_000_000, description="Rows to skip")]


def _iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


# Always six fractional digits, so times have one width and sort as strings too.
UTCTimestamp = Annotated[datetime, PlainSerializer(_iso_utc, return_type=str)]


class PartialUpdate(BaseModel):
    """A PATCH body: any field may be left out; only those in ``nullable`` may be null."""

    model_config = ConfigDict(extra="forbid")
    nullable: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _reject_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for field, value in data.items():
                if value is None and field in cls.model_fields and field not in cls.nullable:
                    raise ValueError(f"{field} may be omitted but not null")
        return data
