"""Preview links in the back office, over HTTP with the forms the pages show: an author
shares a draft from its page, copies the link shown once, sees it listed and revokes it."""

import re
from datetime import timedelta

import httpx
from sqlalchemy import select

from cms.articles.models import ArticleStatus
from cms.audit.models import AuditEntry
from cms.db import Database, utcnow
from cms.previews.models import PreviewLink
from cms.roles import Role
from tests.admin.browser_forms import form_on, post_form
from tests.admin.conftest import signed_in
from tests.conftest import ArticleFactory, LiveServer, UserFactory

LINK = re.compile(r"<code>([^<]*/preview/(pv1_[0-9a-f_]+))</code>")


def test_an_author_shares_a_preview_copies_it_once_and_revokes_it(
    browser: httpx.Client,
    api: httpx.Client,
    make_user: UserFactory,
    make_article: ArticleFactory,
    database: Database,
) -> None:
    author = make_user(name="Ann Author")
    article = make_article(author=author, title="Draft to show", body="Hello")
    signed_in(browser, author)
    edit_page = browser.get(f"/admin/article/edit/{article.id}")
    assert edit_page.status_code == 200
    links_path = f"/admin/article/{article.id}/previews"
    assert f'href="{links_path}">Share preview</a>' in edit_page.text
    details = browser.get(f"/admin/article/details/{article.id}")
    assert f'href="{links_path}"' in details.text

    page = browser.get(links_path)
    assert page.status_code == 200 and "No preview link of this article is open" in page.text
    form = form_on(page, links_path)
    assert form.values()["expires_in"] == str(7 * 86400)  # 7 days unless chosen otherwise
    assert form.options["expires_in"] == [str(3600), str(86400), str(7 * 86400), str(30 * 86400)]
    assert "csrf_token" in form.values()
    shown = post_form(browser, form.action, form.with_changes(expires_in=str(86400)))
    assert shown.status_code == 200, shown.text
    assert shown.headers["Cache-Control"] == "no-store"
    found = LINK.search(shown.text)
    assert found is not None, shown.text
    url, token = found.groups()
    assert url.endswith(f"/preview/{token}")

    opened = api.get(f"/articles/{article.id}", params={"preview": token})  # signed out
    assert opened.status_code == 200 and opened.json()["title"] == "Draft to show"
    with database.reading() as session:
        link = session.scalars(select(PreviewLink)).one()
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "share_preview")
        ).one()
    assert link.expires_at - link.created_at == timedelta(days=1)
    assert link.created_by_id == author.id and entry.surface == "admin"
    assert token not in browser.get(links_path).text  # shown once, never again

    listed = browser.get(links_path)
    assert "Ann Author" in listed.text
    revoke = form_on(listed, "/revoke")
    assert revoke.action.endswith(f"/previews/{link.id}/revoke")
    revoked = post_form(browser, revoke.action, revoke.fields)
    assert revoked.status_code == 302 and revoked.headers["location"].endswith(links_path)
    after = browser.get(links_path)
    assert "is revoked" in after.text and "No preview link of this article is open" in after.text
    assert api.get(f"/articles/{article.id}", params={"preview": token}).status_code == 404
    with database.reading() as session:
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.object_id == article.id)
        ).all()
    assert "revoke_preview" in actions


def test_an_expiry_the_page_does_not_offer_makes_no_link(
    browser: httpx.Client, make_user: UserFactory, make_article: ArticleFactory, database: Database
) -> None:
    author = make_user()
    article = make_article(author=author, title="Draft")
    signed_in(browser, author)
    path = f"/admin/article/{article.id}/previews"
    form = form_on(browser.get(path), path)
    refused = post_form(browser, form.action, form.with_changes(expires_in=str(365 * 86400)))
    assert refused.status_code == 302
    assert "choose how long the link works" in browser.get(path).text
    with database.reading() as session:
        assert session.scalars(select(PreviewLink)).all() == []


def test_a_published_article_offers_no_share_but_lists_open_links(
    browser: httpx.Client,
    make_user: UserFactory,
    make_article: ArticleFactory,
    live_server: LiveServer,
) -> None:
    editor = make_user(role=Role.EDITOR)
    article = make_article(
        author=make_user(),
        title="Out already",
        status=ArticleStatus.PUBLISHED,
        published_at=utcnow() - timedelta(days=1),
    )
    signed_in(browser, editor)
    assert "Share preview" not in browser.get(f"/admin/article/edit/{article.id}").text
    page = browser.get(f"/admin/article/{article.id}/previews")
    assert page.status_code == 200 and "This article is published" in page.text
    assert 'name="expires_in"' not in page.text


def test_an_author_cannot_open_the_preview_page_of_anothers_article(
    browser: httpx.Client, make_user: UserFactory, make_article: ArticleFactory
) -> None:
    theirs = make_article(author=make_user(), title="Not yours")
    signed_in(browser, make_user())
    page = browser.get(f"/admin/article/{theirs.id}/previews")
    assert page.status_code == 404 and "Not yours" not in page.text
