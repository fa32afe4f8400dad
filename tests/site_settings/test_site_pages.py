"""The readers' pages show the saved site settings: the name, description, logo and
links an admin saved in the back office, at once in this process, with the article page
still one statement."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import event

from cms.actors import SYSTEM
from cms.articles.models import ArticleStatus
from cms.db import Database, utcnow
from cms.roles import Role
from cms.site_settings.service import SiteSettingsChanges, UpdateSiteSettings
from cms.site_settings.values import DEFAULTS, NavLink
from tests.admin.browser_forms import form_on, post_form
from tests.admin.conftest import signed_in
from tests.conftest import ArticleFactory, UserFactory
from tests.site_settings.conftest import AssetFactory


def header(page: httpx.Response) -> str:
    match = re.search(r'<header class="site-header">(.*?)</header>', page.text, re.S)
    assert match, page.text
    return match.group(1)


def test_what_an_admin_saves_in_the_back_office_shows_on_the_home_page(
    browser: httpx.Client, api: httpx.Client, make_user: UserFactory, make_asset: AssetFactory
) -> None:
    before = api.get("/")
    assert before.status_code == 200
    assert f">{DEFAULTS.name}</a>" in header(before)
    assert '<a href="/search">Search</a>' in header(before)

    logo = make_asset(alt="Our mark")  # 400 x 100
    signed_in(browser, make_user(role=Role.ADMIN))
    form = form_on(browser.get("/admin/site-settings"), "/admin/site-settings")
    saved = post_form(
        browser,
        form.action,
        form.with_changes(
            name="The Valley Ledger",
            description="Small news, told well.",
            logo=str(logo.id),
            **{
                "nav-0-label": "About us",
                "nav-0-url": "/about",
                "nav-1-label": "Shop",
                "nav-1-url": "https://shop.example.com/",
            },
        ),
    )
    assert saved.status_code == 302, saved.text

    home = api.get("/")
    assert home.status_code == 200
    shown = header(home)
    assert "The Valley Ledger</a>" in shown
    assert f'<img src="/media/files/{logo.sha256}/400.png" alt="" width="128" height="32">' in (
        shown
    )
    links = re.findall(r'<li><a href="([^"]+)">([^<]+)</a></li>', shown)
    assert links == [("/about", "About us"), ("https://shop.example.com/", "Shop")]
    assert "Small news, told well." in home.text
    assert "<title>The Valley Ledger" in home.text or "The Valley Ledger</title>" in home.text
    # The page changed, so its validator did too: a cached copy is not reused.
    assert home.headers.get("etag") != before.headers.get("etag")


@contextmanager
def counting(database: Database) -> Iterator[list[str]]:
    statements: list[str] = []

    def seen(*args: Any) -> None:
        statements.append(str(args[2]))

    engine = database.reader
    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", seen)


def test_an_article_page_stays_one_statement_with_saved_settings(
    api: httpx.Client,
    database: Database,
    make_user: UserFactory,
    make_article: ArticleFactory,
) -> None:
    author = make_user(name="Wren Writer")
    make_article(
        author=author,
        title="Kept short",
        body="Words.",
        status=ArticleStatus.PUBLISHED,
        published_at=utcnow() - timedelta(days=1),
    )
    database.run(
        UpdateSiteSettings(
            changes=SiteSettingsChanges(name="Counted", nav=(NavLink("About", "/about"),))
        ),
        actor=SYSTEM,
    )
    first = api.get("/posts/kept-short")
    assert first.status_code == 200 and "Counted</a>" in first.text
    with counting(database) as statements:
        again = api.get("/posts/kept-short")
    assert again.status_code == 200 and "Counted</a>" in again.text
    assert len(statements) == 1, statements
