"""The /articles/ endpoints over real HTTP: drafts, publishing, slugs, permissions, limits."""

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import update

from cms.articles.models import Article
from cms.db import Database
from cms.roles import Role
from tests.conftest import UserFactory

Login = Callable[..., dict[str, str]]


def create(api: httpx.Client, headers: dict[str, str], **fields: object) -> dict[str, object]:
    response = api.post("/articles/", json={"title": "A title", **fields}, headers=headers)
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def test_new_article_is_a_draft_with_a_slug_and_location(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    author = make_user(name="Jane Writer")
    response = api.post("/articles/", json={"title": "Band geeks"}, headers=login(author))
    assert response.status_code == 201
    article = response.json()
    assert response.headers["location"] == f"/articles/{article['id']}"
    assert article["status"] == "draft"
    assert article["published_at"] is None
    assert article["slug"] == "band-geeks"
    assert article["author_id"] == author.id
    assert article["author"] == "Jane Writer"
    assert author.email not in response.text
    assert article["tags"] == [] and article["version"] == 1
    assert article["url"] == "/posts/band-geeks"
    assert set(article) == {
        "id",
        "title",
        "slug",
        "url",
        "body",
        "body_html",
        "status",
        "published_at",
        "created_at",
        "updated_at",
        "author_id",
        "author",
        "tags",
        "version",
        "cover_image",
    }


def test_writing_needs_a_token(api: httpx.Client) -> None:
    response = api.post("/articles/", json={"title": "Anonymous"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_drafts_are_invisible_to_anonymous_readers_and_other_authors(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    author, other, editor = make_user(), make_user(), make_user(role=Role.EDITOR)
    draft = create(api, login(author))
    path = f"/articles/{draft['id']}"
    assert api.get(path).status_code == 404
    assert api.get(path, headers=login(other)).status_code == 404
    assert api.get(path, headers=login(author)).status_code == 200
    assert api.get(path, headers=login(editor)).status_code == 200
    assert api.get("/articles/").json() == []


def test_publishing_makes_an_article_public(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    author = make_user()
    headers = login(author)
    draft = create(api, headers)
    before = datetime.now(UTC)
    response = api.patch(f"/articles/{draft['id']}", json={"status": "published"}, headers=headers)
    assert response.status_code == 200
    published = response.json()
    assert published["status"] == "published"
    published_at = datetime.fromisoformat(published["published_at"])
    assert before - timedelta(seconds=5) <= published_at <= datetime.now(UTC)
    assert published["version"] == 2
    assert api.get(f"/articles/{draft['id']}").json()["title"] == "A title"
    assert [a["id"] for a in api.get("/articles/").json()] == [draft["id"]]


def test_scheduled_articles_stay_hidden_until_their_time(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    headers = login(make_user())
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    scheduled = create(api, headers, title="Tomorrow", status="published", published_at=future)
    live = create(api, headers, title="Yesterday", status="published", published_at=past)
    assert api.get(f"/articles/{scheduled['id']}").status_code == 404
    assert [a["id"] for a in api.get("/articles/").json()] == [live["id"]]


def test_listing_is_newest_first_and_paginates(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    headers = login(make_user())
    now = datetime.now(UTC)
    ids = [
        create(
            api,
            headers,
            title=f"Article {n}",
            status="published",
            published_at=(now - timedelta(hours=n)).isoformat(),
        )["id"]
        for n in range(5)
    ]
    assert [a["id"] for a in api.get("/articles/").json()] == ids
    assert [a["id"] for a in api.get("/articles/?skip=1&limit=2").json()] == ids[1:3]
    for bad in ["limit=0", "limit=101", "skip=-1", "limit=abc", "author_id=0"]:
        assert api.get(f"/articles/?{bad}").status_code == 422, bad


def test_listing_filters_by_author(api: httpx.Client, make_user: UserFactory, login: Login) -> None:
    alice, bob = make_user(), make_user()
    mine = create(api, login(alice), status="published")
    create(api, login(bob), status="published")
    listed = api.get(f"/articles/?author_id={alice.id}").json()
    assert [a["id"] for a in listed] == [mine["id"]]


def test_slugs_are_unique_transliterated_and_url_safe(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    headers = login(make_user())
    slugs = [create(api, headers, title="Hello World")["slug"] for _ in range(3)]
    assert slugs == ["hello-world", "hello-world-2", "hello-world-3"]
    assert create(api, headers, title="Ünïcödé Straße & Ça va?")["slug"] == "unicode-strasse-ca-va"
    assert create(api, headers, title="Привет мир")["slug"] == "privet-mir"
    assert create(api, headers, title="🎉🎉")["slug"] == "article"


def test_explicit_slug_is_validated_and_must_be_free(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    headers = login(make_user())
    assert create(api, headers, slug="my-slug")["slug"] == "my-slug"
    taken = api.post("/articles/", json={"title": "x", "slug": "my-slug"}, headers=headers)
    assert taken.status_code == 409
    for bad in ["Upper", "with space", "-leading", "trailing-", "double--dash", "a" * 201]:
        response = api.post("/articles/", json={"title": "x", "slug": bad}, headers=headers)
        assert response.status_code == 422, bad
        assert response.json()["detail"][0]["loc"] == ["body", "slug"]


def test_changing_a_slug_to_a_taken_one_is_409(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    headers = login(make_user())
    first, second = create(api, headers, title="First"), create(api, headers, title="Second")
    response = api.patch(f"/articles/{second['id']}", json={"slug": first["slug"]}, headers=headers)
    assert response.status_code == 409
    ok = api.patch(f"/articles/{second['id']}", json={"slug": "renamed"}, headers=headers)
    assert ok.json()["slug"] == "renamed"


def test_read_by_slug(api: httpx.Client, make_user: UserFactory, login: Login) -> None:
    headers = login(make_user())
    article = create(api, headers, title="By slug", status="published")
    assert api.get("/articles/slug/by-slug").json()["id"] == article["id"]
    assert api.get("/articles/slug/missing").status_code == 404


def test_body_is_rendered_and_sanitized(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    headers = login(make_user())
    body = (
        "# Heading\n\nSome *emphasis* and [a link](https://example.com).\n\n"
        "<script>alert('x')</script>\n\n<img src=x onerror=alert(1)>\n\n"
        '[click](javascript:alert(1)) <a href="javascript:alert(2)">raw</a>'
    )
    article = create(api, headers, body=body)
    html = str(article["body_html"])
    assert article["body"] == body
    assert '<h1 id="user-content-heading">Heading</h1>' in html and "<em>emphasis</em>" in html
    assert 'href="https://example.com"' in html
    assert "<script" not in html and "onerror" not in html
    assert "javascript:" not in html
    assert (
        '<p><a rel="noopener noreferrer">click</a> <a rel="noopener noreferrer">raw</a></p>' in html
    )


def test_authors_cannot_touch_someone_elses_article(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    owner, intruder = make_user(), make_user()
    article = create(api, login(owner), status="published")
    path = f"/articles/{article['id']}"
    headers = login(intruder)
    assert api.patch(path, json={"title": "Mine now"}, headers=headers).status_code == 403
    assert api.delete(path, headers=headers).status_code == 403
    draft = create(api, login(owner))
    # A draft the intruder cannot see is 404, not 403: its existence is not revealed.
    assert (
        api.patch(f"/articles/{draft['id']}", json={"title": "x"}, headers=headers).status_code
        == 404
    )
    assert api.get(path).json()["title"] == "A title"


def test_editors_edit_and_delete_any_article(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    owner, editor = make_user(), make_user(role=Role.EDITOR)
    article = create(api, login(owner))
    path = f"/articles/{article['id']}"
    response = api.patch(path, json={"title": "Edited"}, headers=login(editor))
    assert response.status_code == 200 and response.json()["title"] == "Edited"
    assert api.delete(path, headers=login(editor)).status_code == 204
    assert api.get(path, headers=login(editor)).status_code == 404


def test_tutorial_route_writes_as_the_caller_unless_staff(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    author, other, editor = make_user(), make_user(), make_user(role=Role.EDITOR)
    own = api.post(f"/users/{author.id}/articles/", json={"title": "Mine"}, headers=login(author))
    assert own.status_code == 201 and own.json()["author_id"] == author.id
    assert own.headers["location"] == f"/articles/{own.json()['id']}"
    forged = api.post(f"/users/{other.id}/articles/", json={"title": "x"}, headers=login(author))
    assert forged.status_code == 403
    staff = api.post(f"/users/{other.id}/articles/", json={"title": "x"}, headers=login(editor))
    assert staff.status_code == 201 and staff.json()["author_id"] == other.id
    missing = api.post("/users/999999/articles/", json={"title": "x"}, headers=login(editor))
    assert missing.status_code == 404
    assert missing.json() == {"detail": "User does not exist"}
    # An author learns nothing about which ids exist: a missing one is also a 403.
    probe = api.post("/users/999999/articles/", json={"title": "x"}, headers=login(author))
    assert probe.status_code == 403


def test_patch_changes_only_what_is_sent(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    headers = login(make_user())
    article = create(api, headers, body="Original body")
    response = api.patch(
        f"/articles/{article['id']}", json={"body": "Great performance"}, headers=headers
    )
    updated = response.json()
    assert updated["title"] == "A title"
    assert updated["body"] == "Great performance"
    assert updated["body_html"] == "<p>Great performance</p>\n"
    assert datetime.fromisoformat(updated["updated_at"]) > datetime.fromisoformat(
        str(article["updated_at"])
    )
    assert updated["created_at"] == article["created_at"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": None}, None),
        ({"body": None}, None),
        ({"status": "archived"}, "status"),
        ({"published_at": "yesterday"}, "published_at"),
        ({"published_at": "2026-01-01T10:00:00"}, "published_at"),
        ({"published_at": "0001-01-01T00:00:00+05:00"}, "published_at"),
        ({"published_at": "1969-12-31T23:59:59Z"}, "published_at"),
        ({"published_at": "9999-12-31T23:59:59Z"}, "published_at"),
        ({"author_id": 1}, "author_id"),
        ({"body": "x" * (1024 * 1024 + 1)}, "body"),
    ],
)
def test_bad_article_fields_are_422_naming_the_field(
    api: httpx.Client,
    make_user: UserFactory,
    login: Login,
    payload: dict[str, object],
    field: str | None,
) -> None:
    headers = login(make_user())
    article = create(api, headers)
    response = api.patch(f"/articles/{article['id']}", json=payload, headers=headers)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    if field is not None:
        assert field in [error["loc"][-1] for error in detail]
    else:
        assert "may be omitted but not null" in detail[0]["msg"]


def test_a_one_mebibyte_body_of_emoji_round_trips(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    headers = login(make_user())
    body = "😀" * (1024 * 1024 // 4)  # exactly 1 MiB of UTF-8
    title = "Ünïcode 🎉 title — 漢字 עִבְרִית"
    article = create(api, headers, title=title, body=body)
    fetched = api.get(f"/articles/{article['id']}", headers=headers).json()
    assert fetched["title"] == title
    assert fetched["body"] == body
    too_big = api.post("/articles/", json={"title": "x", "body": body + "a"}, headers=headers)
    assert too_big.status_code == 422


def test_times_are_utc_with_microseconds(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    headers = login(make_user())
    moment = datetime(2025, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)
    article = create(
        api, headers, status="published", published_at="2025-03-04T07:06:07.123456+02:00"
    )
    assert datetime.fromisoformat(str(article["published_at"])) == moment
    fetched = api.get(f"/articles/{article['id']}").json()
    assert fetched["published_at"] == "2025-03-04T05:06:07.123456Z"


def test_missing_and_malformed_ids(api: httpx.Client, make_user: UserFactory, login: Login) -> None:
    headers = login(make_user())
    assert api.get("/articles/424242").status_code == 404
    # A path segment that cannot be an id names no resource (and /users/me stays itself).
    assert api.get("/articles/abc").status_code == 404
    assert api.get("/articles/0").status_code == 422
    assert api.get(f"/articles/{2**63}").status_code == 422
    assert api.patch("/articles/424242", json={"title": "x"}, headers=headers).status_code == 404
    assert api.delete("/articles/424242", headers=headers).status_code == 404


def test_malformed_bodies_are_422_not_500(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    headers = {**login(make_user()), "Content-Type": "application/json"}
    for raw in [b"{", b"[]", b"null", b'{"title": 5}', b"\xff\xfe", b'{"title": "\\ud800"}']:
        response = api.post("/articles/", content=raw, headers=headers)
        assert response.status_code == 422, (raw, response.status_code, response.text)


def test_oversized_requests_are_refused_before_parsing(
    api: httpx.Client, make_user: UserFactory, login: Login, caplog: pytest.LogCaptureFixture
) -> None:
    headers = login(make_user())
    with caplog.at_level(logging.INFO):
        response = api.post(
            "/articles/", json={"title": "x", "body": "a" * (9 * 1024 * 1024)}, headers=headers
        )
    assert response.status_code == 413
    # The client's mistake: its access line, no traceback.
    assert not [record for record in caplog.records if record.exc_info]
    assert any(" 413 " in record.getMessage() for record in caplog.records)


def test_delete_is_204_and_final(api: httpx.Client, make_user: UserFactory, login: Login) -> None:
    headers = login(make_user())
    article = create(api, headers, status="published")
    response = api.delete(f"/articles/{article['id']}", headers=headers)
    assert response.status_code == 204 and response.content == b""
    assert api.get(f"/articles/{article['id']}").status_code == 404
    assert api.delete(f"/articles/{article['id']}", headers=headers).status_code == 404


def test_times_always_carry_six_fractional_digits(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    headers = login(make_user())
    article = create(api, headers, status="published", published_at="2025-01-01T00:00:00Z")
    assert article["published_at"] == "2025-01-01T00:00:00.000000Z"
    assert len(str(article["created_at"])) == len("2025-01-01T00:00:00.000000Z")


def test_a_scheduled_article_appears_when_its_time_comes_with_no_job(
    api: httpx.Client, make_user: UserFactory, login: Login, database: Database
) -> None:
    headers = login(make_user())
    future = datetime.now(UTC) + timedelta(days=1)
    article = create(api, headers, status="published", published_at=future.isoformat())
    assert api.get(f"/articles/{article['id']}").status_code == 404
    # Time passes: move the clock's target instead of waiting a day.
    with database.transaction() as session:
        session.execute(
            update(Article)
            .where(Article.id == article["id"])
            .values(published_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert api.get(f"/articles/{article['id']}").status_code == 200
    assert [a["id"] for a in api.get("/articles/").json()] == [article["id"]]


def test_clearing_the_time_of_a_published_article_republishes_it_now(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    headers = login(make_user())
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    article = create(api, headers, status="published", published_at=future)
    response = api.patch(f"/articles/{article['id']}", json={"published_at": None}, headers=headers)
    assert response.status_code == 200
    published_at = datetime.fromisoformat(response.json()["published_at"])
    assert published_at <= datetime.now(UTC)
    assert api.get(f"/articles/{article['id']}").status_code == 200


def test_repeated_reference_links_do_not_multiply_the_html(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    headers = login(make_user())
    url = "https://example.com/" + "a" * 2000
    body = f"[a]: <{url}>\n\n" + "[a] " * 20_000  # naively 40 MB of HTML
    article = create(api, headers, body=body)
    # cmark-gfm caps reference expansion; the page stays proportionate to its source.
    assert len(str(article["body_html"])) < 4 * len(body)


def test_markdown_that_renders_to_huge_html_is_refused(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    headers = login(make_user())
    body = "|a|\n|-|\n" + "|a|\n" * 260_000  # 1 MB of one-letter table rows, 5.7 MB of HTML
    response = api.post("/articles/", json={"title": "Boom", "body": body}, headers=headers)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "body"]
    assert "more than 4 MiB of HTML" in response.json()["detail"][0]["msg"]


def test_a_long_legitimate_body_renders(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    headers = login(make_user())
    body = "- item\n" * 140_000  # just under 1 MiB of list items
    article = create(api, headers, body=body)
    assert str(article["body_html"]).count("<li>") == 140_000


def test_slug_lookups_match_exactly(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    headers = login(make_user())
    create(api, headers, title="Hello", status="published")
    assert api.get("/articles/slug/hello").status_code == 200
    for variant in ["HELLO", "hello%20", "héllo"]:
        assert api.get(f"/articles/slug/{variant}").status_code == 404, variant
