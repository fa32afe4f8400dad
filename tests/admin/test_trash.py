"""The trash in the back office, per role: admins see, restore and purge everything in it;
editors see and restore what they deleted themselves, from a Restore button on each row,
and nothing of another's deletion; each row says how long it has left."""

import re
from datetime import timedelta

import httpx
from sqlalchemy import update

from cms.articles.models import Article, TrashedArticle
from cms.db import Database, utcnow
from cms.roles import Role
from cms.users.models import User
from tests.admin.browser_forms import csrf_token_on, form_on, post_form
from tests.admin.conftest import signed_in
from tests.admin.test_editorial import act, stored
from tests.conftest import ArticleFactory, LiveServer, UserFactory


def deleted_by(
    live_server: LiveServer, user: User, make_article: ArticleFactory, title: str
) -> Article:
    """An article ``user`` deleted from the back office's list."""
    article = make_article(author=user, title=title)
    with httpx.Client(base_url=live_server.url) as client:
        signed_in(client, user)
        assert act(client, "article", "delete", article.id).status_code == 302
    return article


def test_an_editor_finds_the_trash_in_the_menu_and_restores_their_own_delete(
    browser: httpx.Client,
    live_server: LiveServer,
    make_user: UserFactory,
    make_article: ArticleFactory,
    database: Database,
) -> None:
    editor = make_user(role=Role.EDITOR)
    mine = deleted_by(live_server, editor, make_article, "My mistake")
    theirs = deleted_by(live_server, make_user(role=Role.EDITOR), make_article, "Their call")
    signed_in(browser, editor)
    assert re.search(r'href="[^"]*/admin/trashed-article/list"', browser.get("/admin/").text)

    listing = browser.get("/admin/trashed-article/list")
    assert listing.status_code == 200
    assert "My mistake" in listing.text and "Their call" not in listing.text
    assert "30 days" in listing.text
    # Restoring is a button on the row; deleting for good is not offered to editors.
    assert re.search(r'<button type="submit" form="cms-restore-\d+"', listing.text)
    assert "action=purge" not in listing.text and "Delete for good" not in listing.text

    restore = form_on(listing, "/act/restore")
    assert dict(restore.fields)["pks"] == str(mine.id)
    response = post_form(browser, restore.action, restore.fields)
    assert response.status_code == 302
    assert "Restored “My mistake”." in browser.get(response.headers["location"]).text
    back = stored(database, Article, mine.id)
    assert isinstance(back, Article) and back.title == "My mistake"
    assert stored(database, TrashedArticle, mine.id) is None
    assert browser.get(f"/admin/article/details/{mine.id}").status_code == 200
    assert stored(database, TrashedArticle, theirs.id) is not None


def test_an_editor_cannot_restore_another_s_delete_nor_purge_their_own(
    browser: httpx.Client,
    live_server: LiveServer,
    make_user: UserFactory,
    make_article: ArticleFactory,
    database: Database,
) -> None:
    editor = make_user(role=Role.EDITOR)
    mine = deleted_by(live_server, editor, make_article, "Mine to undo")
    theirs = deleted_by(live_server, make_user(role=Role.EDITOR), make_article, "Not mine")
    signed_in(browser, editor)
    token = csrf_token_on(browser.get("/admin/trashed-article/list"))

    # Another's deletion is not there for them: not listed, no page, no confirmation.
    assert browser.get(f"/admin/trashed-article/details/{theirs.id}").status_code == 404
    confirm = browser.get(f"/admin/trashed-article/confirm?action=restore&pks={theirs.id}")
    assert confirm.status_code == 404
    forged = browser.post(
        "/admin/trashed-article/act/restore", data={"csrf_token": token, "pks": str(theirs.id)}
    )
    assert forged.status_code == 404
    assert stored(database, TrashedArticle, theirs.id) is not None

    # Their own: restorable, but only an admin deletes it for good.
    assert browser.get(f"/admin/trashed-article/details/{mine.id}").status_code == 200
    assert (
        browser.get(f"/admin/trashed-article/confirm?action=purge&pks={mine.id}").status_code == 403
    )
    purge = browser.post(
        "/admin/trashed-article/act/purge", data={"csrf_token": token, "pks": str(mine.id)}
    )
    assert purge.status_code == 403
    assert stored(database, TrashedArticle, mine.id) is not None


def test_an_admin_sees_every_delete_and_how_long_each_has_left(
    browser: httpx.Client,
    live_server: LiveServer,
    make_user: UserFactory,
    make_article: ArticleFactory,
    database: Database,
) -> None:
    admin = make_user(role=Role.ADMIN)
    old = deleted_by(live_server, make_user(role=Role.EDITOR), make_article, "Deleted long ago")
    recent = deleted_by(live_server, make_user(role=Role.EDITOR), make_article, "Just deleted")
    with database.transaction() as session:
        session.execute(
            update(TrashedArticle)
            .where(TrashedArticle.id == old.id)
            .values(deleted_at=utcnow() - timedelta(days=10, hours=1))
        )
    signed_in(browser, admin)
    listing = browser.get("/admin/trashed-article/list").text
    assert "Deleted long ago" in listing and "Just deleted" in listing
    assert ">20 days<" in listing and ">30 days<" in listing
    assert "Delete for good" in listing
    for row in (old, recent):
        assert f'form="cms-restore-{row.id}"' in listing
    form = form_on(browser.get("/admin/trashed-article/list"), "/act/restore")
    post_form(browser, form.action, form.fields)
    restored_id = int(dict(form.fields)["pks"])
    assert stored(database, Article, restored_id) is not None
    other = ({old.id, recent.id} - {restored_id}).pop()
    assert act(browser, "trashed-article", "purge", other).status_code == 302
    assert stored(database, TrashedArticle, other) is None
    assert stored(database, Article, other) is None
