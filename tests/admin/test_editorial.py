"""Editors' work in the back office, over real HTTP with forms as pages show them: no lost
edits, publishing buttons, bulk actions, history and restore, the trash, the audit trail,
deleting users knowingly, tags, the preview and the dashboard."""

import json
import random
import re
from datetime import timedelta

import httpx
from sqlalchemy import func, select

from admin.diffs import MAX_LINES
from admin.editorial import HISTORY_PAGE
from cms.articles.models import Article, ArticleRevision, ArticleStatus, TrashedArticle
from cms.audit.models import AuditEntry
from cms.db import Database, utcnow
from cms.roles import Role
from cms.users.models import User
from tests.admin.browser_forms import form_on, post_form, submit
from tests.admin.conftest import signed_in
from tests.conftest import ArticleFactory, LiveServer, UserFactory


def stored(database: Database, model: type, object_id: int) -> object:
    with database.sessionmaker() as session:
        return session.get(model, object_id)


def act(browser: httpx.Client, identity: str, action: str, *ids: int) -> httpx.Response:
    """Choose rows, read the confirmation, press its button."""
    query = "&".join([f"action={action}", *(f"pk={i}" for i in ids)])
    confirmation = browser.get(f"/admin/{identity}/confirm?{query}")
    assert confirmation.status_code == 200, confirmation.text
    form = form_on(confirmation, f"/act/{action}")
    return post_form(browser, form.action, form.fields)


# No lost edits


def test_the_second_of_two_editors_cannot_overwrite_the_first(
    browser: httpx.Client,
    live_server: LiveServer,
    make_user: UserFactory,
    make_article: ArticleFactory,
    database: Database,
) -> None:
    first, second = make_user(role=Role.EDITOR, name="Ann"), make_user(role=Role.EDITOR)
    article = make_article(author=first, title="Shared piece", body="Original")
    signed_in(browser, first)
    with httpx.Client(base_url=live_server.url) as other:
        signed_in(other, second)
        page_one = form_on(browser.get(f"/admin/article/edit/{article.id}"), "/edit/")
        page_two = form_on(other.get(f"/admin/article/edit/{article.id}"), "/edit/")
        saved = post_form(
            browser, page_one.action, page_one.with_changes(body="Ann's words", save="Save")
        )
        assert saved.status_code == 302
        refused = post_form(
            other, page_two.action, page_two.with_changes(body="Lost words?", save="Save")
        )
    assert refused.status_code == 400
    assert "Changed by Ann at" in refused.text and "since you opened it (body)" in refused.text
    assert "Lost words?" in refused.text  # what they typed is still there to copy
    assert "See what changed since you opened it" in refused.text
    after = stored(database, Article, article.id)
    assert isinstance(after, Article) and after.body == "Ann's words" and after.version == 2


# Publishing from the edit page


def test_publish_schedule_and_unpublish_buttons(
    browser: httpx.Client, make_user: UserFactory, make_article: ArticleFactory, database: Database
) -> None:
    editor = make_user(role=Role.EDITOR)
    article = make_article(author=editor, title="Buttons")
    signed_in(browser, editor)
    path = f"/admin/article/edit/{article.id}"

    published = submit(browser, path, save="Publish now")
    assert published.status_code == 302 and published.headers["location"] == path
    assert "Published “Buttons”." in browser.get(path).text
    row = stored(database, Article, article.id)
    assert isinstance(row, Article) and row.is_visible_at(utcnow())

    unpublished = submit(browser, path, save="Unpublish")
    assert unpublished.status_code == 302
    row = stored(database, Article, article.id)
    assert isinstance(row, Article) and row.status is ArticleStatus.DRAFT

    too_soon = submit(browser, path, save="Schedule", published_at="")
    assert too_soon.status_code == 400 and "a time in the future" in too_soon.text
    later = (utcnow() + timedelta(days=2)).strftime("%Y-%m-%d %H:%M:%S")
    scheduled = submit(browser, path, save="Schedule", published_at=later)
    assert scheduled.status_code == 302
    assert "Scheduled “Buttons” for" in browser.get(path).text
    row = stored(database, Article, article.id)
    assert isinstance(row, Article) and row.status is ArticleStatus.PUBLISHED
    assert row.published_at is not None and row.published_at > utcnow()


# Bulk actions


def test_bulk_publish_and_unpublish_name_their_rows(
    browser: httpx.Client, make_user: UserFactory, make_article: ArticleFactory, database: Database
) -> None:
    editor = make_user(role=Role.EDITOR)
    drafts = [make_article(author=editor, title=f"Draft {n}") for n in range(3)]
    signed_in(browser, editor)
    confirmation = browser.get(
        "/admin/article/confirm?action=publish&" + "&".join(f"pk={a.id}" for a in drafts)
    )
    assert "Publish 3 articles now?" in confirmation.text
    assert all(f"“Draft {n}”" in confirmation.text for n in range(3))
    # Asking changed nothing.
    assert all(
        isinstance(a := stored(database, Article, d.id), Article)
        and a.status is ArticleStatus.DRAFT
        for d in drafts
    )
    assert act(browser, "article", "publish", *(a.id for a in drafts)).status_code == 302
    with database.sessionmaker() as session:
        statuses = set(session.scalars(select(Article.status)))
    assert statuses == {ArticleStatus.PUBLISHED}
    act(browser, "article", "unpublish", drafts[0].id)
    row = stored(database, Article, drafts[0].id)
    assert isinstance(row, Article) and row.status is ArticleStatus.DRAFT


def test_bulk_publish_publishes_now_even_an_article_with_a_time_to_come(
    browser: httpx.Client, make_user: UserFactory, make_article: ArticleFactory, database: Database
) -> None:
    """ "Publish now?" is what the page asks: a leftover future time must not keep it away."""
    editor = make_user(role=Role.EDITOR)
    later = utcnow() + timedelta(days=3)
    planned = make_article(author=editor, title="Planned", published_at=later)
    scheduled = make_article(
        author=editor, title="Scheduled", status=ArticleStatus.PUBLISHED, published_at=later
    )
    signed_in(browser, editor)
    assert act(browser, "article", "publish", planned.id, scheduled.id).status_code == 302
    for article in (planned, scheduled):
        row = stored(database, Article, article.id)
        assert isinstance(row, Article) and row.status is ArticleStatus.PUBLISHED
        assert row.published_at is not None and row.published_at <= utcnow()
    assert browser.get(f"/articles/{planned.id}").status_code == 200


def test_a_forged_bulk_action_is_refused(
    browser: httpx.Client, make_user: UserFactory, make_article: ArticleFactory, database: Database
) -> None:
    editor = make_user(role=Role.EDITOR)
    article = make_article(author=editor, title="Keep me")
    signed_in(browser, editor)
    response = browser.post("/admin/article/act/delete", data={"pks": str(article.id)})
    assert response.status_code == 403
    assert stored(database, Article, article.id) is not None


# History


def test_history_compares_and_restores_a_revision(
    browser: httpx.Client, make_user: UserFactory, make_article: ArticleFactory, database: Database
) -> None:
    editor = make_user(role=Role.EDITOR, name="Eddie")
    signed_in(browser, editor)
    created = submit(browser, "/admin/article/create", title="Versioned", body="first line")
    assert created.status_code == 302
    with database.sessionmaker() as session:
        article_id = session.scalars(select(Article.id)).one()
    path = f"/admin/article/edit/{article_id}"
    submit(browser, path, body="second line", title="Versioned again")

    history = browser.get(f"/admin/article/{article_id}/history").text
    assert "History of “Versioned again”" in history and "Eddie" in history
    compare = browser.get(f"/admin/article/{article_id}/history/1")
    assert compare.status_code == 200
    removed = re.findall(r'<td class="diff_sub">([^<]*)</td>', compare.text)
    added = re.findall(r'<td class="diff_add">([^<]*)</td>', compare.text)
    assert removed == ["Versioned", "first line"]  # the title, then the body
    assert added == ["Versioned again", "second line"]
    assert not re.search(r"<script(?![^>]*\bsrc=)", compare.text)  # no inline script
    form = form_on(compare, "/restore")
    assert post_form(browser, form.action, form.fields).status_code == 302
    row = stored(database, Article, article_id)
    assert isinstance(row, Article) and row.body == "first line" and row.title == "Versioned"
    with database.sessionmaker() as session:
        assert session.scalar(select(func.count()).select_from(ArticleRevision)) == 3
    # A restore is a POST with the session's token, like every change.
    forged = browser.post(f"/admin/article/{article_id}/history/2/restore")
    assert forged.status_code == 403


def test_comparing_long_bodies_is_bounded_and_never_blocks_other_requests(
    browser: httpx.Client, make_user: UserFactory, make_article: ArticleFactory, api: httpx.Client
) -> None:
    """300 changed lines of "ab" noise took difflib's HtmlDiff minutes, on the event
    loop: every other request of the worker waited. Lines are compared whole now, in a
    thread; past the line limit the page says so instead of comparing."""
    editor = make_user(role=Role.EDITOR)
    noise = random.Random(1)

    def body(lines: int) -> str:
        return "\n".join("".join(noise.choice("ab") for _ in range(40)) for _ in range(lines))

    article = make_article(author=editor, title="Noise", body=body(300))
    signed_in(browser, editor)
    submit(browser, f"/admin/article/edit/{article.id}", body=body(300))
    compare = browser.get(f"/admin/article/{article.id}/history/1")
    assert compare.status_code == 200
    assert compare.text.count('class="diff_add"') == 300
    submit(browser, f"/admin/article/edit/{article.id}", body="x\n" * (MAX_LINES + 1))
    too_long = browser.get(f"/admin/article/{article.id}/history/1")
    assert too_long.status_code == 200 and "too long to compare" in too_long.text
    assert api.get("/healthz").status_code == 200


def test_the_history_comes_in_pages(
    browser: httpx.Client, make_user: UserFactory, make_article: ArticleFactory
) -> None:
    editor = make_user(role=Role.EDITOR)
    article = make_article(author=editor, title="Often edited")
    signed_in(browser, editor)
    for number in range(HISTORY_PAGE + 1):
        submit(browser, f"/admin/article/edit/{article.id}", title=f"Edit {number}")
    first = browser.get(f"/admin/article/{article.id}/history")
    assert first.text.count("/history/") == HISTORY_PAGE - 1  # the newest is "Current"
    assert "?page=2" in first.text
    second = browser.get(f"/admin/article/{article.id}/history?page=2")
    assert "Often edited" in second.text and "?page=1" in second.text
    assert browser.get(f"/admin/article/{article.id}/history?page=0").status_code == 400


# The trash


def test_an_admin_restores_and_purges_from_the_trash(
    browser: httpx.Client, make_user: UserFactory, make_article: ArticleFactory, database: Database
) -> None:
    admin = make_user(role=Role.ADMIN)
    kept = make_article(author=admin, title="Come back")
    gone = make_article(author=admin, title="Go away")
    signed_in(browser, admin)
    act(browser, "article", "delete", kept.id, gone.id)
    listing = browser.get("/admin/trashed-article/list").text
    assert "Come back" in listing and "Go away" in listing
    act(browser, "trashed-article", "restore", kept.id)
    assert stored(database, Article, kept.id) is not None
    act(browser, "trashed-article", "purge", gone.id)
    assert stored(database, TrashedArticle, gone.id) is None
    assert stored(database, Article, gone.id) is None


# The audit trail


def test_the_audit_trail_is_for_admins_and_read_only(
    browser: httpx.Client, make_user: UserFactory, make_article: ArticleFactory, database: Database
) -> None:
    admin = make_user(role=Role.ADMIN, name="Ada Admin")
    signed_in(browser, admin)
    submit(browser, "/admin/article/create", title="Leaves a trace")
    trail = browser.get("/admin/audit-entry/list")
    assert trail.status_code == 200
    assert "Ada Admin" in trail.text and "Leaves a trace" in trail.text
    filtered = browser.get("/admin/audit-entry/list?action=login").text
    assert "Leaves a trace" not in filtered
    # The filter offers the values themselves, and choosing one finds its rows.
    assert "action=create" in trail.text
    assert "(&#39;create&#39;,)" not in trail.text and "('create',)" not in trail.text
    assert "Leaves a trace" in browser.get("/admin/audit-entry/list?action=create").text
    with database.sessionmaker() as session:
        entry_id = session.scalars(select(AuditEntry.id)).first()
    for path in ["/admin/audit-entry/create", f"/admin/audit-entry/edit/{entry_id}"]:
        assert browser.get(path).status_code == 403
    assert (
        browser.get(f"/admin/audit-entry/confirm?action=delete&pks={entry_id}").status_code == 404
    )
    assert browser.delete(f"/admin/audit-entry/delete?pks={entry_id}").status_code == 403

    with httpx.Client(base_url=str(browser.base_url)) as editor_browser:
        signed_in(editor_browser, make_user(role=Role.EDITOR))
        assert editor_browser.get("/admin/audit-entry/list").status_code == 403


def test_back_office_changes_are_audited_from_the_admin_surface(
    browser: httpx.Client, make_user: UserFactory, database: Database
) -> None:
    signed_in(browser, make_user(role=Role.EDITOR))
    submit(browser, "/admin/article/create", title="From the form")
    with database.sessionmaker() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "create")).one()
    assert entry.surface == "admin" and entry.object_repr == "From the form"


# Deleting users knowingly


def test_deleting_a_user_who_wrote_articles_asks_what_happens_to_them(
    browser: httpx.Client, make_user: UserFactory, make_article: ArticleFactory, database: Database
) -> None:
    admin = make_user(role=Role.ADMIN)
    writer, heir = make_user(name="Leaving Writer"), make_user(email="heir@example.com")
    pieces = [make_article(author=writer, title=f"Piece {n}") for n in range(2)]
    signed_in(browser, admin)
    confirmation = browser.get(f"/admin/user/confirm?action=delete&pks={writer.id}")
    assert "They wrote 2 articles" in confirmation.text
    form = form_on(confirmation, "/act/delete")
    nobody = post_form(browser, form.action, form.with_changes(reassign_to="nobody@example.com"))
    assert nobody.status_code == 302
    assert "No user with the email" in browser.get("/admin/user/list").text
    assert stored(database, User, writer.id) is not None
    response = post_form(browser, form.action, form.with_changes(reassign_to="heir@example.com"))
    assert response.status_code == 302
    assert stored(database, User, writer.id) is None
    for piece in pieces:
        row = stored(database, Article, piece.id)
        assert isinstance(row, Article) and row.author_id == heir.id


# Tags, the preview, the dashboard


def test_tags_are_chosen_and_typed_in_the_form(
    browser: httpx.Client, make_user: UserFactory, database: Database
) -> None:
    signed_in(browser, make_user(role=Role.EDITOR))
    response = submit(browser, "/admin/article/create", title="Tagged", tags=None)
    assert response.status_code == 302
    with database.sessionmaker() as session:
        article_id = session.scalars(select(Article.id)).one()
    page = browser.get(f"/admin/article/edit/{article_id}")
    form = form_on(page, "/edit/")
    data = [
        *form.with_changes(save="Save"),
        ("tags", "Python"),
        ("tags", " python "),
        ("tags", "Web"),
    ]
    assert post_form(browser, form.action, data).status_code == 302
    shown = form_on(browser.get(f"/admin/article/edit/{article_id}"), "/edit/")
    assert [value for name, value in shown.fields if name == "tags"] == ["Python", "Web"]
    # Saved unchanged, the tags stay.
    assert submit(browser, f"/admin/article/edit/{article_id}").status_code == 302
    with database.sessionmaker() as session:
        revisions = session.scalars(select(ArticleRevision.tags)).all()
    assert json.loads(revisions[-1]) == ["Python", "Web"] and len(revisions) == 2


def test_the_preview_is_rendered_and_sanitized_by_the_server(
    browser: httpx.Client, make_user: UserFactory
) -> None:
    signed_in(browser, make_user(role=Role.EDITOR))
    page = browser.get("/admin/article/create")
    token = page.text.split('name="csrf-token" content="')[1].split('"')[0]
    preview = browser.post(
        "/admin/article/preview",
        data={"body": "**Bold** <script>alert(1)</script> [x](javascript:alert(1))"},
        headers={"X-CSRF-Token": token},
    )
    assert preview.status_code == 200
    html = preview.json()["html"]
    assert "<strong>Bold</strong>" in html
    assert "<script" not in html and "javascript:" not in html
    assert browser.post("/admin/article/preview", data={"body": "x"}).status_code == 403


def test_view_on_site_only_for_what_readers_can_see(
    browser: httpx.Client, make_user: UserFactory, make_article: ArticleFactory
) -> None:
    editor = make_user(role=Role.EDITOR)
    live = make_article(
        author=editor,
        title="Live",
        status=ArticleStatus.PUBLISHED,
        published_at=utcnow() - timedelta(hours=1),
    )
    draft = make_article(author=editor, title="Not yet")
    signed_in(browser, editor)
    assert 'href="/posts/live"' in browser.get(f"/admin/article/edit/{live.id}").text
    assert "View on site" not in browser.get(f"/admin/article/edit/{draft.id}").text


def test_the_dashboard_counts_and_looks_ahead(
    browser: httpx.Client, make_user: UserFactory, make_article: ArticleFactory
) -> None:
    admin = make_user(role=Role.ADMIN)
    now = utcnow()
    make_article(author=admin, title="A draft")
    make_article(
        author=admin,
        title="Next week",
        status=ArticleStatus.PUBLISHED,
        published_at=now + timedelta(days=7),
    )
    for n in range(2):
        make_article(
            author=admin,
            title=f"Out {n}",
            status=ArticleStatus.PUBLISHED,
            published_at=now - timedelta(days=n + 1),
        )
    signed_in(browser, admin)
    page = " ".join(browser.get("/admin/").text.split())
    assert 'cms-count-draft">1<' in page
    assert 'cms-count-scheduled">1<' in page
    assert 'cms-count-published">2<' in page
    assert "Next week" in page.split("Next scheduled")[1]
    assert "Latest activity" in page and "login" in page
