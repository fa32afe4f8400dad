"""An author's back office: their own articles, whole, and nothing of anyone else's.

The row-isolation rule the API holds (an author reads others' drafts nowhere and changes
others' articles never) is tried here against every route of /admin, enumerated from the
router itself: a route added without an entry in ``EXPECTED`` fails the test."""

import csv
import io
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from starlette.routing import Mount, Route

from admin.views import ServiceModelView
from cms.actors import Origin
from cms.articles.models import Article, ArticleRevision, ArticleStatus, Tag, TrashedArticle
from cms.audit.models import AuditEntry
from cms.auth import staff_sessions
from cms.auth.models import Passkey, StaffSession
from cms.db import Base, Database, utcnow
from cms.roles import Role
from cms.users.models import User
from tests.admin.browser_forms import csrf_token_on, form_on, post_form, submit
from tests.admin.conftest import signed_in
from tests.conftest import ArticleFactory, UserFactory

# Every trace of author B a response could carry: titles, name, email, body.
SECRET = "Zanzibar"
OTHER_NAME = "Beatrix Bystander"
OTHER_EMAIL = "beatrix@example.com"
MINE = "Ann's own piece"


@dataclass
class World:
    """Author A (signed in) and author B's rows: a draft, a published article, one in
    the trash, an audit entry, and B's user row."""

    me: User
    other: User
    mine: int
    draft: int
    published: int
    trashed: int
    entry: int
    tag: int
    session: str  # B's back-office session, as the sessions list names it
    passkey: int

    def targets(self, identity: str) -> list[int]:
        """B's rows of the view ``identity``, for routes that name a row."""
        return {
            "article": [self.draft, self.published],
            "user": [self.other.id],
            "trashed-article": [self.trashed],
            "audit-entry": [self.entry],
            "tag": [self.tag],
        }[identity]


def _api_article(api: httpx.Client, headers: dict[str, str], **fields: Any) -> int:
    response = api.post("/articles/", json=fields, headers=headers)
    assert response.status_code == 201, response.text
    article_id: int = response.json()["id"]
    return article_id


@pytest.fixture
def world(
    api: httpx.Client,
    make_user: UserFactory,
    login: Callable[[User], dict[str, str]],
    database: Database,
) -> World:
    me = make_user(name="Ann Author")
    other = make_user(name=OTHER_NAME, email=OTHER_EMAIL)
    theirs = login(other)
    draft = _api_article(
        api, theirs, title=f"{SECRET} draft", body=f"{SECRET} words", tags=[f"{SECRET} plans"]
    )
    published = _api_article(api, theirs, title=f"{SECRET} published", status="published")
    trashed = _api_article(api, theirs, title=f"{SECRET} deleted")
    assert api.delete(f"/articles/{trashed}", headers=theirs).status_code == 204
    mine = _api_article(api, login(me), title=MINE, body="My words")
    with database.sessionmaker() as session:
        entry = session.scalar(
            select(AuditEntry.id).where(
                AuditEntry.object_type == "article", AuditEntry.object_id == draft
            )
        )
        tag = session.scalar(select(Tag.id).where(Tag.name == f"{SECRET} plans"))
    assert entry is not None and tag is not None
    token = database.run(
        lambda uow: staff_sessions.start(
            uow, user=other, origin=Origin(surface="admin"), user_agent="Firefox"
        )
    )
    with database.sessionmaker.begin() as session:
        passkey = Passkey(
            user_id=other.id,
            credential_key="b" * 64,
            credential_id="b-credential",
            public_key=b"key",
            sign_count=3,
            name=f"{SECRET} phone",
            created_at=utcnow(),
        )
        session.add(passkey)
        session.flush()
        passkey_id = passkey.id
    return World(
        me,
        other,
        mine,
        draft,
        published,
        trashed,
        entry,
        tag,
        staff_sessions.session_id(token),
        passkey_id,
    )


def others_state(database: Database, me: User) -> dict[str, Any]:
    """Everything that is not the signed-in author's own: B's articles, their revisions,
    the trash, every other user row, and how many articles there are."""

    def rows(model: type[Base], *where: Any) -> list[dict[str, Any]]:
        with database.sessionmaker() as session:
            found = session.scalars(
                select(model).where(*where).order_by(*model.__table__.primary_key)
            )
            return [{c.key: getattr(row, c.key) for c in model.__table__.columns} for row in found]

    return {
        "articles": rows(Article, Article.author_id != me.id),
        "revisions": rows(
            ArticleRevision,
            ArticleRevision.article_id.not_in(select(Article.id).where(Article.author_id == me.id)),
        ),
        "trash": rows(TrashedArticle),
        "users": rows(User, User.id != me.id),
        "sessions": rows(StaffSession, StaffSession.user_id != me.id),
        "passkeys": rows(Passkey, Passkey.user_id != me.id),
        "my_articles": len(rows(Article, Article.author_id == me.id)),
    }


# What each route must answer author A. One checker per view for routes of a view.


def _no_trace_of_b(response: httpx.Response) -> None:
    for trace in (SECRET, OTHER_NAME, OTHER_EMAIL):
        assert trace not in response.text, (response.request.url, trace)


def refused(response: httpx.Response, world: World) -> None:
    assert response.status_code in (403, 404), (response.request.url, response.status_code)
    _no_trace_of_b(response)


def refused_write(response: httpx.Response, world: World) -> None:
    """Turned down with a reason (a form error or a refusal), never done."""
    assert response.status_code in (400, 403, 404), (response.request.url, response.status_code)


def refused_or_sent_back(response: httpx.Response, world: World) -> None:
    """Refused, or sent back to its page with the reason (the Media page's forms); the
    caller checks nothing changed."""
    assert response.status_code in (303, 400, 403, 404), (
        response.request.url,
        response.status_code,
    )


def only_mine(response: httpx.Response, world: World) -> None:
    assert response.status_code == 200, (response.request.url, response.status_code)
    _no_trace_of_b(response)
    if "author_id" not in response.request.url.params:  # filtered to B's: rightly empty
        assert MINE.replace("'", "&#39;") in response.text


def nothing_of_b(response: httpx.Response, world: World) -> None:
    """A page of one's own rows (the trash holds what one deleted oneself)."""
    assert response.status_code == 200, (response.request.url, response.status_code)
    _no_trace_of_b(response)


def form_without_author(response: httpx.Response, world: World) -> None:
    assert response.status_code == 200, (response.request.url, response.status_code)
    _no_trace_of_b(response)
    assert 'name="title"' in response.text and 'name="author"' not in response.text


def lookup_finds_only_me(response: httpx.Response, world: World) -> None:
    assert response.status_code == 200, (response.request.url, response.status_code)
    assert [item["id"] for item in response.json()["results"]] in ([], [str(world.me.id)])
    _no_trace_of_b(response)


def csv_of_mine(response: httpx.Response, world: World) -> None:
    assert response.status_code == 200, (response.request.url, response.status_code)
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [row["id"] for row in rows] == [str(world.mine)]
    _no_trace_of_b(response)


def dashboard_of_mine(response: httpx.Response, world: World) -> None:
    assert response.status_code == 200
    counts = dict(re.findall(r'cms-count-(\w+)">([\d,]+)<', response.text))
    assert counts == {"draft": "1", "scheduled": "0", "published": "0"}
    _no_trace_of_b(response)


def harmless(response: httpx.Response, world: World) -> None:
    """A page about no one's rows (sign-in, statics, the preview, one's own account)."""
    assert response.status_code < 500, (response.request.url, response.status_code)
    _no_trace_of_b(response)


Checker = Callable[[httpx.Response, World], None]
ALL_REFUSED: dict[str, Checker] = {
    "article": refused,
    "user": refused,
    "trashed-article": refused,
    "audit-entry": refused,
    "tag": refused,
}
WRITES_REFUSED: dict[str, Checker] = dict.fromkeys(ALL_REFUSED, refused_write)

# (route name, method) → the answer, for each view where the route names one. HEAD is
# answered by the GET endpoint. Every row-naming route is tried on each of B's rows.
EXPECTED: dict[tuple[str, str], Checker | Mapping[str, Checker]] = {
    ("index", "GET"): dashboard_of_mine,
    ("preview", "POST"): harmless,
    ("history", "GET"): refused,
    ("compare", "GET"): refused,
    ("restore", "POST"): refused_write,
    ("preview-links", "GET"): refused,
    ("preview-link-share", "POST"): refused_write,
    ("preview-link-revoke", "POST"): refused_write,
    ("cms-statics", "GET"): harmless,
    ("statics", "GET"): harmless,
    ("login", "GET"): harmless,
    ("login", "POST"): refused_write,
    ("logout", "GET"): harmless,
    ("logout", "POST"): harmless,
    ("account", "GET"): harmless,
    ("account", "POST"): harmless,
    ("password", "POST"): refused_write,
    # Passkeys and sessions: one's own; B's passkey and session are sent back untouched.
    ("passkey_sign_in_options", "POST"): harmless,
    ("passkey_sign_in", "POST"): refused_write,
    ("passkey_options", "POST"): harmless,
    ("passkey_add", "POST"): refused_write,
    ("passkey_remove", "POST"): refused_or_sent_back,
    ("session_end", "POST"): refused_or_sent_back,
    ("sessions_end_others", "POST"): harmless,
    ("user_session_end", "POST"): refused,
    ("user_sessions_end", "POST"): refused,
    # Two-factor: the sign-in's second step needs a pending sign-in (none here); one's
    # own set-up is one's own; the policy and someone else's reset are admins' only.
    ("login-code", "GET"): harmless,
    ("login-code", "POST"): refused_write,
    ("login-enrol", "GET"): harmless,
    ("login-enrol", "POST"): refused_write,
    ("two-factor", "GET"): harmless,
    ("two-factor-begin", "POST"): harmless,
    ("two-factor-confirm", "POST"): harmless,
    ("two-factor-disable", "POST"): harmless,
    ("recovery-codes", "POST"): harmless,
    ("two-factor-policy", "GET"): refused,
    ("two-factor-policy", "POST"): refused_write,
    ("two-factor-user", "GET"): refused,
    ("two-factor-reset", "POST"): refused_write,
    ("export", "GET"): {**ALL_REFUSED, "article": csv_of_mine},
    ("confirm", "GET"): ALL_REFUSED,
    ("act", "POST"): WRITES_REFUSED,
    ("list", "GET"): {**ALL_REFUSED, "article": only_mine, "trashed-article": nothing_of_b},
    ("audit-diff", "GET"): refused,
    ("tag-suggestions", "GET"): harmless,
    # Media: an author's own uploads (B's: tests/media/test_admin.py); no file, no upload.
    ("media", "GET"): harmless,
    ("media-upload", "POST"): refused_or_sent_back,
    ("media-update", "POST"): refused_or_sent_back,
    ("media-delete", "POST"): refused_or_sent_back,
    # Webhooks and API keys are admins' only.
    ("webhooks", "GET"): refused,
    ("webhook", "GET"): refused,
    ("webhook_add", "POST"): refused_write,
    ("webhook_ping", "POST"): refused_write,
    ("webhook_remove", "POST"): refused_write,
    ("webhook_redeliver", "POST"): refused_write,
    ("apikeys", "GET"): refused,
    ("apikey_create", "POST"): refused_write,
    ("apikey_revoke", "POST"): refused_write,
    ("apikey_rotate", "POST"): refused_write,
    # The site's name, logo and navigation: admins' only.
    ("site-settings", "GET"): refused,
    ("site-settings", "POST"): refused_write,
    # Mailed links: the pages they open need no sign-in and show no one's rows; inviting
    # is admins' only; changing one's email is one's own.
    ("password_reset", "GET"): harmless,
    ("password_reset", "POST"): harmless,
    ("password_reset_confirm", "GET"): harmless,
    ("password_reset_confirm", "POST"): harmless,
    ("invitations", "GET"): refused,
    ("invite", "POST"): refused_write,
    ("invitation_revoke", "POST"): refused_write,
    ("invitation_accept", "GET"): harmless,
    ("invitation_accept", "POST"): harmless,
    ("email_change", "POST"): harmless,
    ("email_change_confirm", "GET"): harmless,
    ("email_change_confirm", "POST"): harmless,
    ("details", "GET"): ALL_REFUSED,
    ("delete", "DELETE"): WRITES_REFUSED,
    ("create", "GET"): {**ALL_REFUSED, "article": form_without_author},
    ("create", "POST"): WRITES_REFUSED,
    ("edit", "GET"): ALL_REFUSED,
    ("edit", "POST"): WRITES_REFUSED,
    ("import", "POST"): WRITES_REFUSED,
    ("ajax_lookup", "GET"): {**ALL_REFUSED, "article": lookup_finds_only_me},
    ("file_download", "GET"): ALL_REFUSED,
    ("file_preview", "GET"): ALL_REFUSED,
}


def admin_routes(app: FastAPI) -> dict[tuple[str, str], str]:
    """Every (name, method) the back office's router answers, with its path."""
    mount = next(r for r in app.routes if isinstance(r, Mount) and r.path == "/admin")
    found: dict[tuple[str, str], str] = {}
    for route in mount.routes:
        if isinstance(route, Mount):
            found[(route.name or route.path, "GET")] = route.path
        elif isinstance(route, Route):
            for method in (route.methods or set()) - {"HEAD"}:
                found[(route.name, method)] = route.path
        else:
            raise AssertionError(f"a back-office route of an unknown kind: {route!r}")
    return found


def identities(app: FastAPI) -> set[str]:
    return {view.identity for view in app.state.back_office.views}


def test_every_back_office_route_and_view_has_an_expected_answer(
    app: FastAPI, database: Database
) -> None:
    assert set(admin_routes(app)) == set(EXPECTED)
    for key, expected in EXPECTED.items():
        names_a_view = "{identity}" in admin_routes(app)[key]
        assert isinstance(expected, Mapping) == names_a_view, key
        if isinstance(expected, Mapping):
            assert set(expected) == identities(app), key


def _fill(path: str, **values: str | int) -> str:
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: str(values[m.group(1)]), path)


@dataclass
class Probe:
    method: str
    url: str
    data: list[tuple[str, str]] | None = None
    files: dict[str, Any] | None = None


def probes(
    name: str, method: str, path: str, identity: str | None, world: World, app: FastAPI
) -> Iterator[Probe]:
    """The requests that try route ``name`` against author B's rows of ``identity``."""
    view: ServiceModelView | None = (
        app.state.back_office._find_model_view(identity) if identity else None
    )
    targets = world.targets(identity) if identity else [world.draft, world.published]
    if name.startswith("user_session"):
        targets = [world.other.id]
    actions = [action.name for action in view.row_actions] if view else []
    for pk in targets:
        url = "/admin" + _fill(
            path,
            identity=identity or "",
            pk=pk,
            number=1,
            export_type="csv",
            column_name="body",
            action="{action}",
            endpoint_id=pk,
            key_id=pk,
            delivery_id=pk,
            link_id=pk,
            session_id=world.session,
            passkey_id=world.passkey,
        )
        if name in ("cms-statics", "statics"):
            file = "cms.css" if name == "cms-statics" else "css/main.css"
            yield Probe("GET", f"{url}/{file}")
        elif name == "confirm":
            for action in actions or ["delete"]:
                yield Probe("GET", f"{url}?action={action}&pks={pk}")
        elif name == "act":
            for action in actions or ["delete"]:
                yield Probe("POST", _fill(url, action=action), [("pks", str(pk))])
        elif name == "delete":
            yield Probe("DELETE", f"{url}?pks={pk}")
        elif name == "list":
            yield Probe("GET", url)
            # Naming B in the author filter shows nothing of B's either.
            yield Probe("GET", f"{url}?author_id={world.other.id}")
        elif name == "ajax_lookup":
            for ref in (view._form_ajax_refs if view else None) or ["author"]:
                yield Probe("GET", f"{url}?name={ref}&term=Beatrix")
        elif name == "create" and method == "POST":
            yield Probe("POST", url, _forged_row(identity, world))
        elif name == "edit" and method == "POST":
            yield Probe("POST", url, [*_forged_row(identity, world), ("expected_version", "1")])
        elif name == "import":
            yield Probe("POST", url, [], {"file": ("rows.csv", b"title\nZanzibar import\n")})
        elif name == "preview":
            yield Probe("POST", url, [("body", "**bold**")])
        elif name == "login" and method == "POST":
            yield Probe("POST", url, [("username", OTHER_EMAIL), ("password", "a guess at it")])
        elif name == "account" and method == "POST":
            yield Probe("POST", url, [("name", "Ann Renamed")])
        elif name == "password":
            yield Probe("POST", url, [("current_password", "a guess"), ("password", "x" * 20)])
        elif name == "invite":
            yield Probe("POST", url, [("email", "mallory@example.com"), ("role", "admin")])
        elif name == "invitation_revoke":
            yield Probe("POST", url, [("invitation_id", "1")])
        elif name == "email_change":
            yield Probe("POST", url, [("new_email", OTHER_EMAIL), ("current_password", "a guess")])
        else:
            yield Probe(method, url, [] if method == "POST" else None)
        if "{pk" not in path and name not in ("confirm", "act", "delete"):
            return  # a route that names no row: once is enough


def _forged_row(identity: str | None, world: World) -> list[tuple[str, str]]:
    """What a form for ``identity`` would post, pointed at B (as author, or B's row)."""
    if identity == "user":
        return [
            ("email", "mallory@example.com"),
            ("name", "Mallory"),
            ("role", "admin"),
            ("is_active", "y"),
            ("password", "attacker password"),
            ("save", "Save"),
        ]
    return [
        ("title", f"{SECRET} taken over"),
        ("body", "Mine now"),
        ("status", "published"),
        ("author", str(world.other.id)),
        ("save", "Save"),
    ]


@pytest.mark.parametrize("route", sorted(EXPECTED), ids=lambda key: "-".join(key))
def test_an_author_reaches_nothing_of_another_authors_through_any_route(
    route: tuple[str, str],
    app: FastAPI,
    browser: httpx.Client,
    world: World,
    database: Database,
) -> None:
    name, method = route
    paths = admin_routes(app)
    assert route in paths, f"{route} is no longer a back-office route: drop it from EXPECTED"
    signed_in(browser, world.me)
    token = csrf_token_on(browser.get("/admin/"))
    expected = EXPECTED[route]
    per_view = expected if isinstance(expected, Mapping) else {None: expected}
    before = others_state(database, world.me)
    tried = 0
    for identity, check in per_view.items():
        for probe in probes(name, method, paths[route], identity, world, app):
            data = None if probe.data is None else [*probe.data, ("csrf_token", token)]
            response = browser.request(
                probe.method,
                probe.url,
                data=dict(data or []) if probe.files else None,
                content=None if probe.files or data is None else _encoded(data),
                files=probe.files,
                headers={"X-CSRF-Token": token, **_form_type(probe)},
            )
            check(response, world)
            assert others_state(database, world.me) == before, probe.url
            tried += 1
    assert tried


def _encoded(data: list[tuple[str, str]]) -> bytes:
    return urlencode(data).encode()


def _form_type(probe: Probe) -> dict[str, str]:
    if probe.data is None or probe.files:
        return {}
    return {"Content-Type": "application/x-www-form-urlencoded"}


# The positive path: an author's day, over HTTP with the forms the pages show


def test_an_author_writes_previews_schedules_publishes_and_deletes_in_the_back_office(
    browser: httpx.Client, make_user: UserFactory, database: Database
) -> None:
    author = make_user(name="Ann Author")
    signed_in(browser, author)
    menu = browser.get("/admin/").text
    assert "/admin/article/list" in menu
    for not_theirs in ("/admin/user/list", "/admin/audit-entry/list"):
        assert not_theirs not in menu
    assert "/admin/trashed-article/list" in menu  # what they delete, they can undo

    created = submit(
        browser, "/admin/article/create", title="Ann writes", body="First **words**", save="Save"
    )
    assert created.status_code == 302, created.text
    with database.sessionmaker() as session:
        article = session.scalars(select(Article)).one()
    assert article.author_id == author.id and article.status is ArticleStatus.DRAFT
    path = f"/admin/article/edit/{article.id}"
    edit_page = browser.get(path)
    assert 'name="title"' in edit_page.text and 'name="author"' not in edit_page.text

    token = csrf_token_on(edit_page)
    preview = browser.post(
        "/admin/article/preview", data={"body": "Some **bold**"}, headers={"X-CSRF-Token": token}
    )
    assert preview.status_code == 200 and "<strong>bold</strong>" in preview.json()["html"]

    saved = submit(browser, path, body="Second words", save="Save")
    assert saved.status_code == 302
    later = (utcnow() + timedelta(days=2)).strftime("%Y-%m-%d %H:%M:%S")
    scheduled = submit(browser, path, save="Schedule", published_at=later)
    assert scheduled.status_code == 302, scheduled.text
    row = stored(database, article.id)
    assert row.status is ArticleStatus.PUBLISHED and row.published_at is not None
    assert row.published_at > utcnow() and not row.is_visible_at(utcnow())

    published = submit(browser, path, save="Publish now")
    assert published.status_code == 302, published.text
    row = stored(database, article.id)
    assert row.is_visible_at(utcnow()) and row.body == "Second words"
    assert row.author_id == author.id

    history = browser.get(f"/admin/article/{article.id}/history")
    assert history.status_code == 200
    assert len(re.findall(r"<tr>", history.text)) >= 4  # a heading and each save
    compared = browser.get(f"/admin/article/{article.id}/history/1")
    assert compared.status_code == 200 and "First **words**" in compared.text
    restore = form_on(compared, "/restore")
    restored = post_form(browser, restore.action, restore.fields)
    assert restored.status_code == 302
    assert stored(database, article.id).body == "First **words**"

    confirmation = browser.get(f"/admin/article/confirm?action=delete&pks={article.id}")
    assert confirmation.status_code == 200 and "Ann writes" in confirmation.text
    form = form_on(confirmation, "/act/delete")
    deleted = post_form(browser, form.action, form.fields)
    assert deleted.status_code == 302
    with database.sessionmaker() as session:
        assert session.get(Article, article.id) is None
        trashed = session.get(TrashedArticle, article.id)
        assert trashed is not None and trashed.deleted_by_id == author.id

    trash = browser.get("/admin/trashed-article/list")
    assert trash.status_code == 200 and "Ann writes" in trash.text
    button = form_on(trash, "/act/restore")
    undone = post_form(browser, button.action, button.fields)
    assert undone.status_code == 302, undone.text
    back = stored(database, article.id)
    assert back.body == "First **words**" and back.is_visible_at(utcnow())


def test_the_tag_box_never_suggests_another_authors_unpublished_tags(
    browser: httpx.Client, world: World, make_user: UserFactory
) -> None:
    signed_in(browser, world.me)
    mine = browser.get("/admin/tag/suggest", params={"q": SECRET[:3]})
    assert mine.status_code == 200 and mine.json()["results"] == []
    signed_in(browser, make_user(role=Role.EDITOR))
    staff = browser.get("/admin/tag/suggest", params={"q": SECRET[:3]})
    assert [item["text"] for item in staff.json()["results"]] == [f"{SECRET} plans"]


def test_an_author_cannot_credit_an_article_to_someone_else(
    browser: httpx.Client, make_user: UserFactory, database: Database
) -> None:
    author, other = make_user(), make_user(name=OTHER_NAME)
    signed_in(browser, author)
    forged = submit(
        browser, "/admin/article/create", title="Ghostwritten", author=str(other.id), save="Save"
    )
    assert forged.status_code == 400
    assert "You may only write articles as yourself" in forged.text
    with database.sessionmaker() as session:
        assert session.scalars(select(Article)).all() == []


def test_an_author_saving_their_form_unchanged_changes_nothing(
    browser: httpx.Client, make_user: UserFactory, make_article: ArticleFactory, database: Database
) -> None:
    author = make_user()
    article = make_article(
        author=author,
        title="Published piece",
        body="Text",
        status=ArticleStatus.PUBLISHED,
        published_at=utcnow().replace(microsecond=250000) - timedelta(days=2),
    )
    signed_in(browser, author)
    before = _columns(stored(database, article.id))
    saved = submit(browser, f"/admin/article/edit/{article.id}", save="Save")
    assert saved.status_code == 302, saved.text
    assert _columns(stored(database, article.id)) == before


def _columns(article: Article) -> dict[str, Any]:
    return {c.key: getattr(article, c.key) for c in Article.__table__.columns}


def stored(database: Database, article_id: int) -> Article:
    with database.sessionmaker() as session:
        article = session.get(Article, article_id)
    assert article is not None
    return article


def test_an_authors_long_list_does_not_estimate_from_everyones_rows(
    browser: httpx.Client,
    make_user: UserFactory,
    make_article: ArticleFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past the count cap a whole table is estimated from its id range: the size of
    everyone's articles, which is not an author's to know."""
    monkeypatch.setattr("admin.views.COUNT_CAP", 2)
    author, other = make_user(), make_user()
    for number in range(3):
        make_article(author=author, title=f"Mine {number}")
    for number in range(30):
        make_article(author=other, title=f"Theirs {number}")
    signed_in(browser, author)
    footer = browser.get("/admin/article/list").text
    assert "of more than 2" in footer and "about" not in footer
