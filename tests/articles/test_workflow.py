"""The editorial workflow over the API: revisions, the audit trail, lost-edit protection,
tags, slug history and the trash."""

import json
from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select, update

from cms.articles.models import ArticleRevision, TrashedArticle
from cms.audit.models import AuditEntry
from cms.db import Database, utcnow
from cms.roles import Role
from tests.conftest import DEFAULT_PASSWORD, UserFactory, failing_commits

Login = Callable[..., dict[str, str]]


def entries(database: Database, **where: object) -> list[AuditEntry]:
    with database.sessionmaker() as session:
        stmt = select(AuditEntry).order_by(AuditEntry.id)
        for field, value in where.items():
            stmt = stmt.where(getattr(AuditEntry, field) == value)
        return list(session.scalars(stmt))


def count(database: Database, model: type) -> int:
    with database.sessionmaker() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


# Revisions


def test_every_save_is_a_numbered_revision_and_a_restore_is_one_too(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    author = make_user(name="Rita Writer")
    headers = login(author)
    article = api.post(
        "/articles/", json={"title": "First", "body": "one", "tags": ["a"]}, headers=headers
    ).json()
    url = f"/articles/{article['id']}"
    api.patch(url, json={"title": "Second", "body": "two"}, headers=headers)
    api.patch(url, json={"status": "published"}, headers=headers)

    history = api.get(f"{url}/revisions", headers=headers).json()
    assert [(r["number"], r["title"], r["status"]) for r in history] == [
        (3, "Second", "published"),
        (2, "Second", "draft"),
        (1, "First", "draft"),
    ]
    assert {r["saved_by"] for r in history} == {"Rita Writer"}
    first = api.get(f"{url}/revisions/1", headers=headers).json()
    assert first["body"] == "one" and first["tags"] == ["a"] and first["slug"] == "first"

    restored = api.post(f"{url}/revisions/1/restore", headers=headers)
    assert restored.status_code == 200
    assert restored.json()["title"] == "First" and restored.json()["body"] == "one"
    latest = api.get(f"{url}/revisions", headers=headers).json()[0]
    assert latest["number"] == 4 and latest["title"] == "First"

    assert api.get(f"{url}/revisions/99", headers=headers).status_code == 404
    assert api.post(f"{url}/revisions/99/restore", headers=headers).status_code == 404


def test_restoring_a_draft_revision_of_a_published_article_keeps_it_published(
    api: httpx.Client, make_user: UserFactory, login: Login, database: Database
) -> None:
    """Restore brings back content; only the request may change the publication."""
    headers = login(make_user())
    article = api.post("/articles/", json={"title": "Draft words"}, headers=headers).json()
    url = f"/articles/{article['id']}"
    published = api.patch(
        url, json={"title": "Published words", "status": "published"}, headers=headers
    ).json()

    restored = api.post(f"{url}/revisions/1/restore", headers=headers)
    assert restored.status_code == 200
    assert restored.json()["title"] == "Draft words"
    assert restored.json()["status"] == "published"
    assert restored.json()["published_at"] == published["published_at"]
    public = api.get(url)
    assert public.status_code == 200 and public.json()["title"] == "Draft words"
    assert entries(database)[-1].action == "restore"

    # Asked for, the restore unpublishes too: a draft carries no time.
    as_draft = api.post(f"{url}/revisions/2/restore", json={"state": "draft"}, headers=headers)
    assert as_draft.status_code == 200
    assert as_draft.json()["title"] == "Published words"
    assert as_draft.json()["status"] == "draft" and as_draft.json()["published_at"] is None
    assert api.get(url).status_code == 404

    later = (utcnow() + timedelta(days=1)).isoformat()
    scheduled = api.post(
        f"{url}/revisions/1/restore",
        json={"state": "scheduled", "published_at": later},
        headers=headers,
    ).json()
    assert (
        scheduled["status"] == "published" and scheduled["published_at"] > published["published_at"]
    )
    history = api.get(f"{url}/revisions", headers=headers).json()
    assert history[0]["state"] == "scheduled" and history[1]["state"] == "draft"

    # A body says which state it asks for; a time alone is a mistake worth saying.
    vague = api.post(f"{url}/revisions/1/restore", json={"published_at": later}, headers=headers)
    assert vague.status_code == 422


def test_each_change_of_state_is_recorded_under_its_own_name(
    api: httpx.Client, make_user: UserFactory, login: Login, database: Database
) -> None:
    headers = login(make_user())
    url = f"/articles/{api.post('/articles/', json={'title': 'T'}, headers=headers).json()['id']}"
    later = (utcnow() + timedelta(days=2)).isoformat()
    steps = [
        ({"status": "published", "published_at": later}, "schedule", "scheduled"),
        ({"published_at": (utcnow() + timedelta(days=3)).isoformat()}, "schedule", "scheduled"),
        # "Publish now" on a scheduled article: a time to come becomes now.
        ({"published_at": None}, "publish", "published"),
        ({"title": "T2"}, "update", "published"),
        ({"status": "draft"}, "unpublish", "draft"),
    ]
    for change, action, state in steps:
        response = api.patch(url, json=change, headers=headers)
        assert response.status_code == 200, response.text
        assert entries(database, object_type="article")[-1].action == action, change
        assert api.get(f"{url}/revisions", headers=headers).json()[0]["state"] == state
    # Unpublished, it carries no publication time: nothing still "to come".
    assert api.get(url, headers=headers).json()["published_at"] is None
    # A draft has no time: giving one is refused, saying how to schedule instead.
    refused = api.patch(url, json={"published_at": later}, headers=headers)
    assert refused.status_code == 422 and "status=published" in refused.text
    assert api.get(url, headers=headers).json()["published_at"] is None


def test_history_is_for_those_who_may_edit_the_article(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    author, stranger, editor = make_user(), make_user(), make_user(role=Role.EDITOR)
    draft = api.post("/articles/", json={"title": "Secret draft"}, headers=login(author)).json()
    url = f"/articles/{draft['id']}/revisions"
    assert api.get(url).status_code == 401
    assert api.get(url, headers=login(stranger)).status_code == 404
    assert api.post(f"{url}/1/restore", headers=login(stranger)).status_code == 404
    assert api.get(url, headers=login(editor)).status_code == 200

    # Published, the article is everyone's to read; what was taken out of it is not.
    article_url = f"/articles/{draft['id']}"
    api.patch(
        article_url,
        json={"body": "my password is hunter2", "status": "published"},
        headers=login(author),
    )
    api.patch(article_url, json={"body": "nothing to see"}, headers=login(author))
    assert api.get(article_url).status_code == 200
    assert api.get(url).status_code == 401
    refused = api.get(f"{url}/2", headers=login(stranger))
    assert refused.status_code == 403 and "hunter2" not in refused.text
    assert api.get(f"{url}/2", headers=login(author)).json()["body"] == "my password is hunter2"
    assert len(api.get(url, headers=login(editor)).json()) == 3


def test_the_history_comes_a_page_at_a_time_without_bodies(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    headers = login(make_user())
    article = api.post("/articles/", json={"title": "v1", "body": "x" * 50_000}, headers=headers)
    url = f"/articles/{article.json()['id']}"
    for number in range(2, 6):
        api.patch(url, json={"title": f"v{number}"}, headers=headers)
    first = api.get(f"{url}/revisions?limit=2", headers=headers)
    assert [r["title"] for r in first.json()] == ["v5", "v4"]
    assert "xxxx" not in first.text and "body" not in first.json()[0]
    rest = api.get(f"{url}/revisions?skip=2&limit=100", headers=headers).json()
    assert [r["title"] for r in rest] == ["v3", "v2", "v1"]
    assert api.get(f"{url}/revisions?limit=101", headers=headers).status_code == 422


def test_history_survives_its_authors_deactivation(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    author, admin = make_user(name="Gone Soon"), make_user(role=Role.ADMIN)
    article = api.post(
        "/articles/", json={"title": "Lasting", "status": "published"}, headers=login(author)
    ).json()
    admin_headers = login(admin)
    api.patch(f"/users/{author.id}", json={"is_active": False}, headers=admin_headers)
    history = api.get(f"/articles/{article['id']}/revisions", headers=admin_headers).json()
    assert [r["saved_by"] for r in history] == ["Gone Soon"]


# The audit trail


def test_writes_are_audited_with_their_fields_but_never_secrets(
    api: httpx.Client, make_user: UserFactory, login: Login, database: Database
) -> None:
    admin = make_user(role=Role.ADMIN, name="The Admin")
    headers = login(admin)
    created = api.post(
        "/users/", json={"email": "new@example.com", "password": "first password"}, headers=headers
    ).json()
    api.patch(f"/users/{created['id']}", json={"role": "editor"}, headers=headers)
    api.patch(f"/users/{created['id']}", json={"password": "second password"}, headers=headers)
    article = api.post("/articles/", json={"title": "Audited"}, headers=headers).json()
    api.patch(f"/articles/{article['id']}", json={"status": "published"}, headers=headers)
    api.patch(f"/articles/{article['id']}", json={"status": "draft"}, headers=headers)
    api.delete(f"/articles/{article['id']}", headers=headers)

    actions = [(e.action, e.object_type) for e in entries(database) if e.action != "login"]
    assert actions == [
        ("create", "user"),
        ("role_change", "user"),
        ("password_change", "user"),
        ("create", "article"),
        ("publish", "article"),
        ("unpublish", "article"),
        ("delete", "article"),
    ]
    every = entries(database)
    assert all(e.actor_id == admin.id and e.actor_name == "The Admin" for e in every)
    assert all(e.surface == "api" and e.address == "127.0.0.1" and e.request_id for e in every)
    role_change = next(e for e in every if e.action == "role_change")
    assert json.loads(role_change.changes) == {"role": ["author", "editor"]}
    text = " ".join(e.changes + e.object_repr for e in every)
    for secret in ("first password", "second password", "$argon2", "hashed_password"):
        assert secret not in text
    password_change = next(e for e in every if e.action == "password_change")
    assert json.loads(password_change.changes) == {"password": "(changed)"}


def test_sign_ins_are_audited_success_and_failure(
    api: httpx.Client, make_user: UserFactory, database: Database
) -> None:
    user = make_user()
    api.post("/auth/token", data={"username": user.email, "password": "wrong one"})
    api.post("/auth/token", data={"username": "ghost@example.com", "password": "wrong one"})
    api.post("/auth/token", data={"username": user.email, "password": DEFAULT_PASSWORD})
    trail = [(e.action, e.object_id, e.object_repr) for e in entries(database)]
    assert trail == [
        ("login_failed", user.id, user.email),
        ("login_failed", None, "ghost@example.com"),
        ("login", user.id, user.email),
    ]
    assert "wrong one" not in " ".join(e.changes for e in entries(database))


def test_a_failed_commit_leaves_no_revision_and_no_audit_entry(
    api: httpx.Client, make_user: UserFactory, login: Login, database: Database
) -> None:
    headers = login(make_user())
    article = api.post("/articles/", json={"title": "Stays as is"}, headers=headers).json()
    before = (count(database, ArticleRevision), count(database, AuditEntry))

    with failing_commits(database):
        response = api.patch(
            f"/articles/{article['id']}", json={"title": "Never saved"}, headers=headers
        )
    assert response.status_code == 500
    assert (count(database, ArticleRevision), count(database, AuditEntry)) == before
    assert api.get(f"/articles/{article['id']}", headers=headers).json()["title"] == "Stays as is"


# No lost edits


def test_a_stale_if_match_is_412_and_changes_nothing(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    headers = login(make_user())
    created = api.post("/articles/", json={"title": "Shared"}, headers=headers)
    first_etag = created.headers["etag"]
    url = f"/articles/{created.json()['id']}"
    assert api.get(url, headers=headers).headers["etag"] == first_etag
    saved = api.patch(url, json={"title": "Mine"}, headers={**headers, "If-Match": first_etag})
    assert saved.status_code == 200 and saved.headers["etag"] != first_etag

    lost = api.patch(url, json={"title": "Theirs"}, headers={**headers, "If-Match": first_etag})
    assert lost.status_code == 412
    assert api.delete(url, headers={**headers, "If-Match": first_etag}).status_code == 412
    assert api.get(url, headers=headers).json()["title"] == "Mine"
    for garbage in ['"not-ours"', "W/", "12"]:
        refused = api.patch(url, json={"title": "X"}, headers={**headers, "If-Match": garbage})
        assert refused.status_code == 412
    current = api.get(url, headers=headers).headers["etag"]
    assert api.patch(url, json={"title": "Ok"}, headers={**headers, "If-Match": current}).is_success


def test_a_renamed_author_changes_the_etag(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    author = make_user(name="Old Name")
    headers = login(author)
    article = api.post(
        "/articles/", json={"title": "Byline", "status": "published"}, headers=headers
    )
    url = f"/articles/{article.json()['id']}"
    etag = api.get(url).headers["etag"]
    assert api.get(url, headers={"If-None-Match": etag}).status_code == 304
    api.patch(f"/users/{author.id}", json={"name": "New Name"}, headers=headers)
    fresh = api.get(url, headers={"If-None-Match": etag})
    assert fresh.status_code == 200 and fresh.json()["author"] == "New Name"


# Tags


def test_tags_are_cleaned_and_shared(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    headers = login(make_user())
    first = api.post(
        "/articles/",
        json={
            "title": "Tagged",
            "status": "published",
            "tags": ["Machine  Learning", " machine learning", "", "   ", "Python", "python"],
        },
        headers=headers,
    ).json()
    assert first["tags"] == ["Machine Learning", "Python"]
    second = api.post(
        "/articles/",
        json={"title": "Also tagged", "status": "published", "tags": ["PYTHON", "🙂"]},
        headers=headers,
    ).json()
    assert second["tags"] == ["Python", "🙂"]  # one tag however typed; the first spelling
    draft = api.post("/articles/", json={"title": "Hidden", "tags": ["Python"]}, headers=headers)
    assert draft.status_code == 201
    tags = {tag["slug"]: tag for tag in api.get("/tags/").json()}
    assert tags["python"] == {"name": "Python", "slug": "python", "article_count": 2}
    assert tags["machine-learning"]["article_count"] == 1
    listed = [a["title"] for a in api.get("/articles/?tag=python").json()]
    assert sorted(listed) == ["Also tagged", "Tagged"]
    updated = api.patch(f"/articles/{first['id']}", json={"tags": []}, headers=headers)
    assert updated.json()["tags"] == []
    assert "machine-learning" not in {tag["slug"] for tag in api.get("/tags/").json()}


@pytest.mark.parametrize(
    "tags",
    [[f"tag {n}" for n in range(21)], ["x" * 51]],
    ids=["too many", "too long"],
)
def test_tag_limits_are_422(
    api: httpx.Client, make_user: UserFactory, login: Login, tags: list[str]
) -> None:
    response = api.post("/articles/", json={"title": "T", "tags": tags}, headers=login(make_user()))
    assert response.status_code == 422


# Slugs


def test_an_old_slug_redirects_and_is_not_reused_by_accident(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    headers = login(make_user())
    article = api.post(
        "/articles/", json={"title": "Moving Day", "status": "published"}, headers=headers
    ).json()
    assert article["slug"] == "moving-day"
    api.patch(f"/articles/{article['id']}", json={"slug": "new-home"}, headers=headers)
    moved = api.get("/articles/slug/moving-day", follow_redirects=False)
    assert moved.status_code == 301
    assert moved.headers["location"] == "/articles/slug/new-home"
    assert api.get("/articles/slug/moving-day", follow_redirects=True).json()["id"] == article["id"]

    same_title = api.post("/articles/", json={"title": "Moving Day"}, headers=headers).json()
    assert same_title["slug"] == "moving-day-2"  # the old address keeps pointing home
    deliberate = api.post(
        "/articles/", json={"title": "Another", "slug": "moving-day"}, headers=headers
    )
    assert deliberate.status_code == 201 and deliberate.json()["slug"] == "moving-day"
    assert api.get("/articles/slug/moving-day", headers=headers).json()["title"] == "Another"


def test_going_back_to_an_earlier_slug_and_restoring_across_slugs_work(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    headers = login(make_user())
    article = api.post("/articles/", json={"title": "Round trip"}, headers=headers).json()
    url = f"/articles/{article['id']}"
    assert api.patch(url, json={"slug": "round-trip-b"}, headers=headers).status_code == 200
    back = api.patch(url, json={"slug": "round-trip"}, headers=headers)
    assert back.status_code == 200 and back.json()["slug"] == "round-trip"
    api.patch(url, json={"slug": "round-trip-c", "title": "Renamed"}, headers=headers)
    restored = api.post(f"{url}/revisions/1/restore", headers=headers)
    assert restored.status_code == 200, restored.text
    assert (restored.json()["slug"], restored.json()["title"]) == ("round-trip", "Round trip")
    # Every address it had still leads to it.
    for old in ("round-trip-b", "round-trip-c"):
        moved = api.get(f"/articles/slug/{old}", headers=headers, follow_redirects=False)
        assert moved.headers["location"] == "/articles/slug/round-trip", old


def test_another_authors_old_address_cannot_be_taken_over(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    """An old slug still redirects the article's readers: only someone who may edit that
    article may end the redirect by taking the slug."""
    editor, stranger = make_user(role=Role.EDITOR), make_user()
    article = api.post(
        "/articles/",
        json={"title": "Big news", "status": "published"},
        headers=login(editor),
    ).json()
    api.patch(f"/articles/{article['id']}", json={"slug": "big-news-2026"}, headers=login(editor))
    hijack = api.post(
        "/articles/",
        json={"title": "Phish", "slug": "big-news", "status": "published"},
        headers=login(stranger),
    )
    assert hijack.status_code == 409
    own = api.post("/articles/", json={"title": "Mine"}, headers=login(stranger)).json()
    renamed = api.patch(
        f"/articles/{own['id']}", json={"slug": "big-news"}, headers=login(stranger)
    )
    assert renamed.status_code == 409
    moved = api.get("/articles/slug/big-news", follow_redirects=False)
    assert moved.headers["location"] == "/articles/slug/big-news-2026"
    # The editor, who may edit both, may.
    taken = api.patch(f"/articles/{own['id']}", json={"slug": "big-news"}, headers=login(editor))
    assert taken.status_code == 200


def test_a_title_that_slugifies_to_nothing_still_gets_a_slug(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    article = api.post("/articles/", json={"title": "!!! ???"}, headers=login(make_user()))
    assert article.status_code == 201 and article.json()["slug"] == "article"


# The trash


def test_a_deleted_article_waits_in_the_trash_and_comes_back_whole(
    api: httpx.Client, make_user: UserFactory, login: Login, database: Database
) -> None:
    author, admin, editor = make_user(), make_user(role=Role.ADMIN), make_user(role=Role.EDITOR)
    headers = login(author)
    article = api.post(
        "/articles/",
        json={"title": "Oops", "status": "published", "tags": ["Keep"]},
        headers=headers,
    ).json()
    api.patch(f"/articles/{article['id']}", json={"body": "edited"}, headers=headers)
    assert api.delete(f"/articles/{article['id']}", headers=headers).status_code == 204
    assert api.get(f"/articles/{article['id']}").status_code == 404
    assert api.get("/articles/slug/oops").status_code == 404

    # The author deleted it: an editor who did not sees nothing of it.
    assert api.get("/trash/articles/", headers=login(editor)).json() == []
    admin_headers = login(admin)
    trash = api.get("/trash/articles/", headers=admin_headers)
    assert [item["id"] for item in trash.json()] == [article["id"]]
    assert trash.headers["x-total-count"] == "1"

    restored = api.post(f"/trash/articles/{article['id']}/restore", headers=admin_headers)
    assert restored.status_code == 200
    back = restored.json()
    assert (back["id"], back["slug"], back["body"], back["tags"]) == (
        article["id"],
        "oops",
        "edited",
        ["Keep"],
    )
    history = api.get(f"/articles/{article['id']}/revisions", headers=admin_headers).json()
    assert [r["number"] for r in history] == [3, 2, 1]
    assert api.get("/trash/articles/", headers=admin_headers).json() == []


def test_the_trash_over_the_api_gives_each_their_own_deletes_and_admins_all(
    api: httpx.Client, make_user: UserFactory, login: Login, database: Database
) -> None:
    admin, editor, other_editor = (
        make_user(role=Role.ADMIN),
        make_user(role=Role.EDITOR),
        make_user(role=Role.EDITOR),
    )
    author = make_user()
    as_admin, as_editor, as_other, as_author = (
        login(admin),
        login(editor),
        login(other_editor),
        login(author),
    )
    ids = {}
    for name, headers in [("editor", as_editor), ("other", as_other), ("author", as_author)]:
        made = api.post("/articles/", json={"title": f"By {name}"}, headers=as_author).json()
        assert api.delete(f"/articles/{made['id']}", headers=headers).status_code == 204
        ids[name] = made["id"]

    def listed(headers: dict[str, str]) -> list[int]:
        response = api.get("/trash/articles/", headers=headers)
        assert response.status_code == 200
        assert response.headers["x-total-count"] == str(len(response.json()))
        return sorted(item["id"] for item in response.json())

    assert listed(as_admin) == sorted(ids.values())
    assert listed(as_editor) == [ids["editor"]]
    assert listed(as_author) == [ids["author"]]
    # Another's deletion answers as missing; purging is for admins, even of one's own.
    assert api.post(f"/trash/articles/{ids['other']}/restore", headers=as_editor).status_code == 404
    assert api.delete(f"/trash/articles/{ids['editor']}", headers=as_editor).status_code == 403
    assert api.delete(f"/trash/articles/{ids['author']}", headers=as_author).status_code == 403
    assert count(database, TrashedArticle) == 3

    restored = api.post(f"/trash/articles/{ids['editor']}/restore", headers=as_editor)
    assert restored.status_code == 200 and restored.json()["title"] == "By editor"
    assert api.get(f"/articles/{ids['editor']}", headers=as_editor).status_code == 200
    assert (
        api.post(f"/trash/articles/{ids['author']}/restore", headers=as_author).status_code == 200
    )
    assert api.post(f"/trash/articles/{ids['other']}/restore", headers=as_admin).status_code == 200
    assert count(database, TrashedArticle) == 0
    assert [e.actor_id for e in entries(database, action="undelete")] == [
        editor.id,
        author.id,
        admin.id,
    ]


def test_purging_is_final_and_audited(
    api: httpx.Client, make_user: UserFactory, login: Login, database: Database
) -> None:
    admin = make_user(role=Role.ADMIN)
    headers = login(admin)
    article = api.post("/articles/", json={"title": "Doomed"}, headers=headers).json()
    api.delete(f"/articles/{article['id']}", headers=headers)
    assert api.delete(f"/trash/articles/{article['id']}", headers=headers).status_code == 204
    assert api.post(f"/trash/articles/{article['id']}/restore", headers=headers).status_code == 404
    assert count(database, TrashedArticle) == 0
    with database.sessionmaker() as session:
        assert (
            session.scalar(select(func.count()).where(ArticleRevision.article_id == article["id"]))
            == 0
        )
    assert [e.action for e in entries(database, object_type="article")] == [
        "create",
        "delete",
        "purge",
    ]


def test_the_trash_forgets_after_thirty_days(
    api: httpx.Client, make_user: UserFactory, login: Login, database: Database
) -> None:
    admin = make_user(role=Role.ADMIN)
    headers = login(admin)
    old = api.post("/articles/", json={"title": "Long gone"}, headers=headers).json()
    api.delete(f"/articles/{old['id']}", headers=headers)
    with database.transaction() as session:
        session.execute(update(TrashedArticle).values(deleted_at=utcnow() - timedelta(days=31)))
    assert api.get("/trash/articles/", headers=headers).json() == []
    assert api.post(f"/trash/articles/{old['id']}/restore", headers=headers).status_code == 404
    recent = api.post("/articles/", json={"title": "Just now"}, headers=headers).json()
    api.delete(f"/articles/{recent['id']}", headers=headers)  # the next delete sweeps
    assert count(database, TrashedArticle) == 1
