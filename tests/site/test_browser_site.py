"""The readers' site in a real headless Chromium (Debian's ``chromium``) with JavaScript
switched off: a reader goes from the home page to an article, to one of its tags, to its
author, and a draft's address is the 404 page; a preview link its author shares from the
back office opens the draft in a signed-out browser, marked noindex. The pages carry the
saved site settings."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
from sqlalchemy import select

from cms.actors import SYSTEM
from cms.articles import actions
from cms.articles.changes import ArticleDraft
from cms.articles.models import Article, ArticleStatus
from cms.db import Database, utcnow
from cms.roles import Role
from cms.site_settings.service import SiteSettingsChanges, UpdateSiteSettings
from cms.site_settings.values import NavLink
from cms.users.models import User
from tests.admin.test_browser import CHROMIUM, CHROMIUM_ARGS, sign_in
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


def test_a_preview_link_the_author_shares_opens_the_draft_signed_out_and_unindexed(
    chromium: Browser, live_server: LiveServer, database: Database, blog: dict[str, User]
) -> None:
    with database.sessionmaker() as session:
        draft_id = session.scalar(select(Article.id).where(Article.slug == "secret-plans"))
    assert draft_id is not None

    # The author, signed in to the back office in a browser of their own.
    author_context = chromium.new_context(base_url=live_server.url)
    try:
        author = author_context.new_page()
        author.set_default_timeout(15_000)
        sign_in(author, blog["wren"].email)
        author.goto(f"/admin/article/edit/{draft_id}")
        author.get_by_role("link", name="Share preview").click()
        author.wait_for_url(f"**/admin/article/{draft_id}/previews")
        author.locator("form").filter(has=author.locator("select#expires_in")).get_by_role(
            "button", name="Share preview"
        ).click()
        link = author.locator("pre.cms-shown-once code").inner_text().strip()
    finally:
        author_context.close()
    assert "/preview/" in link

    # Anyone holding the link, in a fresh browser: not signed in, no script.
    stranger_context = reader_context(chromium, live_server)
    try:
        stranger = stranger_context.new_page()
        stranger.set_default_timeout(15_000)
        response = stranger.goto(link if link.startswith("http") else live_server.url + link)
        assert response is not None and response.status == 200
        assert "noindex" in response.headers.get("x-robots-tag", "")
        cache_control = response.headers.get("cache-control", "")
        assert "private" in cache_control and "no-store" in cache_control
        expect(stranger.locator('meta[name="robots"]')).to_have_attribute(
            "content", re.compile("noindex")
        )
        expect(stranger.get_by_role("heading", level=1)).to_have_text("Secret plans")
        expect(stranger.locator(".body")).to_contain_text("Not for readers yet.")
        expect(stranger.get_by_role("note")).to_contain_text("Preview")
        expect(stranger.locator(".site-name")).to_have_text("The Valley Ledger")
        # The link shows the draft; the draft's own address still does not.
        assert stranger.goto("/posts/secret-plans").status == 404  # type: ignore[union-attr]
    finally:
        stranger_context.close()
