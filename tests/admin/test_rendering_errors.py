"""The back office refuses an article body nested too deep the way the API does: on the
form, with the same message, and nothing stored."""

import httpx
from sqlalchemy import select

from cms.articles.models import Article
from cms.articles.rendering import TOO_DEEP
from cms.db import Database
from cms.roles import Role
from tests.admin.browser_forms import submit
from tests.admin.conftest import signed_in
from tests.conftest import UserFactory


def test_the_article_form_shows_the_nesting_refusal(
    browser: httpx.Client, make_user: UserFactory, database: Database
) -> None:
    signed_in(browser, make_user(role=Role.EDITOR))
    response = submit(browser, "/admin/article/create", title="Deep", body=">" * 16_000)
    assert response.status_code == 400
    assert TOO_DEEP in response.text
    with database.sessionmaker() as session:
        assert session.scalar(select(Article)) is None
