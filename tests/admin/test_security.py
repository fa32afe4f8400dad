"""The back office as an attacker meets it: forged requests, stolen cookies, odd hosts,
locked accounts, a database that is down. Over real HTTP."""

import re
from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import func, select

from cms.articles.models import Article
from cms.asgi import build_app
from cms.auth.models import StaffSession
from cms.db import Database
from cms.roles import Role
from cms.users.models import User
from tests.admin.browser_forms import csrf_token_on, form_on, post_form
from tests.admin.conftest import admin_login, sign_out, signed_in
from tests.conftest import (
    BACKEND,
    DEFAULT_PASSWORD,
    ArticleFactory,
    LiveServer,
    UserFactory,
    make_settings,
)


def count(database: Database, model: type) -> int:
    with database.sessionmaker() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def new_user_fields(token: str | None) -> list[tuple[str, str]]:
    fields = [
        ("email", "mallory@example.com"),
        ("name", "Mallory"),
        ("role", "admin"),
        ("is_active", "y"),
        ("password", "attacker password"),
        ("save", "Save"),
    ]
    return fields + ([("csrf_token", token)] if token else [])


# Forged requests


@pytest.mark.parametrize(
    ("headers", "with_token"),
    [
        ({}, False),  # no token at all
        ({"Origin": "http://localhost:8161"}, True),  # a sibling port: same site, other origin
        ({"Sec-Fetch-Site": "same-site"}, True),
        ({"Sec-Fetch-Site": "cross-site"}, True),
        ({"Origin": "null"}, True),  # a sandboxed iframe or a data: page
    ],
)
def test_a_forged_create_is_refused_and_stores_nothing(
    browser: httpx.Client,
    make_user: UserFactory,
    database: Database,
    headers: dict[str, str],
    with_token: bool,
) -> None:
    signed_in(browser, make_user(role=Role.ADMIN))
    token = csrf_token_on(browser.get("/admin/user/create"))
    before = count(database, User)
    response = browser.post(
        "/admin/user/create",
        content=urlencode(new_user_fields(token if with_token else None)),
        headers={"Content-Type": "application/x-www-form-urlencoded", **headers},
    )
    assert response.status_code == 403
    assert "refused" in response.text
    assert count(database, User) == before


def test_a_token_from_another_session_is_refused(
    browser: httpx.Client, make_user: UserFactory, database: Database, live_server: LiveServer
) -> None:
    signed_in(browser, make_user(role=Role.ADMIN))
    with httpx.Client(base_url=live_server.url) as attacker:
        signed_in(attacker, make_user(role=Role.EDITOR))
        stolen_shape = csrf_token_on(attacker.get("/admin/article/list"))
    before = count(database, User)
    response = post_form(browser, "/admin/user/create", new_user_fields(stolen_shape))
    assert response.status_code == 403
    assert count(database, User) == before


@pytest.mark.parametrize(
    "path",
    ["/admin/article/delete?pks=1", "/admin/user/delete?pks=1"],
)
def test_sqladmins_own_delete_needs_the_token_too(
    browser: httpx.Client, make_user: UserFactory, database: Database, path: str
) -> None:
    admin = make_user(role=Role.ADMIN)
    signed_in(browser, admin)
    assert browser.delete(path.replace("pks=1", f"pks={admin.id}")).status_code == 403
    assert count(database, User) == 1


def test_logout_is_a_post_a_get_only_asks(browser: httpx.Client, make_user: UserFactory) -> None:
    signed_in(browser, make_user(role=Role.EDITOR))
    page = browser.get("/admin/logout")
    assert page.status_code == 200 and "Sign out?" in page.text
    assert browser.get("/admin/article/list").status_code == 200  # still signed in
    forged = browser.post("/admin/logout")
    assert forged.status_code == 403
    assert browser.get("/admin/article/list").status_code == 200
    assert sign_out(browser).status_code == 302
    assert browser.get("/admin/article/list").status_code == 302


def test_a_forged_login_is_refused(browser: httpx.Client, make_user: UserFactory) -> None:
    """Login CSRF: a page must not sign a victim into the attacker's account."""
    editor = make_user(role=Role.EDITOR)
    response = browser.post(
        "/admin/login", data={"username": editor.email, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 403
    assert browser.get("/admin/article/list").status_code == 302


# Sessions


def test_signing_in_issues_a_fresh_session(browser: httpx.Client, make_user: UserFactory) -> None:
    browser.get("/admin/login")
    before = browser.cookies.get("cms_admin", path="/admin")
    signed_in(browser, make_user(role=Role.EDITOR))
    after = browser.cookies.get("cms_admin", path="/admin")
    assert before and after and before != after
    # The cookie from before signing in opens nothing.
    with httpx.Client(base_url=str(browser.base_url), cookies={"cms_admin": before}) as planted:
        assert planted.get("/admin/article/list").status_code == 302


def test_a_copy_of_the_cookie_stops_working_when_its_session_signs_out(
    browser: httpx.Client, make_user: UserFactory, database: Database
) -> None:
    signed_in(browser, make_user(role=Role.ADMIN))
    stolen = browser.cookies.get("cms_admin", path="/admin")
    assert stolen
    with httpx.Client(base_url=str(browser.base_url), cookies={"cms_admin": stolen}) as thief:
        assert thief.get("/admin/user/list").status_code == 200
        sign_out(browser)
        assert thief.get("/admin/user/list").status_code == 302
    assert count(database, StaffSession) == 0


def test_the_cookie_is_httponly_lax_scoped_and_expires(
    browser: httpx.Client, make_user: UserFactory
) -> None:
    response = admin_login(browser, make_user(role=Role.EDITOR).email)
    cookie = response.headers["set-cookie"]
    assert "httponly" in cookie.lower()
    assert "samesite=lax" in cookie.lower()
    assert "path=/admin" in cookie.lower()
    max_age = re.search(r"max-age=(\d+)", cookie, re.IGNORECASE)
    assert max_age and 0 < int(max_age.group(1)) <= 8 * 3600
    assert "secure" not in cookie.lower()  # test settings are not production


@pytest.fixture
def production_server(database_url: str) -> Iterator[LiveServer]:
    with LiveServer(build_app(make_settings(database_url, environment="production"))) as server:
        yield server


def test_the_cookie_is_secure_in_production(production_server: LiveServer) -> None:
    with httpx.Client(base_url=production_server.url) as client:
        response = client.get("/admin/login")
    assert "secure" in response.headers["set-cookie"].lower()


def test_deactivation_elsewhere_ends_a_session(
    browser: httpx.Client, api: httpx.Client, make_user: UserFactory, login: object
) -> None:
    editor, admin = make_user(role=Role.EDITOR), make_user(role=Role.ADMIN)
    signed_in(browser, editor)
    token = api.post("/auth/token", data={"username": admin.email, "password": DEFAULT_PASSWORD})
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    assert api.patch(f"/users/{editor.id}", json={"is_active": False}, headers=headers).is_success
    assert browser.get("/admin/article/list").status_code == 302


def test_a_demotion_takes_effect_on_the_next_request(
    browser: httpx.Client, make_user: UserFactory, make_article: ArticleFactory, database: Database
) -> None:
    """Rights are the account's as it is now, not as it was at sign-in (a demotion through
    the services also ends the session: see test_a_role_change_ends_the_accounts_sessions)."""
    editor = make_user(role=Role.EDITOR)
    make_article(author=make_user(), title="Someone else's draft")
    signed_in(browser, editor)
    assert "Someone else&#39;s draft" in browser.get("/admin/article/list").text
    assert browser.get("/admin/user/list").status_code == 200
    with database.transaction() as session:
        user = session.get(User, editor.id)
        assert user is not None
        user.role = Role.AUTHOR
    articles = browser.get("/admin/article/list")
    assert articles.status_code == 200 and "Someone else" not in articles.text
    assert browser.get("/admin/user/list").status_code == 403


# Headers and hosts


@pytest.mark.parametrize("path", ["/admin/login", "/admin/article/list", "/articles/", "/docs"])
def test_every_response_carries_framing_and_sniffing_protection(
    browser: httpx.Client, make_user: UserFactory, path: str
) -> None:
    signed_in(browser, make_user(role=Role.EDITOR))
    response = browser.get(path)
    assert response.status_code == 200
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-eval" not in csp
    assert response.headers["x-request-id"]


def test_the_back_office_runs_no_inline_script(
    browser: httpx.Client, make_user: UserFactory
) -> None:
    signed_in(browser, make_user(role=Role.EDITOR))
    for path in ["/admin/", "/admin/article/list", "/admin/article/create", "/admin/account"]:
        page = browser.get(path)
        assert "script-src 'self';" in page.headers["content-security-policy"]
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page.text), path


def test_redirects_never_name_a_foreign_host(browser: httpx.Client) -> None:
    response = browser.get("/admin/", headers={"Host": "evil.example"})
    assert response.status_code == 302
    assert response.headers["location"] == "/admin/login"
    # The link every newcomer follows first has no trailing slash: the app's own redirect.
    slash = browser.get("/admin", headers={"Host": "evil.example"})
    assert slash.status_code == 307 and slash.headers["location"] == "/admin/"
    page = browser.get("/admin/login", headers={"Host": "evil.example"})
    assert "evil.example" not in page.text


def test_sqladmins_own_delete_route_is_closed(
    browser: httpx.Client, make_user: UserFactory, make_article: object, database: Database
) -> None:
    """It deleted rows past the services: no trash, no audit entry, even the last admin."""
    admin = make_user(role=Role.ADMIN)
    author = make_user()
    signed_in(browser, admin)
    token = csrf_token_on(browser.get("/admin/user/list"))
    for identity, pk in (("user", admin.id), ("user", author.id)):
        refused = browser.delete(
            f"/admin/{identity}/delete?pks={pk}", headers={"X-CSRF-Token": token}
        )
        assert refused.status_code == 403
    assert count(database, User) == 2


def test_a_role_change_ends_the_accounts_sessions(
    browser: httpx.Client, make_user: UserFactory, api: httpx.Client
) -> None:
    """Demoted, an old cookie must not come back to life when the role comes back."""
    editor, admin = make_user(role=Role.EDITOR), make_user(role=Role.ADMIN)
    signed_in(browser, editor)
    assert browser.get("/admin/article/list").status_code == 200
    admin_token = api.post(
        "/auth/token", data={"username": admin.email, "password": DEFAULT_PASSWORD}
    ).json()["access_token"]
    bearer = {"Authorization": f"Bearer {admin_token}"}
    editor_token = api.post(
        "/auth/token", data={"username": editor.email, "password": DEFAULT_PASSWORD}
    ).json()["access_token"]
    for role in ("author", "editor"):
        changed = api.patch(f"/users/{editor.id}", json={"role": role}, headers=bearer)
        assert changed.status_code == 200
    again = browser.get("/admin/article/list")
    assert again.status_code == 302 and again.headers["location"] == "/admin/login"
    old = api.get("/users/me", headers={"Authorization": f"Bearer {editor_token}"})
    assert old.status_code == 401


# Signing in


@pytest.mark.parametrize("case", ["inactive", "wrong password", "unknown"])
def test_login_refuses_bad_credentials_alike(
    browser: httpx.Client, make_user: UserFactory, case: str
) -> None:
    if case == "inactive":
        email = make_user(role=Role.ADMIN, is_active=False).email
    elif case == "wrong password":
        email = make_user(role=Role.ADMIN).email
    else:
        email = "nobody@example.com"
    password = "not the password" if case == "wrong password" else DEFAULT_PASSWORD
    response = admin_login(browser, email, password)
    assert response.status_code == 400
    assert "Incorrect email or password." in response.text
    assert browser.get("/admin/article/list").status_code == 302


def test_an_author_signs_in_to_their_own_articles(
    browser: httpx.Client, make_user: UserFactory
) -> None:
    response = admin_login(browser, make_user().email)
    assert response.status_code == 302 and response.headers["location"] == "/admin/"
    assert browser.get("/admin/article/list").status_code == 200


def test_the_login_form_asks_for_an_email(browser: httpx.Client) -> None:
    page = browser.get("/admin/login")
    assert '<label class="form-label" for="username">Email</label>' in page.text
    assert 'type="email"' in page.text


def test_a_locked_login_says_so_in_the_back_office_too(
    browser: httpx.Client, make_user: UserFactory
) -> None:
    admin = make_user(role=Role.ADMIN)
    for _ in range(5):  # the test settings allow 5 failures per account and client
        assert admin_login(browser, admin.email, "wrong password").status_code == 400
    locked = admin_login(browser, admin.email)
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.text
    assert re.search(r"in \d+ seconds", locked.text)


@pytest.fixture
def server_without_database(scratch_databases: object, tmp_path: object) -> Iterator[LiveServer]:
    # A database nobody can reach: a closed port, or a file in a folder that does not exist.
    if BACKEND == "sqlite":
        url = "sqlite:////nonexistent-folder/cms.sqlite3"
    else:
        url = "mysql+mysqldb://root@127.0.0.1:1/cms"
    with LiveServer(build_app(make_settings(url))) as server:
        yield server


def test_signing_in_while_the_database_is_down_explains_itself(
    server_without_database: LiveServer,
) -> None:
    with httpx.Client(base_url=server_without_database.url) as client:
        form = form_on(client.get("/admin/login"), "/admin/login")
        response = post_form(
            client,
            form.action,
            form.with_changes(username="someone@example.com", password="whatever password"),
        )
    assert response.status_code == 503
    assert "temporarily unavailable" in response.text
    assert "Traceback" not in response.text and "OperationalError" not in response.text


def test_nothing_is_stored_by_a_refused_request(
    browser: httpx.Client, make_user: UserFactory, database: Database
) -> None:
    editor = make_user(role=Role.EDITOR)
    signed_in(browser, editor)
    response = browser.post(
        "/admin/article/create",
        data={"title": "Forged", "status": "published", "save": "Save"},
        headers={"Origin": "http://localhost:8161"},
    )
    assert response.status_code == 403
    assert count(database, Article) == 0
