"""Back-office lists and exports over real HTTP: what they show, what they never show,
and what they cost however large the table."""

import csv
import io
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from cms.articles.models import ArticleStatus
from cms.db import Database, utcnow
from cms.demo import seed_demo
from cms.roles import Role
from tests.admin.conftest import signed_in
from tests.conftest import BACKEND, ArticleFactory, UserFactory


def test_the_hash_is_never_shown_searched_or_exported(
    browser: httpx.Client, make_user: UserFactory
) -> None:
    admin = make_user(role=Role.ADMIN)
    signed_in(browser, admin)
    pages = [
        browser.get("/admin/user/list"),
        browser.get(f"/admin/user/details/{admin.id}"),
        browser.get(f"/admin/user/edit/{admin.id}"),
        browser.get("/admin/user/export/csv"),
    ]
    for page in pages:
        assert page.status_code == 200
        assert "argon2" not in page.text and "hashed_password" not in page.text
        assert "session_version" not in page.text
    exported = list(csv.reader(io.StringIO(pages[3].text)))
    assert exported[0] == ["id", "email", "name", "role", "is_active", "created_at"]
    assert exported[1][1] == admin.email and exported[1][3] == "admin"
    assert admin.email in pages[0].text
    assert admin.email not in browser.get("/admin/user/list?search=argon2").text


def test_the_article_list_reads_like_a_cms(
    browser: httpx.Client, make_user: UserFactory, make_article: ArticleFactory
) -> None:
    author = make_user(name="Ada Lovelace", email="ada@example.com")
    published = ArticleStatus.PUBLISHED
    moment = datetime(2026, 11, 22, 21, 20, 17, tzinfo=UTC)
    make_article(author=author, title="Out now", status=published, published_at=moment)
    future = utcnow() + timedelta(days=3)
    make_article(author=author, title="Coming soon", status=published, published_at=future)
    make_article(author=author, title="Still writing")
    signed_in(browser, make_user(role=Role.EDITOR))
    page = browser.get("/admin/article/list").text
    headers = [
        " ".join(re.sub(r"<[^>]+>", " ", cell).split())
        for cell in re.findall(r"<th[^>]*>(.*?)</th>", page, re.DOTALL)
    ]
    assert [h for h in headers if h] == [
        "Select",
        "Title",
        "State",
        "Author",
        "Tags",
        "Published at",
        "Last changed",
        "Actions",
    ]
    assert "2026-11-22 21:20 UTC" in page
    assert "Ada Lovelace" in page and "ada@example.com" not in page
    assert ">Scheduled<" in page and ">Published<" in page and ">Draft<" in page

    # The status filter speaks the same three states, and the dashboard's cards use it.
    def titles(state: str) -> set[str]:
        listed = browser.get(f"/admin/article/list?status={state}").text
        return {t for t in ("Out now", "Coming soon", "Still writing") if t in listed}

    assert titles("published") == {"Out now"}
    assert titles("scheduled") == {"Coming soon"}
    assert titles("draft") == {"Still writing"}
    dashboard = browser.get("/admin/").text
    assert 'href="/admin/article/list?status=scheduled"' in dashboard


def test_the_article_list_searches_sorts_and_filters(
    browser: httpx.Client, make_user: UserFactory, make_article: ArticleFactory
) -> None:
    editor, other = make_user(role=Role.EDITOR), make_user()
    make_article(author=other, title="Other's piece")
    make_article(author=editor, title="Alpha news", status=ArticleStatus.PUBLISHED)
    make_article(author=editor, title="Beta draft")
    signed_in(browser, editor)
    found = browser.get("/admin/article/list?search=alpha").text
    assert "Alpha news" in found and "Beta draft" not in found
    drafts = browser.get("/admin/article/list?status=draft").text
    assert "Beta draft" in drafts and "Alpha news" not in drafts
    by_title = browser.get("/admin/article/list?sortBy=title&sort=desc").text
    assert by_title.index("Beta draft") < by_title.index("Alpha news")
    mine = browser.get(f"/admin/article/list?author_id={editor.id}").text
    assert "Alpha news" in mine and "Other&#39;s piece" not in mine
    theirs = browser.get(f"/admin/article/list?author_id={other.id}").text
    assert "Other&#39;s piece" in theirs and "Alpha news" not in theirs


def test_the_author_filter_lists_recent_authors_not_every_user(
    browser: httpx.Client, make_user: UserFactory, make_article: ArticleFactory
) -> None:
    editor = make_user(role=Role.EDITOR, name="Editor Without Articles")
    writer = make_user(name="Prolific Writer")
    make_article(author=writer, title="By the writer")
    signed_in(browser, editor)
    page = browser.get("/admin/article/list").text
    author_filter = page.split("<summary", 2)[2].split("</details>")[0]
    assert "Prolific Writer" in author_filter
    assert "Editor Without Articles" not in author_filter
    selected = browser.get(f"/admin/article/list?author_id={editor.id}").text
    assert "By the writer" not in selected


def test_deep_pages_hold_the_right_rows_in_a_stable_order(
    browser: httpx.Client, make_user: UserFactory, database: Database
) -> None:
    seed_demo(database, users=3, articles=130, seed=7)
    signed_in(browser, make_user(role=Role.EDITOR))
    titles: list[str] = []
    for page in range(1, 7):
        text = browser.get(f"/admin/article/list?sortBy=title&sort=asc&page={page}").text
        titles += [
            line.split('title="', 1)[1].split('"', 1)[0]
            for line in text.splitlines()
            if 'class="cms-title"' in line
        ]
    assert len(titles) == 130
    assert titles == sorted(titles, key=lambda t: t)  # ties are broken by id underneath
    last = browser.get("/admin/article/list?sortBy=title&sort=asc&page=6").text
    assert "126\u2013130 of 130" in " ".join(last.split())


def test_counts_stop_at_ten_thousand_and_deep_pages_still_open(
    browser: httpx.Client, make_user: UserFactory, database: Database
) -> None:
    seed_demo(database, users=2, articles=10_050, seed=3)
    signed_in(browser, make_user(role=Role.EDITOR))
    everything = " ".join(browser.get("/admin/article/list").text.split())
    # The whole table is estimated from its ids (never reused), not counted row by row.
    assert "1\u201325 of about 10,050" in everything
    last = " ".join(browser.get("/admin/article/list?page=402").text.split())
    assert "10,026\u201310,050 of about 10,050" in last
    past = browser.get("/admin/article/list?page=500")
    assert past.status_code == 200 and "past the end of the list" in past.text
    # Full-text: every demo body says "patience".
    searched = " ".join(browser.get("/admin/article/list?search=patience").text.split())
    assert "1\u201325 of more than 10,000" in searched


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/admin/article/list?status=zzz", 200),  # a filter that matches nothing
        ("/admin/user/list?role=zzz", 200),
        ("/admin/article/list?author_id=abc", 400),
        ("/admin/article/list?page=abc", 400),
        ("/admin/article/list?pageSize=100000", 400),
        ("/admin/article/list?page=99999999999", 400),
        ("/admin/article/list?sortBy=body", 400),
        ("/admin/user/details/abc", 400),
        ("/admin/article/edit/abc", 400),
        ("/admin/article/confirm?action=delete&pks=abc", 400),
        ("/admin/article/confirm?action=delete", 400),
        ("/admin/article/confirm?action=nonsense&pks=1", 404),
        ("/admin/user/details/99999999999999999999", 400 if BACKEND == "sqlite" else 404),
        ("/admin/article/export/json", 404),
    ],
)
def test_hand_edited_addresses_are_answered_not_500(
    browser: httpx.Client, make_user: UserFactory, path: str, status: int
) -> None:
    signed_in(browser, make_user(role=Role.ADMIN))
    response = browser.get(path)
    assert response.status_code == status, (path, response.status_code)


def test_no_file_can_be_downloaded_through_a_text_column(
    browser: httpx.Client, make_user: UserFactory, make_article: ArticleFactory
) -> None:
    # The server's working directory is this test's own: put a "secret" there.
    Path("secret.txt").write_text("[project] TOP SECRET", encoding="utf-8")
    editor = make_user(role=Role.EDITOR, name="secret.txt")
    article = make_article(author=editor, title="secret.txt", body="secret.txt")
    signed_in(browser, editor)
    for path in [
        f"/admin/article/{article.id}/body/download/",
        f"/admin/article/{article.id}/body/preview/",
        f"/admin/user/{editor.id}/name/download/",
        f"/admin/article/{article.id}/title/download/",
    ]:
        response = browser.get(path)
        assert response.status_code == 404, path
        assert "TOP SECRET" not in response.text


def test_exports_defuse_spreadsheet_formulas(
    browser: httpx.Client, make_user: UserFactory, make_article: ArticleFactory
) -> None:
    editor = make_user(role=Role.EDITOR, name="=cmd|' /C calc'!A0")
    make_article(author=editor, title='=HYPERLINK("http://evil.example","x")', slug="evil")
    signed_in(browser, editor)
    articles = list(csv.reader(io.StringIO(browser.get("/admin/article/export/csv").text)))
    assert articles[1][1] == '\'=HYPERLINK("http://evil.example","x")'
    exported = browser.get("/admin/user/export/csv").text
    users = list(csv.reader(io.StringIO(exported)))
    assert users[1][2] == "'=cmd|' /C calc'!A0"
    # Every cell quoted: a spreadsheet guessing ";" or tab as the separator keeps columns.
    assert all(line.startswith('"') and line.endswith('"') for line in exported.splitlines())


def _rss_bytes() -> int:
    with open(f"/proc/{os.getpid()}/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_an_export_streams_in_constant_memory(
    browser: httpx.Client, make_user: UserFactory, database: Database
) -> None:
    """The old export loaded every row first: 100,000 articles grew the worker by 1.1 GB.
    Streamed from a server-side cursor, 20,000 rows must not grow it by 40 MB (the server
    runs in this process, so this process's memory is the server's)."""
    seed_demo(database, users=5, articles=20_000, seed=11)
    signed_in(browser, make_user(role=Role.EDITOR))
    browser.get("/admin/article/export/csv")  # warm up: imports, caches, pools
    before = _rss_bytes()
    lines = 0
    with browser.stream("GET", "/admin/article/export/csv") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        for chunk in response.iter_lines():
            lines += 1 if chunk else 0
    grown = _rss_bytes() - before
    assert lines == 20_001
    assert grown < 40 * 1024 * 1024, f"export grew the server by {grown / 1e6:.0f} MB"
