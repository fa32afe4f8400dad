"""The audit trail as an admin reads it: each change as "field: before → after" (a body as
"changed", linked to the difference between its revisions), times whole to the second
in UTC, and the user and the object linked to their pages while they exist."""

import re
from html import unescape

import httpx
from sqlalchemy import select

from cms.articles.models import Article
from cms.audit.models import AuditEntry
from cms.db import Database
from cms.roles import Role
from tests.admin.browser_forms import submit
from tests.admin.conftest import signed_in
from tests.admin.test_editorial import act
from tests.conftest import ArticleFactory, UserFactory

WHOLE_TIME = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC"


def changes_of(page: str, entry_id: int) -> list[str]:
    """The lines of the Changes cell in the row of entry ``entry_id``, as text."""
    row = re.search(
        rf'<tr>(?:(?!</tr>).)*?/audit-entry/details/{entry_id}"(?:(?!</tr>).)*</tr>', page, re.S
    )
    assert row, f"no row for entry {entry_id}"
    items = re.findall(r"<li>(.*?)</li>", row.group(0), re.S)
    return [" ".join(unescape(re.sub(r"<[^>]+>", "", item)).split()) for item in items]


def entry(database: Database, action: str, object_type: str = "article") -> AuditEntry:
    with database.sessionmaker() as session:
        found = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == action, AuditEntry.object_type == object_type)
            .order_by(AuditEntry.id.desc())
        ).first()
    assert found is not None, action
    return found


def test_each_change_reads_field_before_and_after(
    browser: httpx.Client, make_user: UserFactory, database: Database
) -> None:
    admin = make_user(role=Role.ADMIN, name="Ada Admin")
    signed_in(browser, admin)
    submit(browser, "/admin/article/create", title="First title", body="first body")
    with database.sessionmaker() as session:
        article_id = session.scalars(select(Article.id)).one()
    submit(
        browser,
        f"/admin/article/edit/{article_id}",
        title="Second title",
        body="second body",
        state="published",
        tags="Cooking",
    )
    published = entry(database, "publish")
    created = entry(database, "create")
    trail = browser.get("/admin/audit-entry/list").text

    lines = changes_of(trail, published.id)
    assert "title: “First title” → “Second title”" in lines
    assert "status: Draft → Published" in lines
    assert "tags: — → Cooking" in lines
    assert "body: changed (see the difference)" in lines
    assert any(re.fullmatch(rf"published at: — → {WHOLE_TIME}", line) for line in lines)
    # What an article was made with, without a "before" that never was.
    assert "title: “First title”" in changes_of(trail, created.id)
    # No raw JSON anywhere, nothing cut off.
    assert "&#34;title&#34;" not in trail and '"title": [' not in trail
    assert "cms-clip" not in trail

    # Whole times, to the second, in UTC.
    assert published.at.strftime("%Y-%m-%d %H:%M:%S UTC") in trail

    # The body's link opens the revisions compared around that very change.
    diff = browser.get(f"/admin/audit-entry/{published.id}/diff")
    assert diff.status_code == 302
    assert diff.headers["location"] == f"/admin/article/{article_id}/history/1?against=2"
    compared = browser.get(diff.headers["location"]).text
    assert "Revision 1 of “Second title”, against revision 2" in compared
    removed = re.findall(r'<td class="diff_sub">([^<]*)</td>', compared)
    added = re.findall(r'<td class="diff_add">([^<]*)</td>', compared)
    assert "first body" in removed and "second body" in added


def test_users_and_objects_link_to_their_pages_while_they_exist(
    browser: httpx.Client,
    make_user: UserFactory,
    make_article: ArticleFactory,
    database: Database,
) -> None:
    admin = make_user(role=Role.ADMIN, name="Ada Admin")
    writer = make_user(role=Role.AUTHOR, name="Will Writer")
    kept, binned, purged = (
        make_article(author=writer, title=title) for title in ("Kept", "Binned", "Purged")
    )
    signed_in(browser, admin)
    submit(browser, f"/admin/article/edit/{kept.id}", title="Kept still")
    act(browser, "article", "delete", binned.id, purged.id)
    act(browser, "trashed-article", "purge", purged.id)
    submit(browser, f"/admin/user/edit/{writer.id}", role="editor", is_active=None)
    trail = browser.get("/admin/audit-entry/list").text

    assert f'<a href="/admin/user/details/{admin.id}">Ada Admin</a>' in trail
    assert f'<a href="/admin/article/details/{kept.id}">Kept still</a>' in trail
    assert f'<a href="/admin/trashed-article/details/{binned.id}">Binned</a>' in trail
    assert "(in the trash)" in trail
    assert "Purged (deleted)" in unescape(re.sub(r"<[^>]+>", "", trail))
    assert f'href="/admin/article/details/{purged.id}"' not in trail
    assert f'<a href="/admin/user/details/{writer.id}">{writer.email}</a>' in trail

    role_change = entry(database, "role_change", "user")
    lines = changes_of(trail, role_change.id)
    assert "role: Author → Editor" in lines and "active: yes → no" in lines

    details = browser.get(f"/admin/audit-entry/details/{role_change.id}").text
    assert "role</span>: Author → Editor" in details
    assert re.search(WHOLE_TIME, details)


def test_a_secret_reads_as_changed_and_a_purged_history_has_no_diff(
    browser: httpx.Client, make_user: UserFactory, database: Database
) -> None:
    admin, editor = make_user(role=Role.ADMIN), make_user(role=Role.EDITOR)
    signed_in(browser, admin)
    submit(browser, f"/admin/user/edit/{editor.id}", password="a brand new password")
    password_change = entry(database, "password_change", "user")
    lines = changes_of(browser.get("/admin/audit-entry/list").text, password_change.id)
    assert lines == ["password: changed"]
    assert "brand new" not in browser.get("/admin/audit-entry/list").text
    assert browser.get(f"/admin/audit-entry/{password_change.id}/diff").status_code == 404

    with httpx.Client(base_url=str(browser.base_url)) as as_editor:
        signed_in(as_editor, editor, "a brand new password")
        assert as_editor.get(f"/admin/audit-entry/{password_change.id}/diff").status_code == 403
