"""Every user-editable field's rule, written once.

Each field is an annotated type: the API's schemas declare it (so ``/openapi.json`` shows
the limits), the services check their arguments with :func:`validated` (so the back
office and the CLI obey the same limits), and the back office's forms wrap it in a
WTForms validator. A rule changed here changes everywhere.
"""

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    Field,
    TypeAdapter,
    ValidationError,
)

from cms.errors import InvalidInput

TITLE_MAX_LENGTH = 200
BODY_MAX_BYTES = 1024 * 1024
# A slug's column holds 255: room for a "-NNNNN" suffix after the longest slug.
SLUG_MAX_LENGTH = 200
SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
NAME_MAX_LENGTH = 100
EMAIL_MAX_LENGTH = 254
PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 256
TAG_MAX_LENGTH = 50
MAX_TAGS = 20
_SLUG_RE = re.compile(SLUG_PATTERN)
# MySQL's DATETIME holds years 1000-9999; anything outside this is a typo anyway. The
# year is the one written (a schema can state that), and any offset keeps it storable.
EARLIEST_PUBLICATION_YEAR = 1970
LATEST_PUBLICATION_YEAR = 9998
PUBLICATION_YEAR_PATTERN = r"^(19[7-9][0-9]|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])-"


def _encodable(value: str) -> str:
    # JSON may escape half a surrogate pair ("\ud800"); no database can store one.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("must be valid Unicode text (found an unpaired surrogate)") from exc
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


_CONTROL = re.compile("[\x00-\x1f\x7f]")
# The same rules as patterns, for the schema only (the validators give the messages). One
# syntax that Python, JavaScript and pydantic's regex engine read alike.
_ONE_LINE_CHAR = r"[^\x00-\x1f\x7f]"
# What str.strip() keeps: neither a control character nor Unicode white space.
_VISIBLE_CHAR = r"[^\x00-\x20\x7f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
ONE_LINE_PATTERN = f"^{_ONE_LINE_CHAR}*$"
ONE_LINE_NOT_BLANK_PATTERN = f"^{_ONE_LINE_CHAR}*{_VISIBLE_CHAR}{_ONE_LINE_CHAR}*$"


def _one_line(value: str) -> str:
    """Titles, names and tags are one line of text: no tabs, line breaks or other
    control characters (which feeds and spreadsheets cannot carry)."""
    found = _CONTROL.search(value)
    if found is not None:
        code = f"U+{ord(found.group()):04X}"
        raise ValueError(f"must be one line of text without control characters (found {code})")
    return value


def _slug_shape(value: str) -> str:
    if _SLUG_RE.fullmatch(value) is None:
        raise ValueError("must be lower-case letters, digits and single hyphens")
    return value


def _body_within_limit(body: str) -> str:
    if len(body.encode("utf-8")) > BODY_MAX_BYTES:
        raise ValueError(f"must be at most {BODY_MAX_BYTES} bytes of UTF-8 (1 MiB)")
    return body


def normalize_email(email: str) -> str:
    """The stored form of an email: validated, Unicode-normalised and lower-cased, so one
    address is one key whoever types it (API, back office, CLI) and however it is typed."""
    try:
        normalized = validate_email(email.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"is not a valid email address: {exc}") from None
    return normalized.lower()


def publication_time_in_utc(value: datetime) -> datetime:
    """``value`` in UTC; refused when it has no offset or its year is outside 1970-9998."""
    if value.tzinfo is None:
        raise ValueError("must carry a UTC offset")
    if not EARLIEST_PUBLICATION_YEAR <= value.year <= LATEST_PUBLICATION_YEAR:
        raise ValueError(
            f"must be between {EARLIEST_PUBLICATION_YEAR} and {LATEST_PUBLICATION_YEAR}"
        )
    return value.astimezone(UTC)


def _not_a_number(value: Any) -> Any:
    # Pydantic would read 0 as 1970-01-01: a number is not a date anyone wrote.
    if isinstance(value, int | float):
        raise ValueError("must be a date and time like 2026-01-31T09:00:00Z")
    return value


Encodable = AfterValidator(_encodable)
NotBlank = AfterValidator(_not_blank)
# One line: no tab, line break or other control character.
OneLine = AfterValidator(_one_line)

Title = Annotated[
    str,
    Field(
        min_length=1,
        max_length=TITLE_MAX_LENGTH,
        json_schema_extra={"pattern": ONE_LINE_NOT_BLANK_PATTERN},
    ),
    AfterValidator(_encodable),
    AfterValidator(_not_blank),
    AfterValidator(_one_line),
]
Body = Annotated[
    str,
    Field(description="Markdown, at most 1 MiB of UTF-8"),
    AfterValidator(_encodable),
    AfterValidator(_body_within_limit),
]
Slug = Annotated[
    str,
    # The pattern is checked below, with a message a person understands; it is declared
    # here too so the schema shows it.
    Field(min_length=1, max_length=SLUG_MAX_LENGTH, json_schema_extra={"pattern": SLUG_PATTERN}),
    AfterValidator(_slug_shape),
]
Name = Annotated[
    str,
    Field(max_length=NAME_MAX_LENGTH, json_schema_extra={"pattern": ONE_LINE_PATTERN}),
    AfterValidator(_encodable),
    AfterValidator(_one_line),
]
Email = Annotated[
    str,
    Field(
        max_length=EMAIL_MAX_LENGTH,
        description="Compared without case; addresses at special-use domains (.test, "
        ".invalid, .localhost, .local, .onion, .arpa and the like) are refused",
        json_schema_extra={"format": "email"},
    ),
    AfterValidator(_encodable),
    AfterValidator(normalize_email),
]
Password = Annotated[
    str,
    Field(
        min_length=PASSWORD_MIN_LENGTH,
        max_length=PASSWORD_MAX_LENGTH,
        json_schema_extra={"not": {"pattern": "\\x00"}},  # no NUL character
    ),
    AfterValidator(_encodable),
    AfterValidator(_no_nul),
]
# A tag as sent in a list: blank entries are allowed (and dropped), not control characters.
TagEntry = Annotated[
    str,
    Field(max_length=TAG_MAX_LENGTH, json_schema_extra={"pattern": ONE_LINE_PATTERN}),
    AfterValidator(_encodable),
    AfterValidator(_one_line),
]
TagName = Annotated[
    str,
    Field(min_length=1, max_length=TAG_MAX_LENGTH, json_schema_extra={"pattern": ONE_LINE_PATTERN}),
    AfterValidator(_encodable),
    AfterValidator(_one_line),
]
PublicationTime = Annotated[
    AwareDatetime,
    Field(
        description="With a UTC offset; the year between 1970 and 9998",
        json_schema_extra={"pattern": PUBLICATION_YEAR_PATTERN},
    ),
    BeforeValidator(_not_a_number),
    AfterValidator(publication_time_in_utc),
]

_adapters: dict[Any, TypeAdapter[Any]] = {}


def validated(kind: Any, field: str, value: Any) -> Any:
    """``value`` checked (and normalised) as ``kind``; :class:`InvalidInput` naming
    ``field`` when it is not acceptable. How services apply the rules above."""
    adapter = _adapters.get(kind)
    if adapter is None:
        adapter = _adapters[kind] = TypeAdapter(kind)
    try:
        return adapter.validate_python(value, strict=False)
    except ValidationError as exc:
        raise InvalidInput(field, sentence(field, exc)) from None


LABELS = {"published_at": "Publication time", "current_password": "Current password"}


def sentence(field: str, exc: ValidationError) -> str:
    """The first error as a sentence about ``field``: "Title must not be blank"."""
    label = LABELS.get(field, field.replace("_", " ").capitalize())
    message = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
    if message.startswith(("String ", "Value ", "Input ")):
        return f"{label} {message.split(' ', 1)[1]}"
    if message[:1].islower():
        return f"{label} {message}"
    return f"{label}: {message}"
