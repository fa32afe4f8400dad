"""Passkey ceremonies over HTTP, the way the pages' script makes them, answered by a
software authenticator: a challenge works only in the browser that asked for it, an
admin removes someone's passkey from their page, and a signed-in browser's session is
made exactly as a password sign-in makes it."""

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from cms.audit.models import AuditEntry
from cms.auth.models import Passkey, PasskeyChallenge, StaffSession
from cms.db import Database
from cms.roles import Role
from cms.twofactor.service import SetTwoFactorPolicy
from cms.users.models import User
from tests.admin.browser_forms import csrf_token_on, form_on, post_form
from tests.admin.conftest import admin_login, signed_in
from tests.auth.soft_authenticator import SoftAuthenticator
from tests.conftest import DEFAULT_PASSWORD, LiveServer, UserFactory


@pytest.fixture
def clients(live_server: LiveServer, database: Database) -> Iterator[list[httpx.Client]]:
    # A host name: browsers refuse an IP address as a relying party, and so does the CMS.
    site = f"http://localhost:{live_server.port}"
    opened = [httpx.Client(base_url=site, timeout=30) for _ in range(2)]
    yield opened
    for client in opened:
        client.close()


@pytest.fixture
def device(live_server: LiveServer) -> SoftAuthenticator:
    return SoftAuthenticator(rp_id="localhost", origin=f"http://localhost:{live_server.port}")


def test_a_back_office_on_an_ip_address_says_passkeys_need_a_host_name(
    live_server: LiveServer, database: Database
) -> None:
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        answer = post_json(client, "/admin/login", "/admin/login/passkey/options")
    assert answer.status_code == 400 and "host name" in answer.json()["error"]


def post_json(client: httpx.Client, page: str, url: str, body: Any = None) -> httpx.Response:
    token = csrf_token_on(client.get(page))
    return client.post(url, json=body or {}, headers={"X-CSRF-Token": token})


def add_passkey(client: httpx.Client, device: SoftAuthenticator, name: str) -> None:
    options = post_json(
        client, "/admin/account", "/admin/account/passkeys/options", {"password": DEFAULT_PASSWORD}
    )
    assert options.status_code == 200, options.text
    answer = post_json(
        client,
        "/admin/account",
        "/admin/account/passkeys",
        {"name": name, "credential": device.register(options.text)},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"redirect": "/admin/account"}


def test_a_passkey_signs_in_over_http_as_a_password_does(
    clients: list[httpx.Client],
    device: SoftAuthenticator,
    make_user: UserFactory,
    database: Database,
) -> None:
    user = make_user(role=Role.EDITOR)
    add_passkey(signed_in(clients[0], user), device, "Phone")
    fresh = clients[1]
    options = post_json(fresh, "/admin/login", "/admin/login/passkey/options")
    assert options.status_code == 200
    assert json.loads(options.text)["rpId"] == "localhost"
    old_cookie = fresh.cookies.get("cms_admin")
    answer = post_json(
        fresh,
        "/admin/login",
        "/admin/login/passkey",
        {"credential": device.assertion(options.text)},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"redirect": "/admin/"}
    assert fresh.cookies.get("cms_admin") != old_cookie
    assert fresh.get("/admin/account").status_code == 200
    with database.sessionmaker() as session:
        assert len(session.scalars(select(StaffSession)).all()) == 2


def test_a_challenge_answers_only_in_the_browser_that_asked_and_only_once(
    clients: list[httpx.Client],
    device: SoftAuthenticator,
    make_user: UserFactory,
    database: Database,
) -> None:
    user = make_user()
    asking, elsewhere = clients
    add_passkey(signed_in(asking, user), device, "Phone")
    options = post_json(elsewhere, "/admin/login", "/admin/login/passkey/options")
    answer = {"credential": device.assertion(options.text, count=0)}
    # Another browser (say, a phishing proxy's) sends the answer: it holds no challenge.
    stolen = post_json(asking, "/admin/account", "/admin/login/passkey", answer)
    assert stolen.status_code == 400 and "ran out or was already used" in stolen.json()["error"]
    # The browser that asked signs in with it, once.
    assert post_json(elsewhere, "/admin/login", "/admin/login/passkey", answer).status_code == 200
    again = post_json(elsewhere, "/admin/", "/admin/login/passkey", answer)
    assert again.status_code == 400


def test_an_admin_removes_someones_passkey_from_their_page(
    clients: list[httpx.Client],
    device: SoftAuthenticator,
    make_user: UserFactory,
    database: Database,
) -> None:
    admin = make_user(role=Role.ADMIN)
    writer = make_user(name="Lost Phone")
    add_passkey(signed_in(clients[0], writer), device, "Lost phone")
    office = signed_in(clients[1], admin)
    page = office.get(f"/admin/user/details/{writer.id}")
    assert "Lost phone" in page.text
    with database.sessionmaker() as session:
        passkey_id = session.scalars(select(Passkey.id)).one()
    form = form_on(page, f"/account/passkeys/{passkey_id}/remove")
    answer = post_form(office, form.action, form.fields)
    assert answer.status_code == 303
    assert answer.headers["location"].endswith(f"/admin/user/details/{writer.id}")
    with database.sessionmaker() as session:
        assert session.scalars(select(Passkey)).all() == []
        [entry] = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "passkey_removed")
        ).all()
        assert (entry.actor_id, entry.object_id) == (admin.id, writer.id)
        assert session.get(User, writer.id) is not None


def test_adding_a_passkey_needs_the_current_password(
    clients: list[httpx.Client], make_user: UserFactory, database: Database
) -> None:
    """A browser left signed in is not enough to add a way in that outlives a new
    password."""
    client = signed_in(clients[0], make_user())
    for body in ({}, {"password": "not the password"}):
        answer = post_json(client, "/admin/account", "/admin/account/passkeys/options", body)
        assert answer.status_code == 400
        assert "password" in answer.json()["error"]
    with database.sessionmaker() as session:
        assert session.scalars(select(PasskeyChallenge)).all() == []


def test_a_passkey_is_the_second_factor_a_policy_asks_of_its_owner(
    clients: list[httpx.Client],
    device: SoftAuthenticator,
    make_user: UserFactory,
    database: Database,
) -> None:
    """Where the site requires two factors of staff, an editor whose second factor is a
    passkey is asked for it after the password (not sent to set up an app), and a token
    request, which cannot carry a passkey, is refused saying why."""
    editor = make_user(role=Role.EDITOR)
    add_passkey(signed_in(clients[0], editor), device, "Laptop")
    database.run(SetTwoFactorPolicy(required_for="staff"), actor=make_user(role=Role.ADMIN))
    fresh = clients[1]
    answer = admin_login(fresh, editor.email)
    assert answer.status_code == 302 and answer.headers["location"].endswith("/admin/login/code")
    # Nothing else opens meanwhile.
    assert fresh.get("/admin/account").status_code in (302, 303, 401, 403)
    page = fresh.get("/admin/login/code")
    assert page.status_code == 200 and "Confirm with your passkey" in page.text
    assert 'name="code"' not in page.text
    options = post_json(fresh, "/admin/login/code", "/admin/login/passkey/options")
    assert options.status_code == 200, options.text
    signed = post_json(
        fresh,
        "/admin/login/code",
        "/admin/login/passkey",
        {"credential": device.assertion(options.text)},
    )
    assert signed.status_code == 200, signed.text
    assert fresh.get("/admin/account").status_code == 200
    token = fresh.post("/auth/token", data={"username": editor.email, "password": DEFAULT_PASSWORD})
    assert token.status_code == 401 and "passkey" in token.json()["detail"]
