"""The /users/ endpoints over real HTTP."""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import select

from cms.app import create_app
from cms.db import Database
from cms.roles import Role
from cms.users.models import User
from tests.conftest import DEFAULT_PASSWORD, LiveServer, UserFactory, make_settings

Login = Callable[..., dict[str, str]]


def stored_user(database: Database, email: str) -> User:
    with database.sessionmaker() as session:
        user = session.scalar(select(User).where(User.email == email))
        assert user is not None
        return user


def test_signup_creates_an_author_with_an_argon2id_hash(
    api: httpx.Client, database: Database
) -> None:
    response = api.post(
        "/users/", json={"email": "Spongebob@opensea.com", "password": "pass1234", "name": "Bob"}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"/users/{body['id']}"
    assert body["email"] == "spongebob@opensea.com"
    assert body["role"] == "author"
    assert body["is_active"] is True
    assert body["articles"] == [] and body["article_count"] == 0
    assert body["created_at"].endswith("Z")
    assert "password" not in response.text and "argon2" not in response.text
    stored = stored_user(database, "spongebob@opensea.com")
    assert stored.hashed_password.startswith("$argon2id$")
    assert "pass1234" not in stored.hashed_password


def test_duplicate_email_is_409_whatever_its_case(api: httpx.Client) -> None:
    assert (
        api.post("/users/", json={"email": "a@example.com", "password": "12345678"}).status_code
        == 201
    )
    response = api.post("/users/", json={"email": "A@Example.COM", "password": "12345678"})
    assert response.status_code == 409
    assert response.json() == {"detail": "Email already registered"}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"email": "not-an-email", "password": "12345678"}, "email"),
        ({"email": "a@example.com", "password": ""}, "password"),
        ({"email": "a@example.com", "password": "short"}, "password"),
        ({"email": "a@example.com", "password": "x" * 257}, "password"),
        ({"email": "a@example.com"}, "password"),
        ({"email": f"{'a' * 250}@example.com", "password": "12345678"}, "email"),
        ({"email": "a@example.com", "password": "12345678", "name": "n" * 101}, "name"),
        ({"email": "a@example.com", "password": "12345678", "is_active": False}, "is_active"),
        ({"email": "a@example.com", "password": "12345678", "role": "emperor"}, "role"),
    ],
)
def test_bad_signups_are_rejected_with_a_named_field(
    api: httpx.Client, payload: dict[str, object], field: str
) -> None:
    response = api.post("/users/", json=payload)
    assert response.status_code == 422, response.text
    locations = [error["loc"][-1] for error in response.json()["detail"]]
    assert field in locations


def test_long_and_non_ascii_passwords_work(api: httpx.Client, login: Login) -> None:
    long_password = "é" * 100  # 200 bytes: past bcrypt's 72-byte limit
    for email, password in [
        ("long@example.com", long_password),
        ("emoji@example.com", "pässwörd🙂"),
    ]:
        response = api.post("/users/", json={"email": email, "password": password})
        assert response.status_code == 201, response.text
        token = api.post("/auth/token", data={"username": email, "password": password})
        assert token.status_code == 200
    # Only the full password matches: nothing is silently truncated.
    wrong = api.post("/auth/token", data={"username": "long@example.com", "password": "é" * 99})
    assert wrong.status_code == 401


def test_only_admins_choose_a_role_at_sign_up(api: httpx.Client) -> None:
    response = api.post(
        "/users/", json={"email": "a@example.com", "password": "12345678", "role": "admin"}
    )
    assert response.status_code == 403
    assert "Only admins" in response.json()["detail"]


def test_admin_may_create_an_editor(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    admin = make_user(role=Role.ADMIN)
    response = api.post(
        "/users/",
        json={"email": "ed@example.com", "password": "12345678", "role": "editor"},
        headers=login(admin),
    )
    assert response.status_code == 201
    assert response.json()["role"] == "editor"


def test_signup_can_be_switched_off(database: Database) -> None:
    with LiveServer(create_app(make_settings(database.url, allow_signup=False))) as closed:
        response = httpx.post(
            f"{closed.url}/users/", json={"email": "x@example.com", "password": "12345678"}
        )
    assert response.status_code == 403
    assert "Sign-up is disabled" in response.json()["detail"]


def test_users_list_is_for_staff_only(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    author = make_user()
    editor = make_user(role=Role.EDITOR)
    assert api.get("/users/").status_code == 401
    assert api.get("/users/", headers=login(author)).status_code == 403
    response = api.get("/users/", headers=login(editor))
    assert response.status_code == 200
    assert {user["email"] for user in response.json()} == {author.email, editor.email}
    assert api.get("/users/?limit=1", headers=login(editor)).json()[0]["id"] == author.id
    assert api.get("/users/?limit=0", headers=login(editor)).status_code == 422
    assert api.get("/users/?skip=-1", headers=login(editor)).status_code == 422


def test_a_user_sees_themself_but_others_are_404(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    alice, bob = make_user(), make_user()
    headers = login(alice)
    assert api.get("/users/me", headers=headers).json()["id"] == alice.id
    assert api.get(f"/users/{alice.id}", headers=headers).status_code == 200
    assert api.get(f"/users/{bob.id}", headers=headers).status_code == 404
    assert api.get(f"/users/{bob.id}").status_code == 404
    assert api.get("/users/me").status_code == 401
    assert api.get("/users/99999999999999999999").status_code == 422


def test_user_shows_only_articles_the_caller_may_see(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    author, editor = make_user(), make_user(role=Role.EDITOR)
    headers = login(author)
    api.post("/articles/", json={"title": "Draft"}, headers=headers)
    api.post("/articles/", json={"title": "Live", "status": "published"}, headers=headers)
    own = api.get("/users/me", headers=headers).json()
    assert own["article_count"] == 2
    assert [article["title"] for article in own["articles"]] == ["Live", "Draft"]
    staff_view = api.get(f"/users/{author.id}", headers=login(editor)).json()
    assert staff_view["article_count"] == 2
    listed = api.get("/users/", headers=login(editor)).json()
    by_id = {user["id"]: user for user in listed}
    assert by_id[author.id]["article_count"] == 2
    assert by_id[editor.id]["articles"] == []


def test_self_may_change_name_but_not_role(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    user = make_user()
    headers = login(user)
    response = api.patch(f"/users/{user.id}", json={"name": "New Name"}, headers=headers)
    assert response.status_code == 200
    assert response.json()["name"] == "New Name"
    for forbidden in ({"role": "admin"}, {"is_active": False}, {"email": "new@example.com"}):
        response = api.patch(f"/users/{user.id}", json=forbidden, headers=headers)
        assert response.status_code == 403, forbidden
    assert api.get("/users/me", headers=headers).json()["role"] == "author"


def test_password_change_needs_current_password_and_revokes_tokens(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    user = make_user()
    headers = login(user)
    wrong = api.patch(
        f"/users/{user.id}",
        json={"password": "brand new password", "current_password": "nope"},
        headers=headers,
    )
    assert wrong.status_code == 422
    assert wrong.json()["detail"][0]["loc"] == ["body", "current_password"]
    changed = api.patch(
        f"/users/{user.id}",
        json={"password": "brand new password", "current_password": DEFAULT_PASSWORD},
        headers=headers,
    )
    assert changed.status_code == 200
    assert api.get("/users/me", headers=headers).status_code == 401
    assert login(user, "brand new password")


def test_deactivation_and_deletion_end_tokens_at_once(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    admin, victim, other = make_user(role=Role.ADMIN), make_user(), make_user()
    victim_headers, other_headers = login(victim), login(other)
    admin_headers = login(admin)
    response = api.patch(f"/users/{victim.id}", json={"is_active": False}, headers=admin_headers)
    assert response.status_code == 200 and response.json()["is_active"] is False
    assert api.get("/users/me", headers=victim_headers).status_code == 401
    assert api.delete(f"/users/{other.id}", headers=admin_headers).status_code == 204
    assert api.get("/users/me", headers=other_headers).status_code == 401


def test_deleting_a_user_who_wrote_articles_needs_a_choice(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    admin, author = make_user(role=Role.ADMIN), make_user(name="Prolific Pat")
    headers = login(author)
    for title in ("One", "Two"):
        api.post("/articles/", json={"title": title, "status": "published"}, headers=headers)
    refused = api.delete(f"/users/{author.id}", headers=login(admin))
    assert refused.status_code == 409
    assert "Prolific Pat has written 2 articles" in refused.json()["detail"]
    assert "reassign_to" in refused.json()["detail"]
    assert api.get("/users/me", headers=headers).status_code == 200  # nothing happened


def test_deleting_a_user_with_articles_delete_takes_their_articles_too(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    admin, author = make_user(role=Role.ADMIN), make_user()
    created = api.post(
        "/articles/", json={"title": "Bye", "status": "published"}, headers=login(author)
    ).json()
    response = api.delete(f"/users/{author.id}?articles=delete", headers=login(admin))
    assert response.status_code == 204
    assert api.get(f"/articles/{created['id']}").status_code == 404
    assert api.get(f"/users/{author.id}", headers=login(admin)).status_code == 404


def test_deleting_a_user_can_hand_their_articles_to_another(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    admin, author, heir = make_user(role=Role.ADMIN), make_user(), make_user(name="Heir")
    created = api.post(
        "/articles/", json={"title": "Kept", "status": "published"}, headers=login(author)
    ).json()
    admin_headers = login(admin)
    missing = api.delete(f"/users/{author.id}?reassign_to=999999", headers=admin_headers)
    assert missing.status_code == 422
    response = api.delete(f"/users/{author.id}?reassign_to={heir.id}", headers=admin_headers)
    assert response.status_code == 204
    article = api.get(f"/articles/{created['id']}").json()
    assert article["author_id"] == heir.id and article["author"] == "Heir"


def test_only_admins_delete_users_and_the_last_admin_stays(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    admin, editor = make_user(role=Role.ADMIN), make_user(role=Role.EDITOR)
    assert api.delete(f"/users/{admin.id}", headers=login(editor)).status_code == 403
    response = api.delete(f"/users/{admin.id}", headers=login(admin))
    assert response.status_code == 409
    assert "last active admin" in response.json()["detail"]
    demote = api.patch(f"/users/{admin.id}", json={"role": "editor"}, headers=login(admin))
    assert demote.status_code == 409


def test_admin_changing_email_to_a_taken_one_is_409(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    admin, user = make_user(role=Role.ADMIN), make_user()
    response = api.patch(
        f"/users/{user.id}", json={"email": admin.email.upper()}, headers=login(admin)
    )
    assert response.status_code == 409


def test_a_deleted_users_token_never_works_for_a_new_account(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    admin, doomed = make_user(role=Role.ADMIN), make_user()
    old_headers = login(doomed)
    assert api.delete(f"/users/{doomed.id}", headers=login(admin)).status_code == 204
    newcomer = api.post("/users/", json={"email": "new@example.com", "password": "12345678"})
    assert newcomer.status_code == 201
    assert newcomer.json()["id"] != doomed.id  # ids are never handed out twice
    assert api.get("/users/me", headers=old_headers).status_code == 401


def test_emails_that_differ_only_in_accents_are_different_accounts(
    api: httpx.Client, login: Login
) -> None:
    for email in ["josé@example.com", "jose@example.com"]:
        response = api.post("/users/", json={"email": email, "password": "12345678"})
        assert response.status_code == 201, (email, response.text)
    token = api.post("/auth/token", data={"username": "JOSÉ@example.com", "password": "12345678"})
    me = api.get("/users/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"})
    assert me.json()["email"] == "josé@example.com"


@pytest.mark.parametrize(
    "payload",
    [
        {"name": None},
        {"password": None, "current_password": DEFAULT_PASSWORD},
        {"email": None},
        {"role": None},
        {"is_active": None},
    ],
)
def test_null_is_not_a_value_for_a_user_field(
    api: httpx.Client, make_user: UserFactory, login: Login, payload: dict[str, object]
) -> None:
    admin = make_user(role=Role.ADMIN)
    user = make_user()
    response = api.patch(f"/users/{user.id}", json=payload, headers=login(admin))
    assert response.status_code == 422, response.text
    assert "may be omitted but not null" in response.json()["detail"][0]["msg"]
    assert api.get(f"/users/{user.id}", headers=login(admin)).json()["is_active"] is True


def test_two_admins_demoting_each_other_at_once_leave_one_admin(
    api: httpx.Client, make_user: UserFactory, login: Login, database: Database
) -> None:
    first, second = make_user(role=Role.ADMIN), make_user(role=Role.ADMIN)
    requests = [(login(first), second.id), (login(second), first.id)]

    def demote(request: tuple[dict[str, str], int]) -> int:
        headers, target = request
        return api.patch(f"/users/{target}", json={"role": "author"}, headers=headers).status_code

    with ThreadPoolExecutor(2) as pool:
        codes = sorted(pool.map(demote, requests))
    # One wins; the other finds the last admin locked (409), itself no longer staff (404),
    # or its token ended by the demotion (401).
    assert codes in ([200, 401], [200, 404], [200, 409]), codes
    with database.sessionmaker() as session:
        admins = session.scalars(select(User).where(User.role == Role.ADMIN)).all()
    assert len(admins) == 1


def test_signed_in_users_may_sign_up_another_account_while_sign_up_is_open(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    response = api.post(
        "/users/",
        json={"email": "second@example.com", "password": "12345678"},
        headers=login(make_user()),
    )
    assert response.status_code == 201
    assert response.json()["role"] == "author"


def test_names_in_any_script_round_trip_and_credit_articles(
    api: httpx.Client, login: Login
) -> None:
    name = "Zoë 🦄 Ñandú — 李小龍 עִבְרִית"
    created = api.post(
        "/users/", json={"email": "zoe@example.com", "password": "12345678", "name": name}
    )
    assert created.json()["name"] == name
    token = api.post("/auth/token", data={"username": "zoe@example.com", "password": "12345678"})
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    article = api.post("/articles/", json={"title": "Hi", "status": "published"}, headers=headers)
    assert api.get(f"/articles/{article.json()['id']}").json()["author"] == name


def test_one_address_typed_two_unicode_ways_is_one_account(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    composed, decomposed = "jos\u00e9@example.com", "jose\u0301@example.com"
    assert api.post("/users/", json={"email": composed, "password": "12345678"}).status_code == 201
    again = api.post("/users/", json={"email": decomposed, "password": "12345678"})
    assert again.status_code == 409
    token = api.post("/auth/token", data={"username": decomposed, "password": "12345678"})
    assert token.status_code == 200
