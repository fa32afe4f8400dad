"""The back office over real HTTP: login, forms, and the same policy as the API."""

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from cms.articles.models import Article, ArticleStatus
from cms.db import Database
from cms.roles import Role
from cms.security import verify_password
from cms.users.models import User
from tests.conftest import BACKEND, DEFAULT_PASSWORD, ArticleFactory, LiveServer, UserFactory


@pytest.fixture
def browser(live_server: LiveServer, database: Database) -> Iterator[httpx.Client]:
    """A cookie-keeping HTTP client, like a browser without JavaScript."""
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        yield client


def admin_login(
    client: httpx.Client, email: str, password: str = DEFAULT_PASSWORD
) -> httpx.Response:
    return client.post("/admin/login", data={"username": email, "password": password})


def signed_in(client: httpx.Client, user: User) -> httpx.Client:
    response = admin_login(client, user.email)
    assert response.status_code == 302, response.text
    return client


def user_form(user: User, **changes: str) -> dict[str, str]:
    """The user edit form as the browser posts it for ``user``, with ``changes`` typed in."""
    return {
        "email": user.email,
        "name": user.name,
        "role": user.role.value,
        "is_active": "y" if user.is_active else "",
        "password": "",
        "current_password": "",
        "save": "Save",
        **changes,
    }


def stored(database: Database, model: type, object_id: int) -> object:
    with database.sessionmaker() as session:
        return session.get(model, object_id)


def test_staff_can_sign_in_and_out(browser: httpx.Client, make_user: UserFactory) -> None:
    editor = make_user(role=Role.EDITOR)
    assert browser.get("/admin/").status_code == 302  # to the login page
    response = admin_login(browser, editor.email.upper())
    assert response.status_code == 302
    assert browser.get("/admin/article/list").status_code == 200
    browser.get("/admin/logout")
    assert browser.get("/admin/article/list").status_code == 302


@pytest.mark.parametrize("case", ["author", "inactive", "wrong password", "unknown"])
def test_login_refuses_authors_inactive_users_and_bad_credentials(
    browser: httpx.Client, make_user: UserFactory, case: str
) -> None:
    if case == "author":
        email = make_user().email
    elif case == "inactive":
        email = make_user(role=Role.ADMIN, is_active=False).email
    elif case == "wrong password":
        email = make_user(role=Role.ADMIN).email
    else:
        email = "nobody@example.com"
    password = "not the password" if case == "wrong password" else DEFAULT_PASSWORD
    response = admin_login(browser, email, password)
    assert response.status_code == 400
    assert "Invalid credentials" in response.text
    assert browser.get("/admin/article/list").status_code == 302


def test_deactivation_through_the_api_ends_a_back_office_session(
    browser: httpx.Client, api: httpx.Client, make_user: UserFactory
) -> None:
    editor, admin = make_user(role=Role.EDITOR), make_user(role=Role.ADMIN)
    signed_in(browser, editor)
    token = api.post("/auth/token", data={"username": admin.email, "password": DEFAULT_PASSWORD})
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    assert (
        api.patch(f"/users/{editor.id}", json={"is_active": False}, headers=headers).status_code
        == 200
    )
    assert browser.get("/admin/article/list").status_code == 302


def test_demotion_to_author_ends_a_back_office_session(
    browser: httpx.Client, make_user: UserFactory, database: Database
) -> None:
    editor = make_user(role=Role.EDITOR)
    signed_in(browser, editor)
    with database.transaction() as session:
        user = session.get(User, editor.id)
        assert user is not None
        user.role = Role.AUTHOR
    assert browser.get("/admin/article/list").status_code == 302


def test_admin_creates_a_user_whose_password_is_hashed_by_the_hook(
    browser: httpx.Client, make_user: UserFactory, database: Database
) -> None:
    signed_in(browser, make_user(role=Role.ADMIN))
    form = {
        "email": "New.Editor@Example.com",
        "name": "New Editor",
        "role": "editor",
        "is_active": "y",
        "password": "fresh password",
        "save": "Save",
    }
    response = browser.post("/admin/user/create", data=form)
    assert response.status_code == 302, response.text
    with database.sessionmaker() as session:
        user = session.scalar(select(User).where(User.email == "new.editor@example.com"))
    assert user is not None and user.role is Role.EDITOR
    assert user.hashed_password.startswith("$argon2id$")
    assert verify_password("fresh password", user.hashed_password)[0]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("password", "", "needs a password"),
        ("password", "short", "Use 8 to 256 characters"),
        ("email", "not-an-email", "Enter a valid email address"),
        ("email", "BOSS@Example.com", "Email already registered"),
    ],
)
def test_user_form_errors_are_shown(
    browser: httpx.Client, make_user: UserFactory, field: str, value: str, message: str
) -> None:
    signed_in(browser, make_user(role=Role.ADMIN, email="boss@example.com"))
    form = {
        "email": "ok@example.com",
        "name": "",
        "role": "author",
        "is_active": "y",
        "password": "long enough",
        field: value,
    }
    response = browser.post("/admin/user/create", data=form)
    assert response.status_code == 400
    assert message in response.text
    assert "INSERT" not in response.text and "IntegrityError" not in response.text


def test_editing_with_a_blank_password_keeps_the_old_hash(
    browser: httpx.Client, make_user: UserFactory, database: Database
) -> None:
    signed_in(browser, make_user(role=Role.ADMIN))
    user = make_user()
    before = user.hashed_password
    response = browser.post(f"/admin/user/edit/{user.id}", data=user_form(user, name="Renamed"))
    assert response.status_code == 302, response.text
    after = stored(database, User, user.id)
    assert isinstance(after, User)
    assert after.name == "Renamed"
    assert after.hashed_password == before


def test_admin_resets_someone_elses_password_through_the_hook(
    browser: httpx.Client, make_user: UserFactory, database: Database
) -> None:
    signed_in(browser, make_user(role=Role.ADMIN))
    user = make_user()
    response = browser.post(
        f"/admin/user/edit/{user.id}", data=user_form(user, password="a brand new one")
    )
    assert response.status_code == 302, response.text
    after = stored(database, User, user.id)
    assert isinstance(after, User)
    assert after.hashed_password.startswith("$argon2id$")
    assert verify_password("a brand new one", after.hashed_password)[0]
    assert after.session_version == user.session_version + 1


def test_the_hash_is_never_shown_searched_or_exported(
    browser: httpx.Client, make_user: UserFactory
) -> None:
    admin = make_user(role=Role.ADMIN)
    signed_in(browser, admin)
    pages = [
        browser.get("/admin/user/list"),
        browser.get(f"/admin/user/details/{admin.id}"),
        browser.get(f"/admin/user/edit/{admin.id}"),
        browser.get("/admin/user/export/csv"),
        browser.get("/admin/user/export/json"),
    ]
    for page in pages:
        assert page.status_code == 200
        assert "argon2" not in page.text and "hashed_password" not in page.text
        assert "session_version" not in page.text
    exported = list(csv.reader(io.StringIO(pages[3].text)))
    assert exported[0] == ["id", "email", "name", "role", "is_active", "created_at"]
    assert admin.email in pages[0].text
    # Searching for text of the hash finds nobody: the hash is not a search column.
    assert admin.email not in browser.get("/admin/user/list?search=argon2").text


def test_editors_read_users_but_cannot_change_or_delete_others(
    browser: httpx.Client, make_user: UserFactory, database: Database
) -> None:
    editor, author = make_user(role=Role.EDITOR), make_user()
    signed_in(browser, editor)
    assert author.email in browser.get("/admin/user/list").text
    assert browser.get(f"/admin/user/edit/{author.id}").status_code == 403
    response = browser.post(
        f"/admin/user/edit/{author.id}", data=user_form(author, name="Hacked", role="admin")
    )
    assert response.status_code == 403
    assert browser.get("/admin/user/create").status_code == 403
    assert browser.delete(f"/admin/user/delete?pks={author.id}").status_code == 403
    after = stored(database, User, author.id)
    assert isinstance(after, User) and after.name != "Hacked" and after.role is Role.AUTHOR


def test_editor_cannot_promote_themself(
    browser: httpx.Client, make_user: UserFactory, database: Database
) -> None:
    editor = make_user(role=Role.EDITOR)
    signed_in(browser, editor)
    response = browser.post(f"/admin/user/edit/{editor.id}", data=user_form(editor, role="admin"))
    assert response.status_code == 400
    assert "Only admins" in response.text
    after = stored(database, User, editor.id)
    assert isinstance(after, User) and after.role is Role.EDITOR


def test_article_form_creates_a_draft_through_the_service(
    browser: httpx.Client, make_user: UserFactory, database: Database
) -> None:
    editor = make_user(role=Role.EDITOR)
    signed_in(browser, editor)
    response = browser.post(
        "/admin/article/create",
        data={
            "title": "From the back office",
            "slug": "",
            "body": "Some **bold** text",
            "status": "draft",
            "published_at": "",
            "save": "Save",
        },
    )
    assert response.status_code == 302, response.text
    with database.sessionmaker() as session:
        article = session.scalar(select(Article))
    assert article is not None
    assert article.slug == "from-the-back-office"
    assert article.author_id == editor.id
    assert article.body_html == "<p>Some <strong>bold</strong> text</p>\n"
    assert article.status is ArticleStatus.DRAFT


def test_article_form_publishes_for_another_author_chosen_by_lookup(
    browser: httpx.Client, make_user: UserFactory, database: Database
) -> None:
    editor = make_user(role=Role.EDITOR)
    author = make_user(name="Findable Person")
    signed_in(browser, editor)
    lookup = browser.get(
        "/admin/article/ajax/lookup", params={"name": "author", "term": "Findable"}
    )
    assert lookup.status_code == 200
    results = lookup.json()["results"]
    assert [result["id"] for result in results] == [str(author.id)]
    response = browser.post(
        "/admin/article/create",
        data={
            "title": "Guest post",
            "body": "",
            "status": "published",
            "published_at": "2026-01-02 03:04:05",
            "author": str(author.id),
            "save": "Save",
        },
    )
    assert response.status_code == 302, response.text
    with database.sessionmaker() as session:
        article = session.scalar(select(Article))
    assert article is not None and article.author_id == author.id
    assert article.published_at is not None
    assert article.published_at.isoformat() == "2026-01-02T03:04:05+00:00"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"title": "   "}, "Title must not be blank"),
        ({"status": "published", "published_at": "0001-01-01 00:00:00"}, "between 1970 and 9999"),
        ({"author": "abc"}, "choose a user from the list"),
        ({"slug": "Not A Slug"}, "Use lower-case letters, digits and hyphens"),
    ],
)
def test_article_form_errors_come_from_the_shared_rules(
    browser: httpx.Client, make_user: UserFactory, fields: dict[str, str], message: str
) -> None:
    signed_in(browser, make_user(role=Role.EDITOR))
    form = {"title": "A title", "body": "", "status": "draft", "save": "Save", **fields}
    response = browser.post("/admin/article/create", data=form)
    assert response.status_code == 400
    assert message in response.text
    assert "Traceback" not in response.text and "invalid literal" not in response.text


def test_article_list_searches_sorts_and_filters(
    browser: httpx.Client, make_user: UserFactory, make_article: ArticleFactory
) -> None:
    editor, other = make_user(role=Role.EDITOR), make_user()
    make_article(author=other, title="Other's piece")
    make_article(author=editor, title="Alpha news", status=ArticleStatus.PUBLISHED)
    make_article(author=editor, title="Beta draft")
    signed_in(browser, editor)
    assert "Beta draft" not in browser.get("/admin/article/list?search=alpha").text
    assert "Alpha news" in browser.get("/admin/article/list?search=alpha").text
    drafts = browser.get("/admin/article/list?status=draft").text
    assert "Beta draft" in drafts and "Alpha news" not in drafts
    by_title = browser.get("/admin/article/list?sortBy=title&sort=desc").text
    assert by_title.index("Beta draft") < by_title.index("Alpha news")
    mine = browser.get(f"/admin/article/list?author_id={editor.id}").text
    assert "Alpha news" in mine and "Other&#39;s piece" not in mine
    theirs = browser.get(f"/admin/article/list?author_id={other.id}").text
    assert "Other&#39;s piece" in theirs and "Alpha news" not in theirs


def test_deleting_an_article_from_the_back_office(
    browser: httpx.Client, make_user: UserFactory, make_article: ArticleFactory, database: Database
) -> None:
    editor = make_user(role=Role.EDITOR)
    article = make_article(author=editor, title="Doomed")
    signed_in(browser, editor)
    response = browser.delete(f"/admin/article/delete?pks={article.id}")
    assert response.status_code == 200
    assert stored(database, Article, article.id) is None


# A huge id: MariaDB simply finds no row (404); SQLite cannot even bind it (400).
HUGE_ID_STATUS = 400 if BACKEND == "sqlite" else 404


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/admin/article/list?status=zzz", 200),  # a filter that matches nothing
        ("/admin/user/list?role=zzz", 200),
        ("/admin/article/list?author_id=abc", 400),
        ("/admin/user/details/abc", 400),
        ("/admin/article/edit/abc", 400),
        ("/admin/user/details/99999999999999999999", HUGE_ID_STATUS),
        ("/admin/article/list?author_id=99999999999999999999", 200 if BACKEND != "sqlite" else 400),
    ],
)
def test_hand_edited_addresses_are_answered_not_500(
    browser: httpx.Client, make_user: UserFactory, path: str, status: int
) -> None:
    signed_in(browser, make_user(role=Role.ADMIN))
    response = browser.get(path)
    assert response.status_code == status, (path, response.status_code)


def test_saving_an_article_unchanged_keeps_its_exact_times(
    browser: httpx.Client, make_user: UserFactory, make_article: ArticleFactory, database: Database
) -> None:
    editor = make_user(role=Role.EDITOR)
    moment = datetime(2025, 5, 6, 7, 8, 9, 654321, tzinfo=UTC)
    article = make_article(
        author=editor,
        title="Precise",
        body="b",
        status=ArticleStatus.PUBLISHED,
        published_at=moment,
    )
    signed_in(browser, editor)
    form = browser.get(f"/admin/article/edit/{article.id}").text
    assert 'value="2025-05-06 07:08:09"' in form
    response = browser.post(
        f"/admin/article/edit/{article.id}",
        data={
            "title": "Precise",
            "slug": "precise",
            "body": "b",
            "status": "published",
            "published_at": "2025-05-06 07:08:09",
            "author": str(editor.id),
            "save": "Save",
        },
    )
    assert response.status_code == 302, response.text
    after = stored(database, Article, article.id)
    assert isinstance(after, Article)
    assert after.published_at == moment
    assert after.version == 1  # nothing changed, so nothing was written


def test_the_author_filter_lists_prolific_authors_not_every_user(
    browser: httpx.Client, make_user: UserFactory, make_article: ArticleFactory
) -> None:
    editor = make_user(role=Role.EDITOR, name="Editor Without Articles")
    writer = make_user(name="Prolific Writer")
    make_article(author=writer, title="By the writer")
    signed_in(browser, editor)
    page = browser.get("/admin/article/list").text
    assert "Prolific Writer" in page
    assert "Editor Without Articles" not in page
    assert editor.email not in page
    selected = browser.get(f"/admin/article/list?author_id={editor.id}").text
    assert "Editor Without Articles" in selected and "By the writer" not in selected


def test_no_file_can_be_downloaded_through_a_text_column(
    browser: httpx.Client, make_user: UserFactory, make_article: ArticleFactory
) -> None:
    # The server's working directory is this test's own: put a "secret" there.
    Path("secret.txt").write_text("[project] TOP SECRET", encoding="utf-8")
    editor = make_user(role=Role.EDITOR, name="secret.txt")
    article = make_article(author=editor, title="secret.txt", body="secret.txt")
    signed_in(browser, editor)
    for path in [
        f"/admin/article/{article.id}/body/download/",
        f"/admin/article/{article.id}/body/preview/",
        f"/admin/user/{editor.id}/name/download/",
        f"/admin/article/{article.id}/title/download/",
    ]:
        response = browser.get(path)
        assert response.status_code == 404, path
        assert "TOP SECRET" not in response.text


def test_exports_defuse_spreadsheet_formulas(
    browser: httpx.Client, make_user: UserFactory, make_article: ArticleFactory
) -> None:
    editor = make_user(role=Role.EDITOR, name="=cmd|' /C calc'!A0")
    make_article(author=editor, title='=HYPERLINK("http://evil.example","x")', slug="evil")
    signed_in(browser, editor)
    articles = list(csv.reader(io.StringIO(browser.get("/admin/article/export/csv").text)))
    assert articles[1][1] == '\'=HYPERLINK("http://evil.example","x")'
    users = list(csv.reader(io.StringIO(browser.get("/admin/user/export/csv").text)))
    assert users[1][2] == "'=cmd|' /C calc'!A0"


def test_changing_your_own_password_keeps_you_signed_in_here_only(
    browser: httpx.Client, make_user: UserFactory, live_server: LiveServer
) -> None:
    admin = make_user(role=Role.ADMIN)
    signed_in(browser, admin)
    with httpx.Client(base_url=live_server.url) as other_browser:
        signed_in(other_browser, admin)
        response = browser.post(
            f"/admin/user/edit/{admin.id}",
            data=user_form(admin, password="my new password", current_password=DEFAULT_PASSWORD),
        )
        assert response.status_code == 302, response.text
        assert browser.get("/admin/user/list").status_code == 200
        assert other_browser.get("/admin/user/list").status_code == 302


def test_the_create_form_asks_for_no_current_password(
    browser: httpx.Client, make_user: UserFactory
) -> None:
    admin = make_user(role=Role.ADMIN)
    signed_in(browser, admin)
    assert 'name="current_password"' not in browser.get("/admin/user/create").text
    assert 'name="current_password"' in browser.get(f"/admin/user/edit/{admin.id}").text


def test_a_locked_login_says_so_in_the_back_office_too(
    browser: httpx.Client, make_user: UserFactory
) -> None:
    admin = make_user(role=Role.ADMIN)
    for _ in range(5):  # the test settings allow 5 failures
        assert admin_login(browser, admin.email, "wrong password").status_code == 400
    locked = admin_login(browser, admin.email)
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.text
    assert re.search(r"in \d+ seconds", locked.text)
