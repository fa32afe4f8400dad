"""Back-office forms, opened and submitted as a browser shows them, over real HTTP."""

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from cms.articles.models import Article, ArticleStatus
from cms.audit.models import AuditEntry
from cms.db import Database, utcnow
from cms.roles import Role
from cms.security import verify_password
from cms.users.models import User
from tests.admin.browser_forms import form_on, post_form, submit
from tests.admin.conftest import signed_in
from tests.conftest import DEFAULT_PASSWORD, ArticleFactory, LiveServer, UserFactory


def row(database: Database, model: type, object_id: int) -> dict[str, Any]:
    """Every column of a stored row, as the database holds it."""
    with database.sessionmaker() as session:
        obj = session.get(model, object_id)
        assert obj is not None
        return {column.key: getattr(obj, column.key) for column in model.__table__.columns}


def stored(database: Database, model: type, object_id: int) -> Any:
    with database.sessionmaker() as session:
        return session.get(model, object_id)


# Saving unchanged changes nothing


@pytest.mark.parametrize("role", [Role.EDITOR, Role.ADMIN])
@pytest.mark.parametrize(
    ("status", "offset"),
    [
        (ArticleStatus.PUBLISHED, timedelta(days=-3)),  # published
        (ArticleStatus.PUBLISHED, timedelta(days=3)),  # scheduled
        (ArticleStatus.DRAFT, None),
    ],
)
def test_saving_an_article_form_unchanged_changes_nothing(
    browser: httpx.Client,
    make_user: UserFactory,
    make_article: ArticleFactory,
    database: Database,
    role: Role,
    status: ArticleStatus,
    offset: timedelta | None,
) -> None:
    author = make_user(name="Original Author")
    published_at = None if offset is None else utcnow().replace(microsecond=123456) + offset
    article = make_article(
        author=author,
        title="Kept as it is",
        body="Some *body* with\nlines",
        status=status,
        published_at=published_at,
    )
    signed_in(browser, make_user(role=role))
    before = row(database, Article, article.id)
    response = submit(browser, f"/admin/article/edit/{article.id}")
    assert response.status_code == 302, response.text
    assert row(database, Article, article.id) == before


@pytest.mark.parametrize("target_role", list(Role))
@pytest.mark.parametrize("active", [True, False])
def test_saving_a_user_form_unchanged_changes_nothing(
    browser: httpx.Client,
    make_user: UserFactory,
    database: Database,
    target_role: Role,
    active: bool,
) -> None:
    make_user(role=Role.ADMIN)  # so the target is never the last admin
    target = make_user(role=target_role, is_active=active, name="Unchanged Person")
    signed_in(browser, make_user(role=Role.ADMIN))
    before = row(database, User, target.id)
    response = submit(browser, f"/admin/user/edit/{target.id}")
    assert response.status_code == 302, response.text
    assert row(database, User, target.id) == before


def test_the_last_admin_saves_their_own_form_unchanged(
    browser: httpx.Client, make_user: UserFactory, database: Database
) -> None:
    admin = make_user(role=Role.ADMIN)
    signed_in(browser, admin)
    before = row(database, User, admin.id)
    response = submit(browser, f"/admin/user/edit/{admin.id}", name="Renamed Admin")
    assert response.status_code == 302, response.text
    after = row(database, User, admin.id)
    assert after["name"] == "Renamed Admin"
    assert {k: v for k, v in after.items() if k not in ("name", "updated_at")} == {
        k: v for k, v in before.items() if k not in ("name", "updated_at")
    }


def test_every_select_shows_the_stored_option(
    browser: httpx.Client, make_user: UserFactory, make_article: ArticleFactory
) -> None:
    editor = make_user(role=Role.EDITOR)
    article = make_article(
        author=editor, status=ArticleStatus.PUBLISHED, published_at=utcnow() - timedelta(days=1)
    )
    signed_in(browser, make_user(role=Role.ADMIN))
    shown = form_on(browser.get(f"/admin/article/edit/{article.id}"), "/edit/").values()
    assert shown["state"] == "published"
    assert shown["author"] == str(editor.id)
    user_form = form_on(browser.get(f"/admin/user/edit/{editor.id}"), "/edit/").values()
    assert user_form["role"] == "editor"
    assert user_form["is_active"] == "y"


# Changing one field changes only that field


@pytest.mark.parametrize(
    ("field", "typed", "expected"),
    [
        ("title", "A new title", "A new title"),
        ("body", "New **body**", "New **body**"),
        ("slug", "a-new-slug", "a-new-slug"),
    ],
)
def test_editing_one_article_field_changes_only_that_field(
    browser: httpx.Client,
    make_user: UserFactory,
    make_article: ArticleFactory,
    database: Database,
    field: str,
    typed: str,
    expected: object,
) -> None:
    editor = make_user(role=Role.EDITOR)
    article = make_article(
        author=editor,
        title="Before",
        body="Before body",
        status=ArticleStatus.PUBLISHED,
        published_at=utcnow().replace(microsecond=654321) - timedelta(days=1),
    )
    signed_in(browser, editor)
    before = row(database, Article, article.id)
    response = submit(browser, f"/admin/article/edit/{article.id}", **{field: typed})
    assert response.status_code == 302, response.text
    after = row(database, Article, article.id)
    assert after[field] == expected
    derived = {field, "updated_at", "version", "body_html"}
    assert {k: v for k, v in after.items() if k not in derived} == {
        k: v for k, v in before.items() if k not in derived
    }
    assert after["version"] == before["version"] + 1


def test_an_article_saved_unchanged_keeps_its_microseconds_and_version(
    browser: httpx.Client, make_user: UserFactory, make_article: ArticleFactory, database: Database
) -> None:
    editor = make_user(role=Role.EDITOR)
    moment = datetime(2025, 5, 6, 7, 8, 9, 654321, tzinfo=UTC)
    article = make_article(
        author=editor, title="Precise", status=ArticleStatus.PUBLISHED, published_at=moment
    )
    signed_in(browser, editor)
    page = browser.get(f"/admin/article/edit/{article.id}")
    assert form_on(page, "/edit/").values()["published_at"] == "2025-05-06 07:08:09"
    assert submit(browser, f"/admin/article/edit/{article.id}").status_code == 302
    after = stored(database, Article, article.id)
    assert after.published_at == moment and after.version == 1


# Creating


def test_an_editor_writes_a_draft_through_the_create_form(
    browser: httpx.Client, make_user: UserFactory, database: Database
) -> None:
    editor = make_user(role=Role.EDITOR)
    signed_in(browser, editor)
    response = submit(
        browser, "/admin/article/create", title="From the back office", body="Some **bold**"
    )
    assert response.status_code == 302, response.text
    with database.sessionmaker() as session:
        article = session.scalar(select(Article))
    assert article is not None
    assert article.slug == "from-the-back-office"
    assert article.author_id == editor.id
    assert article.body_html == "<p>Some <strong>bold</strong></p>\n"
    assert article.status is ArticleStatus.DRAFT
    # The list it lands on says so.
    assert "Added “From the back office”." in browser.get(response.headers["location"]).text


def test_the_form_offers_three_states_and_a_draft_has_no_time(
    browser: httpx.Client, make_user: UserFactory, make_article: ArticleFactory, database: Database
) -> None:
    editor = make_user(role=Role.EDITOR)
    later = utcnow().replace(microsecond=0) + timedelta(days=2)
    article = make_article(author=editor, status=ArticleStatus.PUBLISHED, published_at=later)
    signed_in(browser, editor)
    path = f"/admin/article/edit/{article.id}"
    form = form_on(browser.get(path), "/edit/")
    assert form.values()["state"] == "scheduled"
    assert sorted(form.options["state"]) == ["draft", "published", "scheduled"]

    before = row(database, Article, article.id)
    assert submit(browser, path, state="draft").status_code == 302
    after = row(database, Article, article.id)
    assert after["status"] == ArticleStatus.DRAFT and after["published_at"] is None
    derived = {"status", "published_at", "updated_at", "version"}
    assert {k: v for k, v in after.items() if k not in derived} == {
        k: v for k, v in before.items() if k not in derived
    }
    assert entries_named(database) == ["unpublish"]

    past_time = submit(browser, path, state="scheduled", published_at="2020-01-01 00:00:00")
    assert past_time.status_code == 400 and "a time in the future" in past_time.text
    assert submit(browser, path, state="published", published_at="").status_code == 302
    published = row(database, Article, article.id)
    assert published["status"] == ArticleStatus.PUBLISHED
    assert published["published_at"] is not None and published["published_at"] <= utcnow()
    assert entries_named(database) == ["unpublish", "publish"]


def entries_named(database: Database) -> list[str]:
    with database.sessionmaker() as session:
        return list(
            session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.object_type == "article")
                .order_by(AuditEntry.id)
            )
        )


def test_an_article_is_published_for_an_author_found_by_lookup(
    browser: httpx.Client, make_user: UserFactory, database: Database
) -> None:
    signed_in(browser, make_user(role=Role.EDITOR))
    author = make_user(name="Findable Person")
    lookup = browser.get(
        "/admin/article/ajax/lookup", params={"name": "author", "term": "Findable"}
    )
    assert [result["id"] for result in lookup.json()["results"]] == [str(author.id)]
    response = submit(
        browser,
        "/admin/article/create",
        title="Guest post",
        state="published",
        published_at="2026-01-02 03:04:05",
        author=str(author.id),
    )
    assert response.status_code == 302, response.text
    with database.sessionmaker() as session:
        article = session.scalar(select(Article))
    assert article is not None and article.author_id == author.id
    assert article.published_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"title": "   "}, "Title must not be blank"),
        ({"title": "x" * 201}, "Title should have at most 200 characters"),
        ({"state": "published", "published_at": "0001-01-01 00:00:00"}, "between 1970 and 9998"),
        ({"author": "abc"}, "choose a user from the list"),
        ({"slug": "Not A Slug"}, "Slug must be lower-case letters, digits and single hyphens"),
    ],
)
def test_article_form_errors_come_from_the_shared_rules(
    browser: httpx.Client,
    make_user: UserFactory,
    database: Database,
    changes: dict[str, str],
    message: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    signed_in(browser, make_user(role=Role.EDITOR))
    with caplog.at_level(logging.INFO):
        response = submit(browser, "/admin/article/create", **{"title": "A title", **changes})
    assert response.status_code == 400
    assert message in response.text
    assert "Traceback" not in response.text and "invalid literal" not in response.text
    with database.sessionmaker() as session:
        assert session.scalar(select(Article)) is None
    # A user's mistake is not a server error: at most one line, never a traceback.
    assert not [record for record in caplog.records if record.exc_info]
    assert len([r for r in caplog.records if r.name.startswith("sqladmin")]) <= 1


def test_an_error_is_said_once_however_often_the_form_was_opened(
    browser: httpx.Client, make_user: UserFactory
) -> None:
    """SQLAdmin appended its validators to the view's own list each time it built the
    form: after a few pages a long title was refused in 19 repeated messages."""
    signed_in(browser, make_user(role=Role.EDITOR))
    for _ in range(3):
        assert browser.get("/admin/article/create").status_code == 200
    response = submit(browser, "/admin/article/create", title="x" * 201)
    assert response.status_code == 400
    assert response.text.count("at most 200 characters") == 1
    assert "Field cannot be longer" not in response.text


def test_a_body_at_the_size_limit_saves_from_the_browsers_multipart_form(
    browser: httpx.Client, make_user: UserFactory, database: Database
) -> None:
    """A browser sends a text area's line breaks as CRLF, in a multipart body: a 1 MiB
    article arrives as more than 1 MiB, which Starlette refused per field (a 500 in the
    CSRF check, a 400 in SQLAdmin). Stored as typed, with LF."""
    signed_in(browser, make_user(role=Role.EDITOR))
    page = browser.get("/admin/article/create")
    form = form_on(page, "/admin/article/create")
    line = "x" * 99
    body = "\n".join([line] * (1024 * 1024 // 100))  # just under 1 MiB with LF
    fields = dict(form.with_changes(title="Long read", body=body.replace("\n", "\r\n")))
    fields["save"] = "Save"
    response = browser.post(
        form.action, files={name: (None, value) for name, value in fields.items()}
    )
    assert response.status_code == 302, response.text[:300]
    with database.sessionmaker() as session:
        article = session.scalar(select(Article))
    assert article is not None and article.body == body and "\r" not in article.body


def test_an_admin_creates_a_user_whose_password_is_hashed(
    browser: httpx.Client, make_user: UserFactory, database: Database
) -> None:
    signed_in(browser, make_user(role=Role.ADMIN))
    response = submit(
        browser,
        "/admin/user/create",
        email="New.Editor@Example.com",
        name="New Editor",
        role="editor",
        is_active="y",
        password="fresh password",
    )
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
        ("password", "short", "Password should have at least 8 characters"),
        ("email", "not-an-email", "Email is not a valid email address"),
        ("email", "BOSS@Example.com", "Email already registered"),
    ],
)
def test_user_form_errors_are_shown(
    browser: httpx.Client, make_user: UserFactory, field: str, value: str, message: str
) -> None:
    signed_in(browser, make_user(role=Role.ADMIN, email="boss@example.com"))
    typed = {"email": "ok@example.com", "password": "long enough", field: value}
    response = submit(browser, "/admin/user/create", **typed)
    assert response.status_code == 400
    assert message in response.text
    assert "INSERT" not in response.text and "IntegrityError" not in response.text


def test_a_blank_password_keeps_the_old_hash(
    browser: httpx.Client, make_user: UserFactory, database: Database
) -> None:
    signed_in(browser, make_user(role=Role.ADMIN))
    user = make_user()
    response = submit(browser, f"/admin/user/edit/{user.id}", name="Renamed")
    assert response.status_code == 302, response.text
    after = stored(database, User, user.id)
    assert after.name == "Renamed" and after.hashed_password == user.hashed_password


def test_an_admin_resets_someone_elses_password(
    browser: httpx.Client, make_user: UserFactory, database: Database
) -> None:
    signed_in(browser, make_user(role=Role.ADMIN))
    user = make_user()
    response = submit(browser, f"/admin/user/edit/{user.id}", password="a brand new one")
    assert response.status_code == 302, response.text
    after = stored(database, User, user.id)
    assert verify_password("a brand new one", after.hashed_password)[0]
    assert after.session_version == user.session_version + 1


def test_editors_read_users_but_change_nobody(
    browser: httpx.Client, make_user: UserFactory, database: Database
) -> None:
    editor, author = make_user(role=Role.EDITOR), make_user()
    signed_in(browser, editor)
    assert author.email in browser.get("/admin/user/list").text
    for target in (author, editor):
        assert browser.get(f"/admin/user/edit/{target.id}").status_code == 403
    assert browser.get("/admin/user/create").status_code == 403
    assert browser.get(f"/admin/user/confirm?action=delete&pks={author.id}").status_code == 403
    assert stored(database, User, author.id).role is Role.AUTHOR


# Everyone's own account page


@pytest.mark.parametrize("role", [Role.EDITOR, Role.ADMIN])
def test_staff_change_their_own_name(
    browser: httpx.Client, make_user: UserFactory, database: Database, role: Role
) -> None:
    user = make_user(role=role)  # the only admin, when role is admin
    signed_in(browser, user)
    before = row(database, User, user.id)
    response = submit(browser, "/admin/account", "/admin/account", save=None, name="New Name")
    assert response.status_code == 302, response.text
    after = row(database, User, user.id)
    assert after["name"] == "New Name"
    assert after["role"] is role and after["session_version"] == before["session_version"]


def test_changing_your_own_password_needs_the_current_one_and_ends_other_sessions(
    browser: httpx.Client, make_user: UserFactory, live_server: LiveServer, database: Database
) -> None:
    editor = make_user(role=Role.EDITOR)
    signed_in(browser, editor)
    with httpx.Client(base_url=live_server.url) as other_browser:
        signed_in(other_browser, editor)
        wrong = submit(
            browser,
            "/admin/account",
            "/account/password",
            save=None,
            current_password="not it",
            password="my new password",
        )
        assert wrong.status_code == 400
        assert "Current password is incorrect" in wrong.text
        assert verify_password(DEFAULT_PASSWORD, stored(database, User, editor.id).hashed_password)[
            0
        ]
        response = submit(
            browser,
            "/admin/account",
            "/account/password",
            save=None,
            current_password=DEFAULT_PASSWORD,
            password="my new password",
        )
        assert response.status_code == 302, response.text
        assert browser.get("/admin/article/list").status_code == 200
        assert other_browser.get("/admin/article/list").status_code == 302
    assert verify_password("my new password", stored(database, User, editor.id).hashed_password)[0]


def test_the_current_password_cannot_be_guessed_from_an_open_session(
    browser: httpx.Client, make_user: UserFactory, settings: Any
) -> None:
    """An unattended browser is not a way to find the password out."""
    signed_in(browser, make_user(role=Role.EDITOR))
    limit = settings.login_max_failures

    def guess(password: str) -> httpx.Response:
        return submit(
            browser,
            "/admin/account",
            "/account/password",
            save=None,
            current_password=password,
            password="my new password",
        )

    for number in range(limit):
        assert "Current password is incorrect" in guess(f"guess {number}").text
    refused = guess(DEFAULT_PASSWORD)
    assert refused.status_code == 400 and "Too many attempts" in refused.text


# Deleting names what it deletes


def test_deleting_asks_by_title_then_deletes(
    browser: httpx.Client, make_user: UserFactory, make_article: ArticleFactory, database: Database
) -> None:
    editor = make_user(role=Role.EDITOR)
    doomed = make_article(author=editor, title="Doomed piece")
    kept = make_article(author=editor, title="Kept piece")
    signed_in(browser, editor)
    confirmation = browser.get(f"/admin/article/confirm?action=delete&pks={doomed.id}")
    assert confirmation.status_code == 200
    assert "Delete 1 article?" in confirmation.text and "“Doomed piece”" in confirmation.text
    assert stored(database, Article, doomed.id) is not None  # asking changed nothing
    form = form_on(confirmation, "/act/delete")
    response = post_form(browser, form.action, form.fields)
    assert response.status_code == 302
    assert stored(database, Article, doomed.id) is None
    assert stored(database, Article, kept.id) is not None
    assert "Moved to the trash: “Doomed piece”." in browser.get(response.headers["location"]).text


def test_bulk_delete_from_the_list_names_every_chosen_row(
    browser: httpx.Client, make_user: UserFactory, make_article: ArticleFactory, database: Database
) -> None:
    editor = make_user(role=Role.EDITOR)
    first = make_article(author=editor, title="First to go")
    second = make_article(author=editor, title="Second to go")
    signed_in(browser, editor)
    listing = browser.get("/admin/article/list")
    form = form_on(listing, "/confirm")
    assert form.method.lower() == "get"
    assert form.options["action"] == ["publish", "unpublish", "delete"]
    chosen: list[tuple[str, str | int | float | bool | None]] = [
        ("action", "delete"),
        ("pk", first.id),
        ("pk", second.id),
    ]
    confirmation = browser.get(form.action, params=chosen)
    assert "Delete 2 articles?" in confirmation.text
    assert "“First to go”" in confirmation.text and "“Second to go”" in confirmation.text
    confirm = form_on(confirmation, "/act/delete")
    assert post_form(browser, confirm.action, confirm.fields).status_code == 302
    assert stored(database, Article, first.id) is None
    assert stored(database, Article, second.id) is None


def test_an_author_cannot_be_deleted_through_a_confirmation_they_may_not_see(
    browser: httpx.Client, make_user: UserFactory, database: Database
) -> None:
    editor, author = make_user(role=Role.EDITOR), make_user()
    signed_in(browser, editor)
    token_page = browser.get("/admin/account")
    form = form_on(token_page, "/admin/account")
    response = browser.post(
        "/admin/user/act/delete", data={"pks": str(author.id), **dict(form.fields)}
    )
    assert response.status_code == 403
    assert stored(database, User, author.id) is not None
