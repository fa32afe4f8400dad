"""Full-text search takes any text: what a reader or an editor types is words, never the
query language of FTS5 or of MariaDB's FULLTEXT parser (where ``*`` was once a 500)."""

from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cms.articles.models import ArticleStatus
from cms.articles.search import MAX_SEARCH_WORDS, TOO_MANY_WORDS, search_terms
from cms.db import utcnow
from cms.errors import InvalidInput
from cms.roles import Role
from tests.admin.conftest import signed_in
from tests.conftest import ArticleFactory, LiveServer, UserFactory

# Each engine's operators and what has broken a parser before, alone and in company.
HOSTILE = [
    "*",
    '"*',
    '*"',
    "* *",
    "+",
    "-",
    "@",
    "~",
    "()",
    "(",
    ")",
    '"',
    '""',
    '"sourdough',
    'sourdough"',
    '"sour dough" "',
    "a*b",
    "sourdough*",
    "*sourdough",
    "@3",
    "sourdough @2",
    "<>",
    ">sourdough <flour",
    "+sourdough -flour",
    "~sourdough",
    "%",
    "'",
    "\\",
    "AND",
    "OR NOT",
    "NEAR(a b)",
    "title:sourdough",
    "^sourdough",
    "sour\x00dough",
    "\x00",
    "\x1f\x7f",
    "🍞",
    "🍞*",
    "sourdough 🍞",
    "خبز العجين المخمر",  # Arabic, right to left
    "\u202esourdough\u202c",  # a right-to-left override around a word
    "\u0301",  # a combining mark alone
    "e\u0301",
    "\ufeff",
    "\u200b*\u200b",
    "\U0001d530\U0001d52c\U0001d532",  # mathematical letters
    " ",
    "*" * 200,
    "+-" * 100,
    '"' * 199,
    "( " * 100,
]


@pytest.fixture
def bread(make_user: UserFactory, make_article: ArticleFactory) -> Iterator[None]:
    author = make_user()
    make_article(
        author=author,
        title="Sourdough basics",
        body="Flour, water and patience.",
        status=ArticleStatus.PUBLISHED,
        published_at=utcnow(),
    )
    yield


def test_search_terms_are_words_and_nothing_of_either_query_language() -> None:
    assert search_terms('"sour*dough" +flour -(water) @3 ~x') == [
        "sour",
        "dough",
        "flour",
        "water",
        "3",
        "x",
    ]
    assert search_terms('* " ( ) 🍞 \x00 \u202e') == []
    assert search_terms("café") == search_terms("cafe\u0301") == ["café"]
    assert search_terms("خبز العجين") == ["خبز", "العجين"]
    assert len(search_terms("w " * MAX_SEARCH_WORDS)) == MAX_SEARCH_WORDS
    with pytest.raises(InvalidInput, match=TOO_MANY_WORDS):
        search_terms("w " * (MAX_SEARCH_WORDS + 1))


@pytest.mark.parametrize("order", [None, "-published_at"])  # by relevance, or filtered
def test_hostile_searches_answer_200(api: httpx.Client, bread: None, order: str | None) -> None:
    for q in HOSTILE:
        params = {"q": q, "include_total": "true", **({"order": order} if order else {})}
        response = api.get("/articles/", params=params)
        assert response.status_code == 200, (q, response.text)
        assert isinstance(response.json(), list)


def test_operators_are_ignored_and_the_words_still_found(api: httpx.Client, bread: None) -> None:
    found_by = ["sourdough*", "sourdough 🍞", '"sourdough"', "+sourdough", "(sourdough)"]
    for q in found_by:
        found = api.get("/articles/", params={"q": q, "include_total": "true"})
        assert [a["title"] for a in found.json()] == ["Sourdough basics"], q
        assert found.headers["x-total-count"] == "1"
    for q in ["*", '"', "🍞", "()"]:
        nothing = api.get("/articles/", params={"q": q, "include_total": "true"})
        assert nothing.json() == [] and nothing.headers["x-total-count"] == "0", q


def test_too_much_to_search_for_is_a_422_that_says_why(api: httpx.Client, bread: None) -> None:
    words = api.get("/articles/", params={"q": "w " * (MAX_SEARCH_WORDS + 1)})
    assert words.status_code == 422
    assert TOO_MANY_WORDS in words.text
    assert api.get("/articles/", params={"q": "*" * 10_000}).status_code == 422
    assert api.get("/articles/", params={"q": ""}).status_code == 422


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(q=st.text(max_size=60) | st.text(alphabet='*"+-@~()<>%\\ a', max_size=60))
def test_any_search_answers_200_or_a_clear_422(api: httpx.Client, bread: None, q: str) -> None:
    response = api.get("/articles/", params={"q": q, "include_total": "true"})
    assert response.status_code in (200, 422), (q, response.text)
    if response.status_code == 422:
        detail = response.json()["detail"]
        assert q == "" or TOO_MANY_WORDS in str(detail), (q, detail)


def test_the_back_office_search_box_takes_any_text(
    bread: None, make_user: UserFactory, live_server: LiveServer
) -> None:
    with httpx.Client(base_url=live_server.url, timeout=30) as browser:
        signed_in(browser, make_user(role=Role.EDITOR))
        for term in [*HOSTILE, "*" * 10_000, "+-~@" * 2_500]:
            page = browser.get("/admin/article/list", params={"search": term})
            assert page.status_code == 200, (term, page.text[:500])
        found = browser.get("/admin/article/list", params={"search": "sourdough*"})
        assert "Sourdough basics" in found.text
        too_many = browser.get("/admin/article/list", params={"search": "w " * 100})
        assert too_many.status_code == 422
        assert TOO_MANY_WORDS in too_many.text
