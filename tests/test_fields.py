"""The schema's patterns state the same rules as the validators that enforce them."""

import re
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cms import fields
from cms.errors import InvalidInput

TRICKY = [
    "",
    " ",
    "a",
    " a ",
    "a\tb",
    "line\nbreak",
    "\x7f",
    "\x85",  # NEL: white space to Python, not to JavaScript
    "\xa0",
    "\u2028",
    "\u3000x",
    "\ufeff",  # white space to JavaScript, not to Python
    "\u200b",
    "日本語",
]


def _accepts(kind: object, value: object) -> bool:
    try:
        fields.validated(kind, "field", value)
    except InvalidInput:
        return False
    return True


@pytest.mark.parametrize("text", TRICKY)
def test_title_pattern_matches_the_title_rule(text: str) -> None:
    # fullmatch: what JavaScript reads "$" as (in Python it also matches before a final newline)
    pattern = re.compile(fields.ONE_LINE_NOT_BLANK_PATTERN)
    assert (pattern.fullmatch(text) is not None) == _accepts(fields.Title, text)


@given(st.text(max_size=20))
def test_one_line_patterns_agree_with_the_validators(text: str) -> None:
    text.encode("utf-8", "surrogatepass")
    if any(0xD800 <= ord(char) <= 0xDFFF for char in text):
        return  # unpaired surrogates are refused by a rule of their own
    assert (re.fullmatch(fields.ONE_LINE_NOT_BLANK_PATTERN, text) is not None) == _accepts(
        fields.Title, text
    )
    assert (re.fullmatch(fields.ONE_LINE_PATTERN, text) is not None) == _accepts(fields.Name, text)


@pytest.mark.parametrize(
    ("written", "accepted"),
    [
        ("1969-12-31T23:59:59Z", False),
        ("1970-01-01T00:00:00+05:00", True),  # 1969 in UTC, but written as 1970
        ("2026-11-29T12:00:00Z", True),
        ("9998-12-31T23:59:59-12:00", True),  # storable: 9999-01-01 in UTC
        ("9999-01-01T00:00:00Z", False),
    ],
)
def test_publication_year_pattern_matches_the_rule(written: str, accepted: bool) -> None:
    assert (re.match(fields.PUBLICATION_YEAR_PATTERN, written) is not None) == accepted
    assert _accepts(fields.PublicationTime, written) == accepted


def test_a_number_is_not_a_publication_time() -> None:
    assert not _accepts(fields.PublicationTime, 0)
    assert _accepts(fields.PublicationTime, datetime(2026, 1, 1, tzinfo=UTC))
