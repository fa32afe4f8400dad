"""API keys over real HTTP: format, scopes by endpoint, owners, expiry, revocation,
rotation, and what a keyed read costs the database."""

from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from cms.actors import SYSTEM
from cms.apikeys import keys
from cms.apikeys import service as apikeys
from cms.apikeys.models import ApiKey
from cms.articles.models import ArticleStatus
from cms.cli import app
from cms.db import Database, utcnow
from cms.errors import InvalidInput
from cms.roles import Role
from cms.users.models import User
from tests.articles.test_lists import counted
from tests.conftest import TEST_SECRET_KEY, ArticleFactory, UserFactory

KeyFactory = Callable[..., str]


@pytest.fixture
def make_key(database: Database) -> KeyFactory:
    def factory(*scopes: str, owner: User | None = None, expires_days: int | None = None) -> str:
        made: apikeys.NewKey = database.run(
            apikeys.CreateKey(
                key_name="test",
                scopes=scopes,
                owner_id=owner.id if owner else None,
                expires_days=expires_days,
            ),
            actor=SYSTEM,
        )
        return made.key

    return factory


@pytest.fixture(autouse=True)
def _fresh_touches() -> None:
    apikeys.wait_for_touches()
    apikeys.forget_touches()


@pytest.fixture
def admin(make_user: UserFactory) -> User:
    return make_user(role=Role.ADMIN)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_the_format_carries_a_checksum_that_is_checked_without_a_lookup() -> None:
    key = keys.compose(keys.new_key_id(), keys.new_secret())
    assert key.startswith("cms_") and len(key) == 4 + 12 + 1 + 43 + 6
    assert keys.parse(key) is not None
    broken = key[:-1] + ("A" if key[-1] != "A" else "B")
    assert keys.parse(broken) is None
    assert keys.parse(key[:20]) is None


def test_a_bad_checksum_is_refused_before_any_sql(
    api: httpx.Client, database: Database, make_key: KeyFactory, admin: User
) -> None:
    key = make_key("content:read", owner=admin)
    broken = key[:-1] + ("A" if key[-1] != "A" else "B")
    api.get("/articles/")
    with counted(database) as statements:
        response = api.get("/articles/", headers=bearer(broken))
    assert response.status_code == 401
    assert statements == []


def test_unknown_id_and_wrong_secret_get_the_same_401(
    api: httpx.Client, make_key: KeyFactory, admin: User
) -> None:
    key = make_key("content:read", owner=admin)
    key_id = key[4:16]
    unknown = keys.compose(keys.new_key_id(), keys.new_secret())
    wrong = keys.compose(key_id, keys.new_secret())
    answers = [api.get("/articles/", headers=bearer(k)) for k in (unknown, wrong)]
    assert [a.status_code for a in answers] == [401, 401]
    assert answers[0].json() == answers[1].json() == {"detail": apikeys.INVALID_KEY}


def test_keys_go_in_a_header_never_the_query_string(
    api: httpx.Client,
    make_key: KeyFactory,
    make_user: UserFactory,
    make_article: ArticleFactory,
) -> None:
    author = make_user()
    draft = make_article(author=author, title="Secret draft")
    key = make_key("drafts:read", owner=author)
    assert api.get(f"/articles/{draft.id}", headers={"X-API-Key": key}).status_code == 200
    assert api.get(f"/articles/{draft.id}", headers=bearer(key)).status_code == 200
    assert api.get(f"/articles/{draft.id}", params={"api_key": key}).status_code == 404
    assert api.get(f"/articles/{draft.id}", params={"key": key}).status_code == 404


# Scope x endpoint: what each scope unlocks, and what it does not.


def test_content_read_sees_published_only(
    api: httpx.Client, make_key: KeyFactory, admin: User, make_article: ArticleFactory
) -> None:
    public = make_article(
        author=admin, title="Out", status=ArticleStatus.PUBLISHED, published_at=utcnow()
    )
    draft = make_article(author=admin, title="Not yet", slug="not-yet")
    key = make_key("content:read", owner=admin)
    assert api.get(f"/articles/{public.id}", headers=bearer(key)).status_code == 200
    assert api.get(f"/articles/{draft.id}", headers=bearer(key)).status_code == 404
    listed = api.get("/articles/", headers=bearer(key))
    assert [a["id"] for a in listed.json()] == [public.id]
    assert listed.headers["cache-control"].startswith("private")
    written = api.post("/articles/", json={"title": "No"}, headers=bearer(key))
    assert written.status_code == 403
    assert api.get(f"/articles/{draft.id}/revisions", headers=bearer(key)).status_code == 403
    assert api.get("/users/me", headers=bearer(key)).status_code == 403


def test_drafts_read_is_capped_by_the_owners_role(
    api: httpx.Client, make_key: KeyFactory, make_user: UserFactory, make_article: ArticleFactory
) -> None:
    author, other = make_user(), make_user()
    own = make_article(author=author, title="Mine")
    theirs = make_article(author=other, title="Theirs")
    key = make_key("drafts:read", owner=author)
    assert api.get(f"/articles/{own.id}", headers=bearer(key)).status_code == 200
    assert api.get(f"/articles/{theirs.id}", headers=bearer(key)).status_code == 404
    assert api.get(f"/articles/{own.id}/revisions", headers=bearer(key)).status_code == 200
    assert api.post("/articles/", json={"title": "No"}, headers=bearer(key)).status_code == 403


def test_articles_write_writes_as_the_owner(
    api: httpx.Client, make_key: KeyFactory, make_user: UserFactory, make_article: ArticleFactory
) -> None:
    author, other = make_user(), make_user()
    theirs = make_article(author=other, title="Theirs")
    key = make_key("articles:write", owner=author)
    created = api.post("/articles/", json={"title": "By key"}, headers=bearer(key))
    assert created.status_code == 201, created.text
    assert created.json()["author_id"] == author.id
    patched = api.patch(f"/articles/{theirs.id}", json={"title": "X"}, headers=bearer(key))
    assert patched.status_code in (403, 404)
    # Writing is not reading: the draft it made is not readable with this key alone.
    assert api.get(f"/articles/{created.json()['id']}", headers=bearer(key)).status_code == 403
    assert (
        api.patch(f"/users/{author.id}", json={"name": "N"}, headers=bearer(key)).status_code == 403
    )


def test_an_integration_key_without_an_owner_reads_drafts(
    api: httpx.Client, make_key: KeyFactory, make_user: UserFactory, make_article: ArticleFactory
) -> None:
    draft = make_article(author=make_user(), title="Build me")
    key = make_key("drafts:read")
    assert api.get(f"/articles/{draft.id}", headers=bearer(key)).status_code == 200
    assert api.get("/users/me", headers=bearer(key)).status_code == 403


def test_an_author_cannot_hold_webhooks_manage(
    database: Database, make_key: KeyFactory, make_user: UserFactory
) -> None:
    with pytest.raises(InvalidInput):
        make_key("webhooks:manage", owner=make_user())
    with pytest.raises(InvalidInput):
        make_key("everything")


# The life of a key


def test_revoked_expired_and_deactivated_keys_stop_at_once(
    api: httpx.Client, database: Database, make_key: KeyFactory, make_user: UserFactory
) -> None:
    owner = make_user()
    revoked, expired, orphaned = (make_key("content:read", owner=owner) for _ in range(3))
    for key in (revoked, expired, orphaned):
        assert api.get("/articles/", headers=bearer(key)).status_code == 200
    database.run(apikeys.RevokeKey(key_id=revoked[4:16]), actor=owner)
    with database.transaction() as session:
        session.execute(
            update(ApiKey)
            .where(ApiKey.id == expired[4:16])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert api.get("/articles/", headers=bearer(revoked)).status_code == 401
    assert api.get("/articles/", headers=bearer(expired)).status_code == 401
    assert api.get("/articles/", headers=bearer(orphaned)).status_code == 200
    with database.transaction() as session:
        session.execute(update(User).where(User.id == owner.id).values(is_active=False))
    assert api.get("/articles/", headers=bearer(orphaned)).status_code == 401


def test_rotation_keeps_the_old_secret_for_the_grace_period_only(
    api: httpx.Client, database: Database, make_key: KeyFactory, admin: User
) -> None:
    old = make_key("content:read", owner=admin)
    key_id = old[4:16]
    rotated: apikeys.NewKey = database.run(
        apikeys.RotateKey(key_id=key_id, grace_seconds=3600), actor=admin
    )
    assert rotated.key != old and rotated.key[4:16] == key_id
    assert api.get("/articles/", headers=bearer(old)).status_code == 200
    assert api.get("/articles/", headers=bearer(rotated.key)).status_code == 200
    again: apikeys.NewKey = database.run(
        apikeys.RotateKey(key_id=key_id, grace_seconds=0), actor=admin
    )
    assert api.get("/articles/", headers=bearer(rotated.key)).status_code == 401
    assert api.get("/articles/", headers=bearer(old)).status_code == 401
    assert api.get("/articles/", headers=bearer(again.key)).status_code == 200


def test_only_a_digest_of_the_secret_is_stored(
    database: Database, make_key: KeyFactory, admin: User
) -> None:
    key = make_key("content:read", owner=admin)
    with database.sessionmaker() as session:
        stored = session.scalars(select(ApiKey)).one()
    secret = key[17:-6]
    assert secret not in repr(vars(stored))
    assert stored.secret_hash == keys.digest(secret)


# What a key costs


def test_a_keyed_read_costs_one_statement_more_than_an_anonymous_one(
    api: httpx.Client,
    database: Database,
    make_key: KeyFactory,
    admin: User,
    make_article: ArticleFactory,
) -> None:
    article = make_article(
        author=admin, title="Cheap", status=ArticleStatus.PUBLISHED, published_at=utcnow()
    )
    key = make_key("content:read", owner=admin)
    api.get(f"/articles/{article.id}", headers=bearer(key))  # warm up, and first use
    apikeys.wait_for_touches()
    with counted(database) as anonymous:
        assert api.get(f"/articles/{article.id}").status_code == 200
    with counted(database) as keyed:
        assert api.get(f"/articles/{article.id}", headers=bearer(key)).status_code == 200
    assert len(keyed) == len(anonymous) + 1, keyed


def test_a_thousand_keyed_reads_write_last_used_at_once(
    api: httpx.Client, database: Database, make_key: KeyFactory, admin: User
) -> None:
    key = make_key("content:read", owner=admin)
    with counted(database) as statements:
        for _ in range(1000):
            assert api.get("/articles/?limit=1", headers=bearer(key)).status_code == 200
        apikeys.wait_for_touches()
    writes = [s for s in statements if s.lstrip().upper().startswith("UPDATE API_KEYS")]
    assert len(writes) == 1, writes
    with database.sessionmaker() as session:
        assert session.scalars(select(ApiKey.last_used_at)).one() is not None


# The command line


def test_apikey_create_list_rotate_revoke(
    api: httpx.Client, database: Database, make_user: UserFactory
) -> None:
    owner = make_user(email="keyholder@example.com")
    env = {
        "CMS_DATABASE_URL": database.url,
        "CMS_ENVIRONMENT": "test",
        "CMS_SECRET_KEY": TEST_SECRET_KEY,
    }
    runner = CliRunner()
    created = runner.invoke(
        app,
        [
            "apikey",
            "create",
            "--name",
            "Site build",
            "--scope",
            "content:read",
            "--scope",
            "drafts:read",
            "--owner",
            owner.email,
            "--expires",
            "30",
        ],
        env=env,
    )
    assert created.exit_code == 0, created.output
    key = created.output.strip().splitlines()[-1]
    assert keys.parse(key) is not None
    assert api.get("/articles/", headers=bearer(key)).status_code == 200
    key_id = key[4:16]

    listed = runner.invoke(app, ["apikey", "list"], env=env)
    assert listed.exit_code == 0, listed.output
    assert key_id in listed.output and "content:read drafts:read" in listed.output
    assert key not in listed.output and "active" in listed.output

    rotated = runner.invoke(app, ["apikey", "rotate", key_id, "--grace", "0"], env=env)
    assert rotated.exit_code == 0, rotated.output
    new_key = rotated.output.strip().splitlines()[-1]
    assert api.get("/articles/", headers=bearer(key)).status_code == 401
    assert api.get("/articles/", headers=bearer(new_key)).status_code == 200

    revoked = runner.invoke(app, ["apikey", "revoke", key_id], env=env)
    assert revoked.exit_code == 0, revoked.output
    assert api.get("/articles/", headers=bearer(new_key)).status_code == 401
    assert "revoked" in runner.invoke(app, ["apikey", "list"], env=env).output

    bad = runner.invoke(app, ["apikey", "create", "--name", "x", "--scope", "root"], env=env)
    assert bad.exit_code == 1 and "Unknown scope" in bad.output
