"""The back office end to end in a real headless Chromium (Debian's ``chromium``): forms
opened and saved as editors and admins save them, the whole life of an article, a page
on another origin trying to forge requests, and the layout on a laptop screen."""

import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from cms.articles import actions
from cms.articles.changes import ArticleDraft
from cms.articles.models import Article, ArticleState, ArticleStatus, Tag
from cms.db import Database, utcnow
from cms.roles import Role
from cms.twofactor import service as twofactor
from cms.users.models import User
from tests.conftest import DEFAULT_PASSWORD, ArticleFactory, LiveServer, UserFactory

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Chromium as root in a container: no sandbox, and no calls home on a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is not installed: run ./test.sh, which installs it (apt chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def site(live_server: LiveServer) -> str:
    # "localhost", not 127.0.0.1: the forgery test needs a sibling origin on the same host.
    return f"http://localhost:{live_server.port}"


@pytest.fixture
def page(chromium: Browser, site: str, database: Database) -> Iterator[Page]:
    context = chromium.new_context(base_url=site, viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def sign_in(page: Page, email: str, password: str = DEFAULT_PASSWORD) -> None:
    page.goto("/admin/login")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/")


def row(database: Database, model: type, object_id: int) -> dict[str, Any]:
    with database.sessionmaker() as session:
        obj = session.get(model, object_id)
        assert obj is not None
        return {c.key: getattr(obj, c.key) for c in model.__table__.columns}


def type_in_select2(page: Page, field: str, text: str, answered_by: str | None = None) -> None:
    """Open the select2 box of ``#field`` and type ``text`` into its search, as a person
    does: only once the box is open (a page still setting up its widgets would take the
    keys elsewhere) and, for a box fed as you type, until the server has answered."""
    page.click(f"#{field} + .select2 .select2-selection")
    search = page.locator(".select2-container--open .select2-search__field")
    expect(search).to_be_visible()
    if answered_by is None:
        search.press_sequentially(text)
        return
    with page.expect_response(lambda response: answered_by in response.url) as answer:
        search.press_sequentially(text)
    assert answer.value.status == 200, answer.value.status


def save(page: Page, button: str = "input[type=submit][value=Save]") -> None:
    with page.expect_navigation():
        page.click(button)


# Saving unchanged, in the browser, for every view and staff role


@pytest.mark.parametrize(
    ("view", "role"),
    [
        ("article", Role.AUTHOR),
        ("article", Role.EDITOR),
        ("article", Role.ADMIN),
        ("tag", Role.EDITOR),
        ("user", Role.ADMIN),
        ("account", Role.EDITOR),
        ("account", Role.ADMIN),
    ],
)
def test_saving_a_form_unchanged_in_the_browser_changes_nothing(
    page: Page,
    make_user: UserFactory,
    make_article: ArticleFactory,
    database: Database,
    view: str,
    role: Role,
) -> None:
    staff = make_user(role=role, name="Staff Member")
    model: type[Article] | type[User] | type[Tag]
    if view == "article":
        # An author edits their own article (a form without the author field).
        author = staff if role is Role.AUTHOR else make_user(name="Some Author")
        target = make_article(
            author=author,
            title="A published piece",
            body="Text with *emphasis*",
            status=ArticleStatus.PUBLISHED,
            published_at=utcnow().replace(second=5, microsecond=250000) - timedelta(days=2),
        )
        model, object_id, path = Article, target.id, f"/admin/article/edit/{target.id}"
        button = "input[type=submit][value=Save]"
    elif view == "tag":
        database.run(
            actions.CreateArticle(draft=ArticleDraft(title="Tagged", tags=("Soup Recipes",))),
            actor=staff,
        )
        with database.sessionmaker() as session:
            tag_id = session.scalars(select(Tag.id)).one()
        model, object_id, path = Tag, tag_id, f"/admin/tag/edit/{tag_id}"
        button = "input[type=submit][value=Save]"
    elif view == "user":
        target_user = make_user(role=Role.EDITOR, name="An Editor")
        model, object_id, path = User, target_user.id, f"/admin/user/edit/{target_user.id}"
        button = "input[type=submit][value=Save]"
    else:
        model, object_id, path = User, staff.id, "/admin/account"
        button = "text=Save name"
    sign_in(page, staff.email)
    before = row(database, model, object_id)
    page.goto(path)
    if view == "article":
        # As the picker shows it: whole seconds, two digits ("…:05", not "…:5").
        shown = page.locator("#published_at").input_value()
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", shown), shown
    save(page, button)
    assert "/edit/" not in page.url  # it saved and moved on, not a form with errors
    assert row(database, model, object_id) == before


def test_editing_one_field_in_the_browser_changes_only_it(
    page: Page, make_user: UserFactory, make_article: ArticleFactory, database: Database
) -> None:
    editor = make_user(role=Role.EDITOR)
    article = make_article(
        author=make_user(),
        title="Old title",
        status=ArticleStatus.PUBLISHED,
        published_at=utcnow() - timedelta(hours=1),
    )
    sign_in(page, editor.email)
    before = row(database, Article, article.id)
    page.goto(f"/admin/article/edit/{article.id}")
    page.fill("#title", "New title")
    save(page)
    after = row(database, Article, article.id)
    assert after["title"] == "New title"
    unchanged = set(before) - {"title", "updated_at", "version"}
    assert {k: after[k] for k in unchanged} == {k: before[k] for k in unchanged}


# The life of an article


def test_an_editor_writes_edits_publishes_and_deletes_an_article(
    page: Page, make_user: UserFactory, database: Database, tmp_path: Path
) -> None:
    editor = make_user(role=Role.EDITOR)
    author = make_user(name="Zelda Quill")
    sign_in(page, editor.email)

    page.goto("/admin/article/create")
    page.fill("#title", "Written in a real browser")
    page.fill("#body", "Hello **world**")
    # The author select is a select2 widget fed by the ajax lookup as you type.
    type_in_select2(page, "author", "Zelda", answered_by="/ajax/lookup")
    page.locator(".select2-results__option", has_text="Zelda Quill").click()
    save(page)
    expect(page.locator("body")).to_contain_text("Added “Written in a real browser”.")
    with database.sessionmaker() as session:
        article = session.scalar(select(Article))
    assert article is not None and article.author_id == author.id
    assert article.status is ArticleStatus.DRAFT and article.slug == "written-in-a-real-browser"

    page.click("text=Written in a real browser")  # the title links to its edit form
    page.fill("#body", "Hello **brave** world")
    page.check("input[name=state][value=published]")
    page.screenshot(path=tmp_path / "article-form.png", full_page=True)
    save(page)
    expect(page.locator("table")).to_contain_text("Published")
    with database.sessionmaker() as session:
        published = session.get(Article, article.id)
    assert published is not None and published.status is ArticleStatus.PUBLISHED
    assert published.published_at is not None and published.author_id == author.id
    assert published.body_html == "<p>Hello <strong>brave</strong> world</p>\n"

    page.click(f"a[href*='action=delete&pks={article.id}']")
    expect(page.locator("body")).to_contain_text("“Written in a real browser”")
    with page.expect_navigation():
        page.click("button.btn-danger")
    expect(page.locator("body")).to_contain_text("Moved to the trash: “Written in a real browser”.")
    with database.sessionmaker() as session:
        assert session.get(Article, article.id) is None


def test_signing_out_from_the_sidebar(page: Page, make_user: UserFactory) -> None:
    sign_in(page, make_user(role=Role.EDITOR).email)
    with page.expect_navigation():
        page.click("text=Sign out")
    assert page.url.endswith("/admin/login")
    page.goto("/admin/article/list")
    assert page.url.endswith("/admin/login")


def test_a_wrong_password_is_shown_on_the_login_page(page: Page, make_user: UserFactory) -> None:
    sign_in_page = page
    sign_in_page.goto("/admin/login")
    sign_in_page.fill("input[name=username]", make_user(role=Role.ADMIN).email)
    sign_in_page.fill("input[name=password]", "not the password")
    sign_in_page.click("button[type=submit]")
    expect(sign_in_page.locator(".alert-danger")).to_contain_text("Incorrect email or password")


# A hostile page on a sibling origin


ATTACKER_PAGE = """<!DOCTYPE html><html><body>
<form id="forged" method="post" action="{target}/admin/user/create">
  <input name="email" value="mallory@example.com"><input name="name" value="Mallory">
  <input name="role" value="admin"><input name="is_active" value="y">
  <input name="password" value="attacker password"><input name="save" value="Save">
</form>
<script>
  fetch("{target}/admin/user/create", {{method: "POST", mode: "no-cors", credentials: "include",
    headers: {{"Content-Type": "application/x-www-form-urlencoded"}},
    body: "email=eve%40example.com&name=Eve&role=admin&is_active=y"
      + "&password=attacker+password&save=Save"
  }}).finally(function () {{ document.getElementById("forged").submit(); }});
</script></body></html>"""


@pytest.fixture
def attacker_site(site: str) -> Iterator[str]:
    """A page served from another port on the same host: same site, another origin."""

    async def page(_request: Any) -> HTMLResponse:
        return HTMLResponse(ATTACKER_PAGE.format(target=site))

    app = Starlette(routes=[Route("/", page)])
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield f"http://localhost:{port}/"
    server.should_exit = True
    thread.join(timeout=10)


def test_a_page_on_a_sibling_origin_cannot_create_an_admin(
    page: Page, make_user: UserFactory, database: Database, attacker_site: str
) -> None:
    admin = make_user(role=Role.ADMIN)
    sign_in(page, admin.email)
    responses: list[int] = []
    page.on(
        "response",
        lambda response: (
            responses.append(response.status)
            if response.url.endswith("/admin/user/create")
            else None
        ),
    )
    page.goto(attacker_site)
    page.wait_for_url("**/admin/user/create", wait_until="load")
    expect(page.locator("body")).to_contain_text("refused")
    assert 403 in responses
    with database.sessionmaker() as session:
        assert session.scalar(select(func.count()).select_from(User)) == 1
    # And the admin is still signed in: nothing was changed, not even that.
    page.goto("/admin/user/list")
    assert page.url.endswith("/admin/user/list")


# A laptop screen


def test_the_article_list_fits_a_1366_pixel_screen(
    page: Page, make_user: UserFactory, make_article: ArticleFactory
) -> None:
    author = make_user(name="An Author With A Rather Long Display Name Indeed")
    for number in range(3):
        make_article(
            author=author,
            title=f"{number} " + "A very long title that goes on and on " * 5,
            status=ArticleStatus.PUBLISHED,
            published_at=utcnow() + timedelta(days=number - 1),
        )
    sign_in(page, make_user(role=Role.EDITOR).email)
    page.goto("/admin/article/list")
    expect(page.locator("table")).to_contain_text("Scheduled")
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 1366
    # Nor is the table cut off inside its card: every column is on screen.
    table = page.locator(".table-responsive")
    assert table.evaluate("element => element.scrollWidth <= element.clientWidth")
    expect(page.locator("th", has_text="Last changed")).to_be_in_viewport()


# Two editors, one article


def test_two_browsers_editing_one_article_lose_nothing(
    chromium: Browser,
    site: str,
    make_user: UserFactory,
    make_article: ArticleFactory,
    database: Database,
) -> None:
    ann, bob = make_user(role=Role.EDITOR, name="Ann"), make_user(role=Role.EDITOR, name="Bob")
    article = make_article(author=ann, title="Contested", body="Original words")
    contexts = [chromium.new_context(base_url=site) for _ in range(2)]
    try:
        first, second = (context.new_page() for context in contexts)
        for page, user in ((first, ann), (second, bob)):
            page.set_default_timeout(15_000)
            sign_in(page, user.email)
            page.goto(f"/admin/article/edit/{article.id}")
        first.fill("#body", "Ann's words")
        save(first)
        second.fill("#body", "Bob's words")
        save(second)
        expect(second.locator(".alert-danger")).to_contain_text("Changed by Ann at")
        # Bob's words are still in his form, to copy; Ann's are what is stored.
        assert second.input_value("#body") == "Bob's words"
        second.click("text=See what changed since you opened it")
        expect(second.locator(".cms-diff").first).to_be_visible()
    finally:
        for context in contexts:
            context.close()
    with database.sessionmaker() as session:
        stored = session.get(Article, article.id)
    assert stored is not None and stored.body == "Ann's words" and stored.version == 2


def test_the_preview_and_the_tag_box_work_in_the_browser(
    page: Page, make_user: UserFactory, database: Database
) -> None:
    sign_in(page, make_user(role=Role.EDITOR).email)
    page.goto("/admin/article/create")
    page.fill("#title", "Previewed")
    page.fill("#body", "Some **bold** words <script>alert(1)</script>")
    preview = page.locator(".cms-preview-body strong")
    expect(preview).to_have_text("bold")
    assert page.locator(".cms-preview-body script").count() == 0
    type_in_select2(page, "tags", "Brand New Tag")
    page.keyboard.press("Enter")
    save(page)
    with database.sessionmaker() as session:
        article = session.scalar(select(Article))
        assert article is not None
        assert [tag.name for tag in article.tags] == ["Brand New Tag"]


# An author's day


AUTHOR_BODY = """Before it goes out:

- [x] write the draft
- [ ] publish it

The guide is at https://example.org/guide, and there is a note.[^1]

[^1]: Written in the back office."""


def test_an_author_writes_a_draft_and_publishes_it_in_the_browser(
    page: Page, make_user: UserFactory, make_article: ArticleFactory, database: Database
) -> None:
    author = make_user(name="Ann Author")
    make_article(author=make_user(name="Someone Else"), title="Not hers")
    make_article(author=author, title="Her older piece")
    sign_in(page, author.email)
    with page.expect_navigation():
        page.click("#navbar-menu >> text=Articles")
    assert page.url.endswith("/admin/article/list")
    expect(page.locator("table")).to_contain_text("Her older piece")
    expect(page.locator("table")).not_to_contain_text("Not hers")
    with page.expect_navigation():
        page.click("text=New article")
    # She is the author: the form has no one else to choose.
    assert page.locator("#author").count() == 0
    page.fill("#title", "Ann's first piece")
    page.fill("#body", AUTHOR_BODY)
    expect(page.locator(".cms-preview-body")).to_contain_text("Written in the back office.")
    save(page)
    expect(page.locator("body")).to_contain_text("Added “Ann's first piece”.")
    with database.sessionmaker() as session:
        article = session.scalar(select(Article).where(Article.title == "Ann's first piece"))
    assert article is not None and article.author_id == author.id
    assert article.status is ArticleStatus.DRAFT and article.body == AUTHOR_BODY
    assert "https://example.org/guide" in article.body_html

    page.click("text=Ann's first piece")
    save(page, "input[type=submit][value='Publish now']")
    expect(page.locator("body")).to_contain_text("Published “Ann's first piece”.")
    with database.sessionmaker() as session:
        published = session.get(Article, article.id)
    assert published is not None and published.is_visible_at(utcnow())
    assert published.author_id == author.id and published.body == AUTHOR_BODY


# Leaving a form, and the preview beside it


def test_leaving_an_edited_form_asks_first_and_saving_does_not(
    page: Page, make_user: UserFactory, make_article: ArticleFactory, database: Database
) -> None:
    editor = make_user(role=Role.EDITOR)
    article = make_article(author=editor, title="Half written", body="Draft words")
    sign_in(page, editor.email)
    asked: list[str] = []

    def answer(dialog: Any) -> None:
        asked.append(dialog.type)
        dialog.dismiss()  # "Stay on this page"

    page.on("dialog", answer)
    path = f"/admin/article/edit/{article.id}"

    # Opened and left untouched: leaving asks nothing.
    page.goto(path)
    page.click("text=Cancel")
    page.wait_for_url("**/admin/article/list")
    assert asked == []

    # Typed into: leaving asks, and staying keeps what was typed.
    page.goto(path)
    page.click("#body")
    page.keyboard.press("End")
    page.keyboard.type(" and more")
    page.click("text=Cancel")
    page.wait_for_timeout(500)
    assert asked == ["beforeunload"]
    assert page.url.endswith(path)
    assert page.input_value("#body") == "Draft words and more"

    # Saving is leaving on purpose: no question.
    save(page)
    assert asked == ["beforeunload"]
    assert "/edit/" not in page.url
    assert row(database, Article, article.id)["body"] == "Draft words and more"


def test_on_a_wide_screen_the_preview_stands_beside_the_body(
    chromium: Browser, site: str, make_user: UserFactory, make_article: ArticleFactory
) -> None:
    editor = make_user(role=Role.EDITOR)
    article = make_article(author=editor, title="Side by side", body="Some **bold** words")
    for width, beside in ((1400, True), (900, False)):
        context = chromium.new_context(base_url=site, viewport={"width": width, "height": 900})
        try:
            page = context.new_page()
            page.set_default_timeout(15_000)
            sign_in(page, editor.email)
            page.goto(f"/admin/article/edit/{article.id}")
            expect(page.locator(".cms-preview-body strong")).to_have_text("bold")
            body = page.locator("#body").bounding_box()
            preview = page.locator(".cms-preview").bounding_box()
            save_button = page.locator("input[type=submit][value=Save]").bounding_box()
            assert body and preview and save_button
            if beside:
                assert preview["x"] >= body["x"] + body["width"]
                # Level with the body, not pushed below the buttons.
                assert preview["y"] < body["y"] + body["height"]
                assert preview["y"] < save_button["y"]
                assert preview["width"] >= 300
            else:
                assert preview["y"] > save_button["y"]  # stacked, below the form
            assert page.evaluate("document.scrollingElement.scrollWidth") <= width
        finally:
            context.close()


def test_the_tag_box_suggests_an_existing_tag_as_the_editor_types(
    page: Page, make_user: UserFactory, make_article: ArticleFactory, database: Database
) -> None:
    editor = make_user(role=Role.EDITOR)
    with database.transaction() as session:
        session.add(Tag(name="Cooking", slug="cooking", tagged_count=1))
        session.add(Tag(name="Travel", slug="travel", tagged_count=1))
    sign_in(page, editor.email)
    page.goto("/admin/article/create")
    page.fill("#title", "Soup")
    type_in_select2(page, "tags", "Coo", answered_by="/tag/suggest")
    suggestion = page.locator(".select2-results__option", has_text="Cooking")
    expect(suggestion).to_be_visible()
    expect(page.locator(".select2-results__option", has_text="Travel")).to_have_count(0)
    suggestion.click()
    save(page)
    with database.sessionmaker() as session:
        article = session.scalar(select(Article))
        assert article is not None
        assert [tag.name for tag in article.tags] == ["Cooking"]
        assert session.scalar(select(func.count()).select_from(Tag)) == 2  # no "Coo" made


# A writer's and an editor's whole day, as they meet it in the browser


DAY_BODY = """Shopping for the soup:

- [x] leeks
- [ ] potatoes

Recipe from www.example.org/soup, adapted.[^1]

[^1]: My grandmother's version."""


def _set_time(page: Page, selector: str, value: str) -> None:
    """Type a time into a date picker the way its calendar would set it."""
    page.evaluate(
        """([selector, value]) => {
            const input = document.querySelector(selector);
            if (input._flatpickr) { input._flatpickr.setDate(value, true, "Y-m-d H:i:S"); }
            else { input.value = value; }
        }""",
        [selector, value],
    )


def test_an_authors_and_an_editors_day(
    page: Page, make_user: UserFactory, database: Database, live_server: LiveServer
) -> None:
    """Write with a task list, a footnote and a bare link; tag from a suggestion;
    schedule; publish; an editor edits, restores the author's first draft and the
    article stays published; deleted, it comes back from the trash."""
    author = make_user(name="Wanda Writer")
    editor = make_user(role=Role.EDITOR, name="Eddie Editor")
    database.run(
        actions.CreateArticle(
            draft=ArticleDraft(title="Old soup", status=ArticleStatus.PUBLISHED, tags=("Cooking",))
        ),
        actor=editor,
    )
    public = httpx.Client(base_url=f"http://127.0.0.1:{live_server.port}")

    # The writer writes, sees the preview as readers will, and tags from a suggestion.
    sign_in(page, author.email)
    page.goto("/admin/article/create")
    page.fill("#title", "Leek soup")
    page.fill("#body", DAY_BODY)
    preview = page.locator(".cms-preview-body")
    expect(preview.locator("input[type=checkbox][checked]")).to_have_count(1)
    expect(preview.locator("section[data-footnotes] li")).to_contain_text("grandmother")
    expect(preview.locator("a[href='http://www.example.org/soup']")).to_have_count(1)
    type_in_select2(page, "tags", "Coo", answered_by="/tag/suggest")
    page.locator(".select2-results__option", has_text="Cooking").click()
    save(page)
    expect(page.locator("body")).to_contain_text("Added “Leek soup”.")
    with database.sessionmaker() as session:
        article = session.scalars(select(Article).where(Article.title == "Leek soup")).one()
        assert [tag.name for tag in article.tags] == ["Cooking"]
        assert session.scalar(select(func.count()).select_from(Tag)) == 1
    assert article.state_at(utcnow()) is ArticleState.DRAFT
    # A footnote as github.com writes it, never a link whose address is the note's text.
    assert "data-footnote-ref" in article.body_html and 'href="My' not in article.body_html
    assert 'href="http://www.example.org/soup"' in article.body_html

    # Scheduled through the form's three states, then published at once.
    page.goto(f"/admin/article/edit/{article.id}")
    page.check("input[name=state][value=scheduled]")
    later = (utcnow() + timedelta(days=3)).strftime("%Y-%m-%d %H:%M:%S")
    _set_time(page, "#published_at", later)
    save(page)
    assert stored_state(database, article.id) is ArticleState.SCHEDULED
    assert public.get(f"/articles/{article.id}").status_code == 404
    page.goto("/admin/article/list")
    expect(page.locator("tr", has_text="Leek soup")).to_contain_text("Scheduled")
    page.goto(f"/admin/article/edit/{article.id}")
    save(page, "input[type=submit][value='Publish now']")
    expect(page.locator("body")).to_contain_text("Published “Leek soup”.")
    assert stored_state(database, article.id) is ArticleState.PUBLISHED
    assert public.get(f"/articles/{article.id}").status_code == 200
    page.click("text=Sign out")

    # The editor edits it, then brings back the writer's first draft: still published.
    sign_in(page, editor.email)
    page.goto(f"/admin/article/edit/{article.id}")
    page.fill("#body", "Rewritten by the editor.")
    save(page)
    page.goto(f"/admin/article/{article.id}/history")
    expect(page.locator("table")).to_contain_text("Scheduled")
    page.goto(f"/admin/article/{article.id}/history/1")
    restore = page.locator("form.cms-restore")
    expect(restore).to_contain_text("Keep it as it is now")
    expect(restore.locator("input[value=keep]")).to_be_checked()
    with page.expect_navigation():
        restore.locator("button[type=submit]").click()
    expect(page.locator("body")).to_contain_text("it is published now")
    shown = public.get(f"/articles/{article.id}")
    assert shown.status_code == 200 and shown.json()["body"] == DAY_BODY

    # Deleted by mistake, and undone from the trash.
    page.goto(f"/admin/article/confirm?action=delete&pks={article.id}")
    with page.expect_navigation():
        page.click("button.btn-danger")
    assert public.get(f"/articles/{article.id}").status_code == 404
    page.goto("/admin/trashed-article/list")
    expect(page.locator("table")).to_contain_text("Leek soup")
    with page.expect_navigation():
        page.click("button[aria-label='Restore “Leek soup”']")
    assert stored_state(database, article.id) is ArticleState.PUBLISHED
    assert public.get(f"/articles/{article.id}").json()["tags"] == ["Cooking"]
    public.close()


def stored_state(database: Database, article_id: int) -> ArticleState:
    with database.sessionmaker() as session:
        article = session.get(Article, article_id)
        assert article is not None
        return article.state_at(utcnow())


# Two-factor sign-in


def test_setting_up_two_factor_then_signing_in_with_password_and_code(
    page: Page, make_user: UserFactory, database: Database
) -> None:
    editor = make_user(role=Role.EDITOR, name="Tove Factor")
    sign_in(page, editor.email)
    page.goto("/admin/account")
    with page.expect_navigation():
        page.click("button:has-text('Set up two-factor sign-in')")
    page.wait_for_url("**/admin/account/two-factor")
    expect(page.locator(".cms-qr svg")).to_be_visible()
    # What a person types into their app: the key as the page shows it.
    shown = page.locator(".cms-totp-secret").inner_text()
    totp = pyotp.TOTP(shown.replace(" ", ""))
    page.fill("#code", totp.now())
    with page.expect_navigation():
        page.click("button:has-text('Turn on two-factor sign-in')")
    codes = page.locator(".cms-recovery-codes").inner_text().split()
    assert len(set(codes)) == 10
    with database.sessionmaker() as session:
        assert twofactor.has_second_factor(editor.id, session)

    page.goto("/admin/account")
    expect(page.locator(".cms-two-factor-state")).to_contain_text("On:")
    with page.expect_navigation():
        page.click("text=Sign out")
    page.wait_for_url("**/admin/login")

    page.fill("input[name=username]", editor.email)
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/login/code")
    page.goto("/admin/article/list")  # nothing opens before the code
    page.wait_for_url("**/admin/login*")
    page.go_back()
    page.wait_for_url("**/admin/login/code")
    # The next step's code: the one used to turn it on cannot be used again.
    page.fill("#code", totp.at(time.time(), counter_offset=1))
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/")
    expect(page.locator(".cms-account")).to_contain_text("Tove Factor")


def test_the_policy_walks_an_editor_through_setting_up_two_factor_at_sign_in(
    page: Page, make_user: UserFactory, database: Database
) -> None:
    admin = make_user(role=Role.ADMIN)
    sign_in(page, admin.email)
    page.goto("/admin/two-factor")
    page.check("input[name=required_for][value=staff]")
    with page.expect_navigation():
        page.click("button:has-text('Save')")
    with page.expect_navigation():
        page.click("text=Sign out")

    editor = make_user(role=Role.EDITOR, name="Eda Enrolled")
    page.fill("input[name=username]", editor.email)
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/login/enrol")
    expect(page.locator(".cms-qr svg")).to_be_visible()
    secret = page.locator(".cms-totp-secret").inner_text().replace(" ", "")
    page.fill("#code", pyotp.TOTP(secret).now())
    with page.expect_navigation():
        page.click("button:has-text('Turn on two-factor sign-in')")
    assert len(set(page.locator(".cms-recovery-codes").inner_text().split())) == 10
    with page.expect_navigation():
        page.click("text=I have saved them")
    page.wait_for_url("**/admin/account")
    expect(page.locator(".cms-two-factor-state")).to_contain_text("On:")
    expect(page.locator(".cms-account")).to_contain_text("Eda Enrolled")
    with database.sessionmaker() as session:
        assert twofactor.has_second_factor(editor.id, session)


def test_saving_the_site_settings_unchanged_in_the_browser_changes_nothing(
    page: Page, make_user: UserFactory, database: Database
) -> None:
    """The Site settings form as Chromium shows it (saved values, ten link rows, the logo
    choice), submitted untouched: the row, its time and the audit trail stay as they were."""
    from cms.audit.models import AuditEntry
    from cms.site_settings.models import SiteSettings
    from cms.site_settings.service import SiteSettingsChanges, UpdateSiteSettings
    from cms.site_settings.values import NavLink

    admin = make_user(role=Role.ADMIN)
    database.run(
        UpdateSiteSettings(
            changes=SiteSettingsChanges(
                name="Garden notes",
                description="Soil, seeds and weather",
                nav=(NavLink("Home", "/"), NavLink("About", "https://example.com/about")),
            )
        ),
        actor=admin,
    )

    def stored() -> tuple[Any, ...]:
        with database.sessionmaker() as session:
            row = session.get(SiteSettings, 1)
            assert row is not None
            entries = session.scalar(select(func.count()).select_from(AuditEntry))
            return (row.name, row.description, row.logo_id, row.nav, row.updated_at, entries)

    sign_in(page, admin.email)  # a sign-in is audited: counted before the save, not after
    page.goto("/admin/site-settings")
    before = stored()
    page.click("form.cms-site-settings button[type=submit]")
    page.wait_for_load_state()
    assert "/admin/site-settings" in page.url
    assert stored() == before
