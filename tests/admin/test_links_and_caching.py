"""Whatever ``Host`` a request names, the back office's links are paths; and nothing it
answers (pages, exports, lookups, errors) may be kept by a cache."""

import re

import httpx
import pytest

from cms.articles.models import ArticleStatus
from cms.db import utcnow
from cms.roles import Role
from tests.admin.browser_forms import form_on, post_form
from tests.admin.conftest import admin_login
from tests.conftest import ArticleFactory, UserFactory

EVIL = "evil.example"
ADMIN_EMAIL = "admin@example.com"
ERRORS = ("/admin/article/details/999999", "/admin/no-such-view/list")


@pytest.fixture
def site(make_user: UserFactory, make_article: ArticleFactory) -> dict[str, int]:
    """An admin, an editor and thirty articles (three pages of ten)."""
    make_user(role=Role.ADMIN, email=ADMIN_EMAIL)
    editor = make_user(role=Role.EDITOR)
    articles = [
        make_article(
            author=editor,
            title=f"Article {n}",
            body=f"Body {n} about zeppelins.",
            status=ArticleStatus.PUBLISHED,
            published_at=utcnow(),
        )
        for n in range(30)
    ]
    return {"editor": editor.id, "article": articles[0].id}


def back_office_pages(ids: dict[str, int]) -> list[str]:
    article, editor = ids["article"], ids["editor"]
    return [
        "/admin/",
        "/admin/account",
        "/admin/logout",
        "/admin/article/list",
        "/admin/article/list?pageSize=10&page=2",
        "/admin/article/list?pageSize=10&page=3",
        "/admin/article/list?search=zeppelins&pageSize=10",
        "/admin/article/list?sortBy=title&sort=desc",
        "/admin/article/list?status=published",
        f"/admin/article/list?author_id={editor}",
        f"/admin/article/details/{article}",
        f"/admin/article/edit/{article}",
        "/admin/article/create",
        f"/admin/article/{article}/history",
        f"/admin/article/{article}/history/1",
        f"/admin/article/confirm?action=publish&pks={article}",
        "/admin/article/export/csv",
        "/admin/article/ajax/lookup?name=author&term=Test",
        "/admin/user/list",
        f"/admin/user/details/{editor}",
        f"/admin/user/edit/{editor}",
        "/admin/user/create",
        "/admin/user/export/csv",
        "/admin/trashed-article/list",
        "/admin/audit-entry/list",
        "/admin/article/details/999999",  # an error page
        "/admin/no-such-view/list",
    ]


def with_trash_and_trail(browser: httpx.Client, article_id: int) -> None:
    """Delete one article through the back office: a trash row and audit entries."""
    confirm = browser.get(f"/admin/article/confirm?action=delete&pks={article_id}")
    form = form_on(confirm, "/admin/article/act/delete")
    assert post_form(browser, form.action, form.fields).status_code == 302


def test_no_page_names_the_host_a_request_claimed(
    browser: httpx.Client, site: dict[str, int]
) -> None:
    assert admin_login(browser, ADMIN_EMAIL).status_code == 302
    with_trash_and_trail(browser, site["article"] + 1)
    pages = back_office_pages(site)
    statuses = {}
    for path in pages:
        response = browser.get(path, headers={"Host": EVIL})
        statuses[path] = response.status_code
        assert EVIL not in response.text, (path, _around(response.text, EVIL))
        assert all(EVIL not in value for value in response.headers.values()), path
        # Every link on the page is a path (or a fragment, or javascript-free data).
        for link in re.findall(r'(?:href|action|src|data-url)="([^"]*)"', response.text):
            assert not re.match(r"(?i)[a-z][a-z0-9+.-]*:|//", link) or link.startswith(
                ("data:", "mailto:")
            ), (path, link)
    assert set(statuses.values()) == {200} | {statuses[p] for p in ERRORS}, statuses
    assert statuses["/admin/article/list?pageSize=10&page=2"] == 200
    assert statuses["/admin/article/details/999999"] == 404
    # The pages really were the full ones: links to the next page, the rows, the menu.
    listing = browser.get("/admin/article/list?pageSize=10&page=2", headers={"Host": EVIL}).text
    assert 'href="/admin/article/list?pageSize=10&amp;page=3"' in listing
    assert (
        f'href="/admin/article/details/{site["article"]}"'
        in browser.get("/admin/article/list?pageSize=100", headers={"Host": EVIL}).text
    )
    assert 'href="/admin/user/list"' in listing


def test_signed_out_pages_name_no_host_either(browser: httpx.Client) -> None:
    for path in ["/admin/login", "/admin/", "/admin/article/list", "/admin/statics/css/main.css"]:
        response = browser.get(path, headers={"Host": EVIL})
        assert EVIL not in response.text and EVIL not in str(response.headers), path


def test_every_back_office_answer_is_no_store(browser: httpx.Client, site: dict[str, int]) -> None:
    login_page = browser.get("/admin/login")
    assert login_page.headers["cache-control"] == "no-store"
    assert admin_login(browser, ADMIN_EMAIL).status_code == 302
    for path in back_office_pages(site):
        response = browser.get(path)
        assert response.headers.get("cache-control") == "no-store", (path, response.status_code)
    preview = browser.post(
        "/admin/article/preview",
        data={"body": "*hi*"},
        headers={"X-CSRF-Token": _csrf(browser)},
    )
    assert preview.headers["cache-control"] == "no-store"
    redirect = browser.get("/admin/article/list?page=99&pageSize=10")
    assert redirect.headers["cache-control"] == "no-store"
    # Static files hold nothing of anyone's: they may be cached.
    static = browser.get("/admin/cms-statics/cms.css")
    assert static.status_code == 200 and "no-store" not in static.headers.get("cache-control", "")


def test_public_reads_keep_their_own_caching(browser: httpx.Client) -> None:
    assert "no-store" not in browser.get("/articles/").headers.get("cache-control", "")


def _around(text: str, needle: str) -> str:
    at = text.find(needle)
    return text[max(0, at - 200) : at + 100]


def _csrf(browser: httpx.Client) -> str:
    match = re.search(r'<meta name="csrf-token" content="([^"]+)"', browser.get("/admin/").text)
    assert match, "no CSRF token on the dashboard"
    return match.group(1)
