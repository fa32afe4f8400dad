"""The back office end to end in a real headless Chromium (Debian's ``chromium``)."""

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy import select

from cms.articles.models import Article, ArticleStatus
from cms.db import Database
from cms.roles import Role
from tests.conftest import DEFAULT_PASSWORD, LiveServer, UserFactory

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Chromium as root in a container: no sandbox, and no calls home on a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is not installed: run ./test.sh, which installs it (apt chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Browser, live_server: LiveServer, database: Database) -> Iterator[Page]:
    context = chromium.new_context(base_url=live_server.url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def sign_in(page: Page, email: str) -> None:
    page.goto("/admin/login")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/")


def test_editor_writes_and_publishes_for_an_author_found_by_lookup(
    page: Page,
    make_user: UserFactory,
    database: Database,
    tmp_path: Path,
) -> None:
    editor = make_user(role=Role.EDITOR)
    author = make_user(name="Zelda Quill")
    sign_in(page, editor.email)

    page.goto("/admin/article/create")
    page.fill("#title", "Written in a real browser")
    page.fill("#body", "Hello **world**")
    page.select_option("#status", "published")
    # The author select is a select2 widget fed by the ajax lookup as you type.
    page.click("#author + .select2 .select2-selection")
    page.keyboard.type("Zelda")
    option = page.locator(".select2-results__option", has_text="Zelda Quill")
    option.click()
    page.screenshot(path=tmp_path / "article-form.png", full_page=True)
    page.click("input[type=submit][value=Save]")
    page.wait_for_url("**/admin/article/list**")
    expect(page.locator("table")).to_contain_text("Written in a real browser")

    with database.sessionmaker() as session:
        article = session.scalar(select(Article))
    assert article is not None
    assert article.author_id == author.id
    assert article.status is ArticleStatus.PUBLISHED
    assert article.published_at is not None
    assert article.slug == "written-in-a-real-browser"
    assert article.body_html == "<p>Hello <strong>world</strong></p>\n"


def test_a_wrong_password_is_shown_on_the_login_page(page: Page, make_user: UserFactory) -> None:
    admin = make_user(role=Role.ADMIN)
    page.goto("/admin/login")
    page.fill("input[name=username]", admin.email)
    page.fill("input[name=password]", "not the password")
    page.click("button[type=submit]")
    expect(page.locator("body")).to_contain_text("Invalid credentials")
    assert "/admin/login" in page.url
