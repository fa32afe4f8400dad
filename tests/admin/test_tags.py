"""Tags in the back office: suggestions as an editor types, the Tags view (rename, merge,
delete, each audited under its own name and keeping the counts right), and the article
list's Tags column and filter."""

import json

import httpx
import pytest
from sqlalchemy import select

from cms.articles import actions
from cms.articles.changes import ArticleDraft
from cms.articles.models import Article, ArticleRevision, ArticleStatus, Tag
from cms.audit.models import AuditEntry
from cms.db import Database
from cms.roles import Role
from cms.users.models import User
from tests.admin.browser_forms import form_on, post_form, submit
from tests.admin.conftest import signed_in
from tests.admin.test_editorial import act
from tests.conftest import UserFactory


def write(database: Database, author: User, title: str, *tags: str) -> Article:
    draft = ArticleDraft(title=title, status=ArticleStatus.PUBLISHED, tags=tags)
    return database.run(actions.CreateArticle(draft=draft), actor=author)


def tags_by_name(database: Database) -> dict[str, tuple[int, int]]:
    with database.sessionmaker() as session:
        return {t.name: (t.published_count, t.tagged_count) for t in session.scalars(select(Tag))}


def tags_of(database: Database, article: Article) -> list[str]:
    with database.sessionmaker() as session:
        found = session.get(Article, article.id)
        assert found is not None
        return sorted(tag.name for tag in found.tags)


def audited(database: Database) -> list[tuple[str, str]]:
    with database.sessionmaker() as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.object_type == "tag").order_by(AuditEntry.id)
        )
        return [(entry.action, entry.object_repr) for entry in entries]


def tag_id(database: Database, name: str) -> int:
    with database.sessionmaker() as session:
        found = session.scalar(select(Tag.id).where(Tag.name == name))
        assert found is not None
        return found


def test_the_tag_box_suggests_existing_tags_as_the_editor_types(
    browser: httpx.Client, make_user: UserFactory, database: Database
) -> None:
    editor = make_user(role=Role.EDITOR)
    write(database, editor, "One", "Cooking", "cookies", "Cars", "100%", "Travel")
    database.run(
        actions.CreateArticle(draft=ArticleDraft(title="Draft", tags=("Cook book",))),
        actor=editor,
    )
    assert browser.get("/admin/tag/suggest?q=Coo").status_code in (302, 303)  # signed out
    signed_in(browser, editor)

    def suggested(q: str) -> list[str]:
        response = browser.get("/admin/tag/suggest", params={"q": q})
        assert response.status_code == 200, response.text
        return [item["text"] for item in response.json()["results"]]

    assert sorted(suggested("Coo"), key=str.casefold) == ["Cook book", "cookies", "Cooking"]
    assert sorted(suggested("cook")) == sorted(suggested("COOK"))
    assert suggested("%") == [] and suggested("100%") == ["100%"]
    assert suggested("") == [] and suggested("   ") == []
    assert suggested("x" * 500) == []
    # The article form's box asks that address as the editor types.
    form = browser.get("/admin/article/create").text
    assert 'data-ajax--url="/admin/tag/suggest"' in form


def test_the_tags_view_lists_every_tag_with_its_counts(
    browser: httpx.Client, make_user: UserFactory, database: Database
) -> None:
    editor = make_user(role=Role.EDITOR)
    write(database, editor, "One", "Cooking")
    write(database, editor, "Two", "Cooking", "Travel")
    signed_in(browser, editor)
    page = browser.get("/admin/tag/list?sortBy=published_count&sort=desc")
    assert page.status_code == 200
    assert page.text.index("Cooking") < page.text.index("Travel")
    assert "Published articles" in page.text
    assert "Travel" not in browser.get("/admin/tag/list?search=coo").text
    with httpx.Client(base_url=str(browser.base_url)) as anonymous:
        assert anonymous.get("/admin/tag/list").status_code in (302, 303)


def test_renaming_a_tag_changes_it_on_every_article_and_keeps_their_history(
    browser: httpx.Client, make_user: UserFactory, database: Database
) -> None:
    editor = make_user(role=Role.EDITOR)
    article = write(database, editor, "One", "Cook")
    signed_in(browser, editor)
    tag = tag_id(database, "Cook")
    response = submit(browser, f"/admin/tag/edit/{tag}", name="Cooking")
    assert response.status_code == 302, response.text
    assert tags_of(database, article) == ["Cooking"]
    assert tags_by_name(database) == {"Cooking": (1, 1)}
    with database.sessionmaker() as session:
        revisions = session.scalars(select(ArticleRevision.tags)).all()
        current = session.get(Article, article.id)
    assert [json.loads(tags) for tags in revisions] == [["Cook"]]  # history as it was
    assert current is not None and current.version == article.version + 1  # a new ETag
    assert audited(database) == [("tag.rename", "Cooking")]
    assert browser.get(f"/articles/{article.id}").json()["tags"] == ["Cooking"]

    # A name another tag has already: refused, with what to do instead.
    write(database, editor, "Two", "Travel")
    refused = submit(browser, f"/admin/tag/edit/{tag}", name="travel")
    assert refused.status_code == 400 and "merge" in refused.text
    assert tags_of(database, article) == ["Cooking"]


def test_merging_two_tags_into_one(
    browser: httpx.Client, make_user: UserFactory, database: Database
) -> None:
    editor = make_user(role=Role.EDITOR)
    both = write(database, editor, "Both", "Cook", "Cooking")
    only_cook = write(database, editor, "Only cook", "Cook", "Travel")
    only_cooking = write(database, editor, "Only cooking", "Cooking")
    signed_in(browser, editor)
    cook, cooking = tag_id(database, "Cook"), tag_id(database, "Cooking")
    confirmation = browser.get(f"/admin/tag/confirm?action=merge&pk={cook}&pk={cooking}")
    form = form_on(confirmation, "/act/merge")
    response = post_form(browser, form.action, form.with_changes(into=str(cooking)))
    assert response.status_code == 302
    assert "Merged" in browser.get(response.headers["location"]).text
    assert tags_of(database, both) == ["Cooking"]
    assert tags_of(database, only_cook) == ["Cooking", "Travel"]
    assert tags_of(database, only_cooking) == ["Cooking"]
    assert tags_by_name(database) == {"Cooking": (3, 3), "Travel": (1, 1)}
    assert audited(database) == [("tag.merge", "Cooking")]
    with database.sessionmaker() as session:
        revisions = session.scalars(
            select(ArticleRevision.tags).where(ArticleRevision.article_id == only_cook.id)
        ).all()
    assert [json.loads(tags) for tags in revisions] == [["Cook", "Travel"]]
    assert {t["name"]: t["article_count"] for t in browser.get("/tags/").json()} == {
        "Cooking": 3,
        "Travel": 1,
    }


def test_merging_needs_two_tags_and_one_of_them_to_keep(
    browser: httpx.Client, make_user: UserFactory, database: Database
) -> None:
    editor = make_user(role=Role.EDITOR)
    write(database, editor, "One", "Cook", "Cooking")
    signed_in(browser, editor)
    cook, cooking = tag_id(database, "Cook"), tag_id(database, "Cooking")
    form = form_on(browser.get(f"/admin/tag/confirm?action=merge&pk={cook}"), "/act/merge")
    alone = post_form(browser, form.action, form.fields)
    assert "at least two tags" in browser.get(alone.headers["location"]).text
    form = form_on(
        browser.get(f"/admin/tag/confirm?action=merge&pk={cook}&pk={cooking}"), "/act/merge"
    )
    elsewhere = post_form(browser, form.action, form.with_changes(into="999999"))
    assert "one of the chosen tags" in browser.get(elsewhere.headers["location"]).text
    assert tags_by_name(database) == {"Cook": (1, 1), "Cooking": (1, 1)}
    assert audited(database) == []


def test_deleting_a_tag_takes_it_off_every_article(
    browser: httpx.Client, make_user: UserFactory, database: Database
) -> None:
    editor = make_user(role=Role.EDITOR)
    article = write(database, editor, "One", "Spam", "Keep")
    signed_in(browser, editor)
    response = act(browser, "tag", "delete", tag_id(database, "Spam"))
    assert response.status_code == 302
    assert tags_of(database, article) == ["Keep"]
    assert tags_by_name(database) == {"Keep": (1, 1)}
    assert audited(database) == [("tag.delete", "Spam")]


def test_tag_actions_need_the_csrf_token(
    browser: httpx.Client, make_user: UserFactory, database: Database
) -> None:
    editor = make_user(role=Role.EDITOR)
    write(database, editor, "One", "Spam")
    signed_in(browser, editor)
    spam = tag_id(database, "Spam")
    assert browser.post("/admin/tag/act/delete", data={"pks": str(spam)}).status_code == 403
    assert browser.post(f"/admin/tag/edit/{spam}", data={"name": "Ham"}).status_code == 403
    assert tags_by_name(database) == {"Spam": (1, 1)}


@pytest.mark.parametrize("role", [Role.EDITOR, Role.ADMIN])
def test_the_article_list_shows_and_filters_by_tag(
    browser: httpx.Client, make_user: UserFactory, database: Database, role: Role
) -> None:
    editor = make_user(role=role)
    write(database, editor, "About food", "Cooking", "Recipes")
    write(database, editor, "About trips", "Travel")
    signed_in(browser, editor)
    listed = browser.get("/admin/article/list").text
    assert "Cooking, Recipes" in listed
    filtered = browser.get("/admin/article/list?tag=cooking").text
    assert "About food" in filtered and "About trips" not in filtered
    assert 'href="/admin/article/list?tag=travel"' in listed or "tag=travel" in listed
    assert "About food" not in browser.get("/admin/article/list?tag=nothing-like-it").text
