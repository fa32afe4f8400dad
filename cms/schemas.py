"""Field types shared by the request and response schemas of every domain."""

from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar

from fastapi import Path, Query
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    PlainSerializer,
    WithJsonSchema,
    model_validator,
)

# Primary keys are 32-bit integers on every backend; anything larger cannot exist.
MAX_ID = 2**31 - 1
ObjectId = Annotated[int, Path(ge=1, le=MAX_ID, description="The object's id")]
# An offset costs the rows it skips: past this, a list is paged with its cursor (the
# Link: rel="next" header), whose cost does not grow with depth.
MAX_SKIP = 10_000


def _within_skip_cap(skip: int) -> int:
    if skip > MAX_SKIP:
        raise ValueError(
            f"skip goes up to {MAX_SKIP:,}; to page further, follow the cursor in the "
            'Link: rel="next" header (cost independent of depth)'
        )
    return skip


Skip = Annotated[
    int,
    Query(
        ge=0,
        description=f"Rows to skip (at most {MAX_SKIP:,}; further pages by cursor)",
        json_schema_extra={"maximum": MAX_SKIP},
    ),
    AfterValidator(_within_skip_cap),
]


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


# Always six fractional digits, so times have one width and sort as strings too.
UTCTimestamp = Annotated[
    datetime,
    PlainSerializer(iso_utc, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}, mode="serialization"),
]


def _not_nullable_in_schema(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """Declare what :class:`PartialUpdate` enforces: a field left out is unchanged, but
    one sent as null is refused unless the model lists it in ``nullable``."""
    nullable: frozenset[str] = getattr(model, "nullable", frozenset())
    for name, field in schema.get("properties", {}).items():
        if name in nullable or "anyOf" not in field:
            continue
        kinds = [kind for kind in field["anyOf"] if kind != {"type": "null"}]
        field.pop("default", None)
        if len(kinds) == 1:
            del field["anyOf"]
            field.update(kinds[0])
        else:
            field["anyOf"] = kinds


class PartialUpdate(BaseModel):
    """A PATCH body: any field may be left out; only those in ``nullable`` may be null."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_not_nullable_in_schema)
    nullable: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _reject_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for field, value in data.items():
                if value is None and field in cls.model_fields and field not in cls.nullable:
                    raise ValueError(f"{field} may be omitted but not null")
        return data
