"""What back-office pages show a newcomer: an article's details as readers see it (the
rendered body, its tags, its revision: one numbering), error pages that keep the menu,
who is signed in and a way back, and the site's icon."""

import re
from pathlib import Path

import httpx

from cms.asgi import build_app
from cms.db import Database
from cms.roles import Role
from tests.admin.browser_forms import form_on, post_form, submit
from tests.admin.conftest import signed_in
from tests.conftest import ArticleFactory, LiveServer, UserFactory, failing_commits, make_settings

LAYOUT = 'class="navbar navbar-vertical'


# An article's details


def test_an_article_s_details_show_the_body_as_readers_see_it_its_tags_and_revision(
    browser: httpx.Client, make_user: UserFactory, make_article: ArticleFactory
) -> None:
    editor = make_user(role=Role.EDITOR)
    article = make_article(author=editor, title="Rendered", body="Hello")
    signed_in(browser, editor)
    submit(
        browser,
        f"/admin/article/edit/{article.id}",
        body="Hello **world** <script>alert(1)</script>",
        tags="Cooking",
    )
    submit(browser, f"/admin/article/edit/{article.id}", tags="Baking")
    details = browser.get(f"/admin/article/details/{article.id}").text

    assert "Hello <strong>world</strong>" in details
    assert "**world**" not in details and "alert(1)" not in details
    assert re.search(r'<span class="badge[^"]*cms-tag">Baking</span>', details)
    # One numbering: the revision the history lists, never the internal version counter.
    history = f"/admin/article/{article.id}/history"
    assert f'Revision 3 (<a href="{history}">history</a>)' in details
    assert ">Version<" not in details and "version" not in details.lower().replace("revision", "")
    assert re.search(r"<td>3</td>\s*<td>Rendered</td>", browser.get(history).text)


# Error pages


def assert_in_layout(page: httpx.Response, who: str | None) -> None:
    assert LAYOUT in page.text, page.text[:500]
    if who is not None:
        assert who in page.text
        assert 'href="/admin/">Back to the dashboard</a>' in page.text


def test_a_page_not_allowed_keeps_the_menu_and_a_way_back(
    browser: httpx.Client, make_user: UserFactory
) -> None:
    signed_in(browser, make_user(role=Role.EDITOR, name="Eve Editor"))
    refused = browser.get("/admin/audit-entry/list")
    assert refused.status_code == 403
    assert_in_layout(refused, "Eve Editor")
    assert "Your account may not open this page" in refused.text
    assert re.search(r'href="[^"]*/admin/article/list"', refused.text)  # the menu


def test_a_request_refused_for_want_of_a_token_is_explained_in_the_layout(
    browser: httpx.Client, make_user: UserFactory
) -> None:
    signed_in(browser, make_user(role=Role.EDITOR, name="Eve Editor"))
    refused = browser.post("/admin/account", data={"name": "No token"})
    assert refused.status_code == 403
    assert_in_layout(refused, "Eve Editor")
    assert "This request was refused" in refused.text


def test_a_page_not_found_keeps_the_layout_and_offers_its_list(
    browser: httpx.Client, make_user: UserFactory
) -> None:
    signed_in(browser, make_user(role=Role.EDITOR, name="Eve Editor"))
    missing = browser.get("/admin/article/details/999999")
    assert missing.status_code == 404
    assert_in_layout(missing, "Eve Editor")
    assert '<a class="btn" href="/admin/article/list">Back to articles</a>' in missing.text
    # An address no route knows still knows who is asking.
    nowhere = browser.get("/admin/no/such/page")
    assert nowhere.status_code == 404
    assert_in_layout(nowhere, "Eve Editor")


def test_a_signed_out_visitor_s_error_page_offers_to_sign_in(browser: httpx.Client) -> None:
    nowhere = browser.get("/admin/no/such/page")
    assert nowhere.status_code == 404
    assert_in_layout(nowhere, None)
    assert 'href="/admin/login">Sign in</a>' in nowhere.text


def test_a_server_error_keeps_the_layout_and_gives_a_reference(
    browser: httpx.Client, make_user: UserFactory, database: Database
) -> None:
    signed_in(browser, make_user(role=Role.EDITOR, name="Eve Editor"))
    form = form_on(browser.get("/admin/account"), "/admin/account")
    with failing_commits(database):
        failed = post_form(browser, form.action, form.with_changes(name="New Name"))
    assert failed.status_code == 500
    assert_in_layout(failed, "Eve Editor")
    assert "Nothing you did caused this" in failed.text
    assert "Traceback" not in failed.text and "simulated commit failure" not in failed.text
    assert re.search(r"Reference: <code>[\w-]+</code>", failed.text)


def test_an_unavailable_database_answers_503_in_the_layout(
    browser: httpx.Client, make_user: UserFactory, tmp_path: Path
) -> None:
    """The same site (same key, so the same session cookie) with its database gone."""
    signed_in(browser, make_user(role=Role.EDITOR))
    gone = f"sqlite:///{tmp_path / 'no such directory' / 'cms.sqlite3'}"
    with (
        LiveServer(build_app(make_settings(gone))) as broken,
        httpx.Client(base_url=broken.url, cookies=browser.cookies) as client,
    ):
        unavailable = client.get("/admin/article/list")
    assert unavailable.status_code == 503
    assert unavailable.headers["retry-after"] == "30"
    assert_in_layout(unavailable, None)
    assert "temporarily unavailable" in unavailable.text


# The icon


def test_the_site_and_the_back_office_have_an_icon(
    browser: httpx.Client, make_user: UserFactory
) -> None:
    for path in ("/favicon.ico", "/favicon.svg"):
        icon = browser.get(path)
        assert icon.status_code == 200, path
        assert icon.headers["content-type"] == "image/svg+xml"
        assert icon.content.startswith(b"<svg") and b"<script" not in icon.content
    assert '<link rel="icon" href="/favicon.svg"' in browser.get("/").text
    assert '<link rel="icon" href="/favicon.svg">' in browser.get("/admin/login").text
    signed_in(browser, make_user(role=Role.EDITOR))
    assert '<link rel="icon" href="/favicon.svg">' in browser.get("/admin/").text
