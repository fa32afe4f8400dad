"""POST /auth/token: credentials, timing-safe failures, throttling, hash upgrades."""

from collections.abc import Callable

import bcrypt
import httpx
from sqlalchemy import select, update

from cms.db import Database
from cms.users.models import User
from tests.conftest import DEFAULT_PASSWORD, UserFactory

Login = Callable[..., dict[str, str]]


def token_request(api: httpx.Client, email: str, password: str) -> httpx.Response:
    return api.post("/auth/token", data={"username": email, "password": password})


def test_token_authenticates_requests(api: httpx.Client, make_user: UserFactory) -> None:
    user = make_user()
    response = token_request(api, user.email.upper(), DEFAULT_PASSWORD)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    me = api.get("/users/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json()["id"] == user.id


def test_wrong_password_unknown_email_and_inactive_user_look_the_same(
    api: httpx.Client, make_user: UserFactory
) -> None:
    user = make_user()
    inactive = make_user(is_active=False)
    answers = [
        token_request(api, user.email, "wrong password"),
        token_request(api, "nobody@example.com", DEFAULT_PASSWORD),
        token_request(api, inactive.email, DEFAULT_PASSWORD),
    ]
    for response in answers:
        assert response.status_code == 401
        assert response.json() == {"detail": "Incorrect email or password"}
        assert response.headers["www-authenticate"] == "Bearer"


def test_garbage_tokens_are_401_not_500(api: httpx.Client) -> None:
    for header in ["Bearer nonsense", "Bearer a.b.c", "Bearer " + "x" * 5000]:
        response = api.get("/users/me", headers={"Authorization": header})
        assert response.status_code == 401
    # On public reads a bad token is still an error, not silent anonymity.
    assert api.get("/articles/", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_too_many_failures_lock_the_login_with_retry_after(
    api: httpx.Client, make_user: UserFactory
) -> None:
    user = make_user()
    for _ in range(5):  # the test settings allow 5
        assert token_request(api, user.email, "wrong password").status_code == 401
    locked = token_request(api, user.email, DEFAULT_PASSWORD)
    assert locked.status_code == 429
    assert 1 <= int(locked.headers["retry-after"]) <= 300
    # Other accounts are unaffected.
    other = make_user()
    assert token_request(api, other.email, DEFAULT_PASSWORD).status_code == 200


def test_success_resets_the_failure_count(api: httpx.Client, make_user: UserFactory) -> None:
    user = make_user()
    for _ in range(4):
        token_request(api, user.email, "wrong password")
    assert token_request(api, user.email, DEFAULT_PASSWORD).status_code == 200
    for _ in range(4):
        token_request(api, user.email, "wrong password")
    assert token_request(api, user.email, DEFAULT_PASSWORD).status_code == 200


def test_bcrypt_hash_verifies_and_is_upgraded_on_login(
    api: httpx.Client, make_user: UserFactory, database: Database
) -> None:
    user = make_user()
    legacy = bcrypt.hashpw(b"legacy password", bcrypt.gensalt(rounds=4)).decode()
    with database.transaction() as session:
        session.execute(update(User).where(User.id == user.id).values(hashed_password=legacy))
    response = token_request(api, user.email, "legacy password")
    assert response.status_code == 200
    with database.sessionmaker() as session:
        stored = session.scalar(select(User.hashed_password).where(User.id == user.id))
    assert stored is not None and stored.startswith("$argon2id$")
    # The upgrade is not a password change: the token issued before it still works.
    token = response.json()["access_token"]
    assert api.get("/users/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert token_request(api, user.email, "legacy password").status_code == 200


def test_over_long_password_against_bcrypt_hash_is_a_plain_401(
    api: httpx.Client, make_user: UserFactory, database: Database
) -> None:
    user = make_user()
    legacy = bcrypt.hashpw(b"legacy password", bcrypt.gensalt(rounds=4)).decode()
    with database.transaction() as session:
        session.execute(update(User).where(User.id == user.id).values(hashed_password=legacy))
    assert token_request(api, user.email, "legacy password" + "x" * 100).status_code == 401


def test_empty_credentials_are_422(api: httpx.Client) -> None:
    assert api.post("/auth/token", data={}).status_code == 422


def test_absurd_credentials_are_a_plain_401(api: httpx.Client, database: Database) -> None:
    for username, password in [("u" * 5000, "p"), ("a@b.c", "p" * 10_000)]:
        response = token_request(api, username, password)
        assert response.status_code == 401, (len(username), response.text)
