"""Where one is signed in, over HTTP with the forms the pages show: the sessions list on
*Your account*, signing out one session or everywhere else (API tokens too), an admin
ending another user's sessions from their page, and the trail of it all."""

import json
from collections.abc import Callable, Iterator

import httpx
import pytest
from sqlalchemy import select

from cms.audit.models import AuditEntry
from cms.auth.browsers import browser_name
from cms.auth.models import StaffSession
from cms.db import Database
from cms.roles import Role
from cms.users.models import User
from tests.admin.browser_forms import form_on, forms_on, post_form
from tests.admin.conftest import sign_out, signed_in
from tests.conftest import LiveServer, UserFactory

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
)

ClientFactory = Callable[[str], httpx.Client]


@pytest.fixture
def browsers(live_server: LiveServer, database: Database) -> Iterator[ClientFactory]:
    """Separate cookie-keeping clients, each with its own user agent."""
    opened: list[httpx.Client] = []

    def open_one(user_agent: str) -> httpx.Client:
        client = httpx.Client(
            base_url=live_server.url, timeout=30, headers={"User-Agent": user_agent}
        )
        opened.append(client)
        return client

    yield open_one
    for client in opened:
        client.close()


def is_signed_in(client: httpx.Client) -> bool:
    response = client.get("/admin/account")
    return response.status_code == 200 and "Where you are signed in" in response.text


def trail(database: Database, action: str) -> list[AuditEntry]:
    with database.sessionmaker() as session:
        return list(
            session.scalars(
                select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
            )
        )


def session_rows(database: Database, user: User) -> list[StaffSession]:
    with database.sessionmaker() as session:
        return list(session.scalars(select(StaffSession).where(StaffSession.user_id == user.id)))


def test_the_account_page_lists_where_one_is_signed_in_and_signs_one_out(
    browsers: ClientFactory, make_user: UserFactory, database: Database
) -> None:
    user = make_user(role=Role.EDITOR)
    laptop = signed_in(browsers(FIREFOX), user)
    phone = signed_in(browsers(SAFARI), user)
    page = laptop.get("/admin/account")
    assert page.status_code == 200
    assert "Firefox on Windows" in page.text and "Safari on iOS" in page.text
    # "This session" marks the laptop's own row, the one listed with Firefox.
    rows = page.text.split("<tr>")
    [this_row] = [row for row in rows if "cms-this-session" in row]
    assert "Firefox on Windows" in this_row and "Safari" not in this_row

    [phone_session] = [s for s in session_rows(database, user) if "iPhone" in s.user_agent]
    form = form_on(page, f"/account/sessions/{phone_session.id}/end")
    answer = post_form(laptop, form.action, form.fields)
    assert answer.status_code == 303
    assert not is_signed_in(phone)
    assert is_signed_in(laptop)
    [ended] = trail(database, "session_ended")
    assert ended.actor_id == user.id and ended.object_id == user.id
    assert json.loads(ended.changes) == {"session": ["Safari on iOS from 127.0.0.1", None]}


def test_signing_out_everywhere_else_ends_other_sessions_and_api_tokens(
    browsers: ClientFactory,
    api: httpx.Client,
    login: Callable[[User], dict[str, str]],
    make_user: UserFactory,
    database: Database,
) -> None:
    user = make_user()
    laptop = signed_in(browsers(FIREFOX), user)
    phone = signed_in(browsers(SAFARI), user)
    token = login(user)
    assert api.get("/users/me", headers=token).status_code == 200

    page = laptop.get("/admin/account")
    form = form_on(page, "/account/sessions/others/end")
    assert post_form(laptop, form.action, form.fields).status_code == 303

    assert not is_signed_in(phone)
    assert api.get("/users/me", headers=token).status_code == 401
    assert is_signed_in(laptop)  # this browser follows the new session version
    assert len(session_rows(database, user)) == 1
    [ended] = trail(database, "sessions_ended")
    assert json.loads(ended.changes) == {
        "sessions": [2, 1],
        "api_tokens": ["valid", "ended"],
    }


def test_an_admin_ends_another_users_sessions_from_their_page(
    browsers: ClientFactory,
    api: httpx.Client,
    login: Callable[[User], dict[str, str]],
    make_user: UserFactory,
    database: Database,
) -> None:
    admin = make_user(role=Role.ADMIN)
    writer = make_user(name="Wendy Writer")
    office = signed_in(browsers(FIREFOX), admin)
    laptop = signed_in(browsers(FIREFOX), writer)
    phone = signed_in(browsers(SAFARI), writer)
    token = login(writer)

    page = office.get(f"/admin/user/details/{writer.id}")
    assert page.status_code == 200
    assert "Safari on iOS" in page.text and "Firefox on Windows" in page.text
    assert "cms-this-session" not in page.text  # none of them is the admin's
    [phone_session] = [s for s in session_rows(database, writer) if "iPhone" in s.user_agent]
    form = form_on(page, f"/user/{writer.id}/sessions/{phone_session.id}/end")
    assert post_form(office, form.action, form.fields).status_code == 303
    assert not is_signed_in(phone) and is_signed_in(laptop)

    page = office.get(f"/admin/user/details/{writer.id}")
    form = form_on(page, f"/user/{writer.id}/sessions/end")
    assert post_form(office, form.action, form.fields).status_code == 303
    assert not is_signed_in(laptop)
    assert api.get("/users/me", headers=token).status_code == 401
    assert is_signed_in(office)
    assert session_rows(database, writer) == []
    assert [(e.actor_id, e.object_id) for e in trail(database, "session_ended")] == [
        (admin.id, writer.id)
    ]
    [everywhere] = trail(database, "sessions_ended")
    assert everywhere.actor_id == admin.id and json.loads(everywhere.changes)["sessions"] == [1, 0]


def test_others_do_not_see_or_end_someone_elses_sessions(
    browsers: ClientFactory, make_user: UserFactory, database: Database
) -> None:
    editor = make_user(role=Role.EDITOR)
    writer = make_user()
    desk = signed_in(browsers(FIREFOX), editor)
    signed_in(browsers(SAFARI), writer)
    page = desk.get(f"/admin/user/details/{writer.id}")
    assert page.status_code == 200  # editors see the user list and pages
    assert "Safari" not in page.text
    assert not [form for form in forms_on(page.text) if "/sessions" in form.action]
    [theirs] = session_rows(database, writer)
    token = form_on(desk.get("/admin/account"), "/account/sessions/others/end").values()
    for url in (
        f"/admin/user/{writer.id}/sessions/{theirs.id}/end",
        f"/admin/user/{writer.id}/sessions/end",
    ):
        assert post_form(desk, url, list(token.items())).status_code == 403
    # Naming their session as one's own finds nothing to end.
    answer = post_form(desk, f"/admin/account/sessions/{theirs.id}/end", list(token.items()))
    assert answer.status_code == 303
    assert len(session_rows(database, writer)) == 1
    assert trail(database, "session_ended") == []


def test_signing_out_is_in_the_trail(
    browsers: ClientFactory, make_user: UserFactory, database: Database
) -> None:
    user = make_user()
    client = signed_in(browsers(FIREFOX), user)
    assert sign_out(client).status_code == 302
    [entry] = trail(database, "logout")
    assert entry.actor_id == user.id and entry.object_id == user.id
    assert [e.action for e in trail(database, "login")] == ["login"]


@pytest.mark.parametrize(
    ("user_agent", "shown"),
    [
        (FIREFOX, "Firefox on Windows"),
        (SAFARI, "Safari on iOS"),
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Safari/537.36",
            "Chrome on Linux",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like "
            "Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86",
            "Edge on macOS",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Mobile Safari/537.36",
            "Chrome on Android",
        ),
        ("python-httpx/0.28.1", "python-httpx"),
        ("", "Unknown browser"),
    ],
)
def test_browsers_are_named_as_people_call_them(user_agent: str, shown: str) -> None:
    assert browser_name(user_agent) == shown
