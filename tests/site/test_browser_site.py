"""The readers' site in a real headless Chromium (Debian's ``chromium``) with JavaScript
switched off: a reader goes from the home page to an article, to one of its tags, to its
author, and a draft's address is the 404 page. The pages carry the saved site settings."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from cms.actors import SYSTEM
from cms.articles import actions
from cms.articles.changes import ArticleDraft
from cms.articles.models import ArticleStatus
from cms.db import Database, utcnow
from cms.roles import Role
from cms.site_settings.service import SiteSettingsChanges, UpdateSiteSettings
from cms.site_settings.values import NavLink
from cms.users.models import User
from tests.admin.test_browser import CHROMIUM, CHROMIUM_ARGS
from tests.conftest import LiveServer, UserFactory

pytestmark = pytest.mark.browser


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


def reader_context(chromium: Browser, live_server: LiveServer) -> BrowserContext:
    """A fresh, signed-out browser that runs no script at all."""
    return chromium.new_context(
        base_url=live_server.url,
        java_script_enabled=False,
        viewport={"width": 1280, "height": 800},
    )


@pytest.fixture
def reader(chromium: Browser, live_server: LiveServer, database: Database) -> Iterator[Page]:
    context = reader_context(chromium, live_server)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def write(
    database: Database, author: User, title: str, body: str, *tags: str, **how: object
) -> None:
    database.run(
        actions.CreateArticle(
            draft=ArticleDraft(title=title, body=body, tags=tags, **how)  # type: ignore[arg-type]
        ),
        actor=author,
    )


@pytest.fixture
def blog(database: Database, make_user: UserFactory) -> dict[str, User]:
    """Two authors' published articles, one tag they share, and a draft."""
    wren = make_user(name="Wren Writer", role=Role.AUTHOR)
    otto = make_user(name="Otto Other", role=Role.AUTHOR)
    yesterday = utcnow() - timedelta(days=1)
    published = {"status": ArticleStatus.PUBLISHED, "published_at": yesterday}
    write(
        database,
        wren,
        "Rivers in spring",
        "The rivers **run high** in April.",
        "Nature",
        "Water",
        **published,
    )
    write(database, otto, "Forest floors", "Moss, mostly.", "Nature", **published)
    write(database, otto, "City lights", "Neon at night.", "Urban", **published)
    write(database, wren, "Secret plans", "Not for readers yet.", "Nature")
    database.run(
        UpdateSiteSettings(
            changes=SiteSettingsChanges(
                name="The Valley Ledger",
                description="Small news, told well.",
                nav=(NavLink("Home", "/"), NavLink("Nature", "/tag/nature")),
            )
        ),
        actor=SYSTEM,
    )
    return {"wren": wren, "otto": otto}


def test_a_reader_without_javascript_goes_from_home_to_article_tag_and_author(
    reader: Page, blog: dict[str, User]
) -> None:
    reader.goto("/")
    expect(reader).to_have_title("The Valley Ledger")
    expect(reader.locator(".site-name")).to_have_text("The Valley Ledger")
    expect(reader.get_by_role("navigation", name="Site").get_by_role("link")).to_have_text(
        ["Home", "Nature"]
    )
    titles = reader.locator("ol.posts h2")
    expect(titles).to_have_text(
        ["City lights", "Forest floors", "Rivers in spring"], use_inner_text=True
    )
    expect(reader.get_by_text("Secret plans")).to_have_count(0)

    reader.get_by_role("link", name="Rivers in spring").click()
    reader.wait_for_url("**/posts/rivers-in-spring")
    expect(reader.get_by_role("heading", level=1)).to_have_text("Rivers in spring")
    expect(reader.locator(".body strong")).to_have_text("run high")
    expect(reader.locator("ul.tags a")).to_have_text(["Nature", "Water"])
    expect(reader.locator(".post .meta")).to_contain_text("Wren Writer")
    expect(reader.locator(".site-name")).to_have_text("The Valley Ledger")

    reader.locator("ul.tags").get_by_role("link", name="Nature").click()
    reader.wait_for_url("**/tag/nature")
    expect(reader.get_by_role("heading", level=1)).to_have_text("Tagged “Nature”")
    expect(reader.locator("ol.posts h2")).to_have_text(["Forest floors", "Rivers in spring"])
    expect(reader.get_by_text("Secret plans")).to_have_count(0)

    reader.get_by_role("link", name="Rivers in spring").click()
    reader.wait_for_url("**/posts/rivers-in-spring")
    reader.locator(".post .meta").get_by_role("link", name="Wren Writer").click()
    reader.wait_for_url(f"**/author/{blog['wren'].id}")
    expect(reader.get_by_role("heading", level=1)).to_have_text("Articles by Wren Writer")
    # Wren's published article only: not Otto's, and not Wren's own draft.
    expect(reader.locator("ol.posts h2")).to_have_text(["Rivers in spring"])


def test_a_drafts_address_is_the_not_found_page(reader: Page, blog: dict[str, User]) -> None:
    response = reader.goto("/posts/secret-plans")
    assert response is not None and response.status == 404
    expect(reader.get_by_role("heading", level=1)).to_have_text("Page not found")
    expect(reader.get_by_text("Not for readers yet.")).to_have_count(0)
    # Still the site's page, with its name and a way back.
    expect(reader.locator(".site-name")).to_have_text("The Valley Ledger")
    reader.get_by_role("link", name="Go to the newest articles").click()
    reader.wait_for_url("**/")
    expect(reader.locator("ol.posts h2")).to_have_count(3)
