"""``/preview/{token}``: the built-in site's page for a preview link, opened signed out;
and the address a share hands out, on the built-in site or a headless front end."""

from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update

from cms.actors import SYSTEM, Actor
from cms.articles.actions import DeleteArticle
from cms.articles.models import Article, ArticleStatus
from cms.asgi import build_app
from cms.db import Database, utcnow
from cms.previews import actions
from cms.previews.models import PreviewLink
from cms.users.models import User
from tests.conftest import TEST_SECRET_KEY, ArticleFactory, LiveServer, UserFactory, make_settings

Login = Callable[[User], dict[str, str]]
BANNER = "this article is not published"


@pytest.fixture
def author(make_user: UserFactory) -> User:
    return make_user(name="Ann Author")


def shared_token(database: Database, article_id: int, actor: Actor = SYSTEM) -> str:
    shared = database.run(
        actions.SharePreview(article_id=article_id, site_key=TEST_SECRET_KEY), actor=actor
    )
    return shared.token


def test_a_draft_page_opens_signed_out_marked_unpublished_and_never_kept(
    api: httpx.Client, author: User, make_article: ArticleFactory, database: Database
) -> None:
    draft = make_article(author=author, title="Coming soon", body="The **plan**")
    token = shared_token(database, draft.id, author)
    assert api.get(f"/posts/{draft.slug}").status_code == 404  # not public
    page = api.get(f"/preview/{token}")
    assert page.status_code == 200, page.text
    assert page.headers["Content-Type"].startswith("text/html")
    assert "Coming soon" in page.text and "<strong>plan</strong>" in page.text
    assert BANNER in page.text
    assert '<meta name="robots" content="noindex' in page.text
    assert page.headers["X-Robots-Tag"] == "noindex"
    assert page.headers["Cache-Control"] == "private, no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "ETag" not in page.headers
    assert api.head(f"/preview/{token}").status_code == 200


def test_a_scheduled_article_previews_and_a_published_one_is_sent_to_its_page(
    api: httpx.Client, author: User, make_article: ArticleFactory, database: Database
) -> None:
    scheduled = make_article(
        author=author,
        title="Tomorrow",
        status=ArticleStatus.PUBLISHED,
        published_at=utcnow() + timedelta(days=1),
    )
    token = shared_token(database, scheduled.id)
    assert BANNER in api.get(f"/preview/{token}").text
    with database.transaction() as session:
        session.execute(
            update(Article)
            .where(Article.id == scheduled.id)
            .values(published_at=utcnow() - timedelta(minutes=1))
        )
    moved = api.get(f"/preview/{token}")
    assert moved.status_code == 303 and moved.headers["Location"] == f"/posts/{scheduled.slug}"
    assert moved.headers["Cache-Control"] == "private, no-store"


def test_every_token_that_opens_nothing_is_the_sites_404_page(
    api: httpx.Client, author: User, make_article: ArticleFactory, database: Database
) -> None:
    draft = make_article(author=author, title="Hidden draft")
    revoked_article = make_article(author=author, title="Revoked one")
    expired_article = make_article(author=author, title="Expired one")
    deleted_article = make_article(author=author, title="Deleted one")
    good = shared_token(database, draft.id)
    revoked = database.run(
        actions.SharePreview(article_id=revoked_article.id, site_key=TEST_SECRET_KEY),
        actor=SYSTEM,
    )
    database.run(actions.RevokePreview(link_id=revoked.link.id), actor=SYSTEM)
    expired = shared_token(database, expired_article.id)
    with database.transaction() as session:
        session.execute(
            update(PreviewLink)
            .where(PreviewLink.article_id == expired_article.id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    deleted = shared_token(database, deleted_article.id)
    database.run(DeleteArticle(article_id=deleted_article.id), actor=SYSTEM)
    prefix, link, secret, signature = good.split("_")
    forged = f"{prefix}_{link}_{secret}_{'0' * len(signature)}"
    for token in (revoked.token, expired, deleted, forged, "nonsense", good[:-2]):
        page = api.get(f"/preview/{token}")
        assert page.status_code == 404, token
        assert "Page not found" in page.text, token
        for title in ("Revoked one", "Expired one", "Deleted one", "Hidden draft"):
            assert title not in page.text
        assert page.headers["Cache-Control"] == "private, no-store"
        assert page.headers["X-Robots-Tag"] == "noindex"
    assert api.get(f"/preview/{good}").status_code == 200


def test_the_shared_address_is_the_preview_page_or_the_front_ends_with_the_token(
    api: httpx.Client,
    author: User,
    make_article: ArticleFactory,
    login: Login,
    database_url: str,
) -> None:
    draft = make_article(author=author, title="Front end draft")
    built_in = api.post(f"/articles/{draft.id}/previews", headers=login(author)).json()
    assert built_in["url"] == f"/preview/{built_in['token']}"
    settings = make_settings(database_url, site_frontend_url="https://www.example.com/blog/{slug}")
    with LiveServer(build_app(settings)) as server, httpx.Client(base_url=server.url) as client:
        token = client.post(
            "/auth/token", data={"username": author.email, "password": "correct horse battery"}
        ).json()["access_token"]
        headless = client.post(
            f"/articles/{draft.id}/previews", headers={"Authorization": f"Bearer {token}"}
        ).json()
        assert headless["url"] == (
            f"https://www.example.com/blog/{draft.slug}?preview={headless['token']}"
        )
        # What the front end does with it: fetch the draft by its slug with the token.
        fetched = client.get(
            f"/articles/slug/{draft.slug}", headers={"X-Preview-Token": headless["token"]}
        )
        assert fetched.status_code == 200 and fetched.json()["title"] == "Front end draft"
