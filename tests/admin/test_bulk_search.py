"""The back office's search while a bulk load has the full-text index dropped (cms.bulk)."""

import httpx

from cms import bulk
from cms.articles.models import ArticleStatus
from cms.db import Database
from cms.roles import Role
from tests.admin.conftest import signed_in
from tests.conftest import ArticleFactory, UserFactory


def test_search_during_a_load_says_so_and_works_after(
    browser: httpx.Client,
    database: Database,
    make_user: UserFactory,
    make_article: ArticleFactory,
) -> None:
    editor = make_user(role=Role.EDITOR, name="Eve Editor")
    make_article(author=editor, title="Alpha news", status=ArticleStatus.PUBLISHED)
    signed_in(browser, editor)
    with bulk.indexes_deferred(database):
        during = browser.get("/admin/article/list?search=alpha")
        if database.engine.dialect.name == "sqlite":
            assert during.status_code == 200  # the FTS5 index stays, unmaintained
        else:
            assert during.status_code == 503
            assert "index is being built" in during.text
            assert "Eve Editor" in during.text  # in the layout, signed in
    after = browser.get("/admin/article/list?search=alpha")
    assert after.status_code == 200 and "Alpha news" in after.text
