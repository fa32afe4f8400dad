"""Preview links over real HTTP: a draft opened by its token (query or header) to anyone
holding it, privately and unindexed, and every way a token is refused alike."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from cms.articles.models import ArticleStatus
from cms.audit.models import AuditEntry
from cms.db import Database, utcnow
from cms.previews import service, tokens
from cms.previews.models import PreviewLink
from cms.roles import Role
from cms.users.models import User
from tests.articles.test_lists import counted
from tests.conftest import TEST_SECRET_KEY, ArticleFactory, UserFactory

Login = Callable[[User], dict[str, str]]
NOT_FOUND = {"detail": "Article not found"}


def share(
    api: httpx.Client, headers: dict[str, str], article_id: int, **body: Any
) -> dict[str, Any]:
    response = api.post(f"/articles/{article_id}/previews", json=body or None, headers=headers)
    assert response.status_code == 201, response.text
    shared: dict[str, Any] = response.json()
    return shared


@pytest.fixture
def author(make_user: UserFactory) -> User:
    return make_user(name="Ann Author")


@pytest.fixture
def draft(author: User, make_article: ArticleFactory) -> int:
    return make_article(author=author, title="Secret plans", body="Not yet **public**").id


def test_a_draft_opens_with_its_token_in_the_query_or_the_header_privately(
    api: httpx.Client, author: User, draft: int, login: Login
) -> None:
    shared = share(api, login(author), draft)
    token = shared["token"]
    assert token.startswith("pv1_") and shared["url"].endswith(f"/preview/{token}")
    assert api.get(f"/articles/{draft}").status_code == 404  # no token: a draft is hidden
    for response in (
        api.get(f"/articles/{draft}", params={"preview": token}),
        api.get(f"/articles/{draft}", headers={"X-Preview-Token": token}),
    ):
        assert response.status_code == 200, response.text
        article = response.json()
        assert article["title"] == "Secret plans" and article["status"] == "draft"
        assert article["body_html"] == "<p>Not yet <strong>public</strong></p>\n"
        assert response.headers["Cache-Control"] == "private, no-store"
        assert response.headers["X-Robots-Tag"] == "noindex"
    slug = api.get(f"/articles/{draft}", params={"preview": token}).json()["slug"]
    by_slug = api.get(f"/articles/slug/{slug}", params={"preview": token})
    assert by_slug.status_code == 200 and by_slug.headers["Cache-Control"] == "private, no-store"


def test_the_preview_shows_the_current_content_of_the_draft(
    api: httpx.Client, author: User, draft: int, login: Login
) -> None:
    headers = login(author)
    token = share(api, headers, draft)["token"]
    edited = api.patch(f"/articles/{draft}", json={"title": "Plans, revised"}, headers=headers)
    assert edited.status_code == 200
    opened = api.get(f"/articles/{draft}", params={"preview": token})
    assert opened.json()["title"] == "Plans, revised"
    etag = opened.headers["ETag"]
    again = api.get(
        f"/articles/{draft}", params={"preview": token}, headers={"If-None-Match": etag}
    )
    assert again.status_code == 304 and again.headers["Cache-Control"] == "private, no-store"


def test_a_scheduled_article_can_be_shared_and_a_published_one_cannot(
    api: httpx.Client, author: User, make_article: ArticleFactory, login: Login
) -> None:
    headers = login(author)
    scheduled = make_article(
        author=author,
        title="Later",
        status=ArticleStatus.PUBLISHED,
        published_at=utcnow() + timedelta(days=3),
    )
    token = share(api, headers, scheduled.id)["token"]
    assert api.get(f"/articles/{scheduled.id}").status_code == 404
    assert api.get(f"/articles/{scheduled.id}", params={"preview": token}).status_code == 200
    published = make_article(
        author=author,
        title="Out",
        status=ArticleStatus.PUBLISHED,
        published_at=utcnow() - timedelta(days=1),
    )
    refused = api.post(f"/articles/{published.id}/previews", headers=headers)
    assert refused.status_code == 409 and "published" in refused.json()["detail"]


def _tampered(token: str) -> list[str]:
    prefix, link, secret, signature = token.split("_")
    flipped = "0" if signature[-1] != "0" else "1"
    return [
        f"{prefix}_{link}_{secret}_{signature[:-1]}{flipped}",  # signature changed
        f"{prefix}_{link}_{secret[:-1]}{'0' if secret[-1] != '0' else '1'}_{signature}",
        tokens.compose("another site's key " + "k" * 40, int(link), secret),  # other key
        token.upper(),
        token[:-1],
        "pv1_1_" + "0" * 32 + "_" + "0" * 32,
        "garbage",
        "",
    ]


def test_a_forged_or_malformed_token_is_refused_without_a_lookup(
    api: httpx.Client, author: User, draft: int, login: Login, database: Database
) -> None:
    token = share(api, login(author), draft)["token"]
    assert tokens.parse(TEST_SECRET_KEY, token) is not None
    for bad in _tampered(token):
        assert tokens.parse(TEST_SECRET_KEY, bad) is None, bad
        with counted(database) as statements:
            response = api.get(f"/articles/{draft}", params={"preview": bad})
        assert (response.status_code, response.json()) == (404, NOT_FOUND), bad
        assert statements == [], bad
        header = api.get(f"/articles/{draft}", headers={"X-Preview-Token": bad})
        assert header.status_code == 404, bad
    # Two different tokens at once: refused, whichever is genuine.
    both = api.get(
        f"/articles/{draft}", params={"preview": token}, headers={"X-Preview-Token": "x"}
    )
    assert both.status_code == 404


def test_a_token_opens_only_its_own_article(
    api: httpx.Client, author: User, draft: int, login: Login, make_article: ArticleFactory
) -> None:
    headers = login(author)
    other = make_article(author=author, title="Other draft").id
    public = make_article(
        author=author,
        title="Public one",
        status=ArticleStatus.PUBLISHED,
        published_at=utcnow() - timedelta(hours=1),
    ).id
    token = share(api, headers, draft)["token"]
    for article_id in (other, public, 2**31 - 1):
        response = api.get(f"/articles/{article_id}", params={"preview": token})
        assert (response.status_code, response.json()) == (404, NOT_FOUND), article_id
    assert api.get(f"/articles/{public}").status_code == 200  # without the token: public


def test_an_expired_token_is_refused(
    api: httpx.Client, author: User, draft: int, login: Login, database: Database
) -> None:
    shared = share(api, login(author), draft, expires_in=3600)
    token = shared["token"]
    with database.reading() as session:
        link = session.get(PreviewLink, shared["id"])
        assert link is not None
        assert link.expires_at - link.created_at == timedelta(hours=1)
    with database.reader.connect() as connection:
        later = utcnow() + timedelta(hours=1, seconds=1)
        assert service.resolve(connection, token, utcnow(), secret=TEST_SECRET_KEY) == draft
        assert service.resolve(connection, token, later, secret=TEST_SECRET_KEY) is None
    with database.transaction() as session:
        session.execute(update(PreviewLink).values(expires_at=utcnow() - timedelta(seconds=1)))
    response = api.get(f"/articles/{draft}", params={"preview": token})
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


def test_a_revoked_token_is_refused_at_once(
    api: httpx.Client, author: User, draft: int, login: Login, database: Database
) -> None:
    headers = login(author)
    kept = share(api, headers, draft)
    revoked = share(api, headers, draft)
    listed = api.get(f"/articles/{draft}/previews", headers=headers)
    assert listed.status_code == 200
    assert [link["id"] for link in listed.json()] == [revoked["id"], kept["id"]]
    assert all("token" not in link for link in listed.json())
    gone = api.delete(f"/articles/{draft}/previews/{revoked['id']}", headers=headers)
    assert gone.status_code == 204
    assert api.get(f"/articles/{draft}", params={"preview": revoked["token"]}).status_code == 404
    assert api.get(f"/articles/{draft}", params={"preview": kept["token"]}).status_code == 200
    again = api.delete(f"/articles/{draft}/previews/{revoked['id']}", headers=headers)
    assert again.status_code == 404
    listed = api.get(f"/articles/{draft}/previews", headers=headers)
    assert [link["id"] for link in listed.json()] == [kept["id"]]
    with database.reading() as session:
        link = session.get(PreviewLink, revoked["id"])
        assert link is not None and link.revoked_by_id == author.id
        assert link.revoked_by_name == "Ann Author"


def test_a_deleted_article_is_no_longer_opened_even_once_restored(
    api: httpx.Client, author: User, draft: int, login: Login, database: Database
) -> None:
    headers = login(author)
    token = share(api, headers, draft)["token"]
    assert api.delete(f"/articles/{draft}", headers=headers).status_code == 204
    response = api.get(f"/articles/{draft}", params={"preview": token})
    assert (response.status_code, response.json()) == (404, NOT_FOUND)
    with database.reading() as session:
        assert session.scalars(select(PreviewLink)).all() == []
    restored = api.post(f"/trash/articles/{draft}/restore", headers=headers)
    assert restored.status_code == 200
    assert api.get(f"/articles/{draft}", params={"preview": token}).status_code == 404


def test_an_author_cannot_share_or_see_or_revoke_others_previews(
    api: httpx.Client,
    author: User,
    draft: int,
    login: Login,
    make_user: UserFactory,
    make_article: ArticleFactory,
) -> None:
    other = make_user()
    editor = make_user(role=Role.EDITOR)
    link = share(api, login(editor), draft)  # staff may share anyone's
    theirs = login(other)
    assert api.post(f"/articles/{draft}/previews", headers=theirs).status_code == 404
    assert api.get(f"/articles/{draft}/previews", headers=theirs).status_code == 404
    revoke = api.delete(f"/articles/{draft}/previews/{link['id']}", headers=theirs)
    assert revoke.status_code == 404
    published = make_article(
        author=author,
        title="Visible",
        status=ArticleStatus.PUBLISHED,
        published_at=utcnow() - timedelta(days=1),
    )
    # They can see it, but it is not theirs.
    assert api.post(f"/articles/{published.id}/previews", headers=theirs).status_code == 403
    assert api.get(f"/articles/{published.id}/previews", headers=theirs).status_code == 403
    assert api.post(f"/articles/{draft}/previews").status_code == 401
    # The author revokes the editor's link on their article.
    mine = login(author)
    assert api.delete(f"/articles/{draft}/previews/{link['id']}", headers=mine).status_code == 204
    # A link named under another article is not found there.
    second = share(api, mine, draft)
    elsewhere = make_article(author=author, title="Elsewhere").id
    wrong = api.delete(f"/articles/{elsewhere}/previews/{second['id']}", headers=mine)
    assert wrong.status_code == 404


@pytest.mark.parametrize("expires_in", [0, 59, 30 * 86400 + 1, -5, "soon"])
def test_an_expiry_out_of_bounds_is_a_422_naming_it(
    api: httpx.Client, author: User, draft: int, login: Login, expires_in: Any
) -> None:
    response = api.post(
        f"/articles/{draft}/previews", json={"expires_in": expires_in}, headers=login(author)
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "expires_in"]


def test_the_default_is_seven_days_and_thirty_days_is_the_most(
    api: httpx.Client, author: User, draft: int, login: Login, database: Database
) -> None:
    headers = login(author)
    default = share(api, headers, draft)
    longest = share(api, headers, draft, expires_in=30 * 86400)
    with database.reading() as session:
        for shared, days in ((default, 7), (longest, 30)):
            link = session.get(PreviewLink, shared["id"])
            assert link is not None and link.expires_at - link.created_at == timedelta(days=days)


def test_sharing_and_revoking_are_audited_without_the_token(
    api: httpx.Client, author: User, draft: int, login: Login, database: Database
) -> None:
    headers = login(author)
    shared = share(api, headers, draft)
    assert api.delete(f"/articles/{draft}/previews/{shared['id']}", headers=headers).status_code
    with database.reading() as session:
        entries = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action.in_(["share_preview", "revoke_preview"]))
            .order_by(AuditEntry.id)
        ).all()
        stored = session.get(PreviewLink, shared["id"])
    assert [(e.action, e.object_type, e.object_id, e.actor_id) for e in entries] == [
        ("share_preview", "article", draft, author.id),
        ("revoke_preview", "article", draft, author.id),
    ]
    assert all(e.surface == "api" and e.object_repr == "Secret plans" for e in entries)
    secret = shared["token"].split("_")[2]
    for entry in entries:
        assert shared["token"] not in entry.changes and secret not in entry.changes
    assert f'"preview_link": [null, {shared["id"]}]' in entries[0].changes
    # Only the secret's digest is stored.
    assert stored is not None and stored.secret_hash == tokens.digest(secret)
    assert secret not in stored.secret_hash
