"""An article's history is bounded whatever is saved and however often: the first
revision, the newest few, and the older published ones within a count and a size."""

import re
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import LargeBinary, cast, func, select

from cms.articles.models import ArticleRevision
from cms.asgi import build_app
from cms.config import WriteLimits
from cms.db import Database
from cms.fields import BODY_MAX_BYTES
from cms.roles import Role
from cms.users.models import User
from tests.admin.conftest import signed_in
from tests.conftest import DEFAULT_PASSWORD, LiveServer, UserFactory, make_settings

MIB = 1024 * 1024


def headers_for(api: httpx.Client, user: User) -> dict[str, str]:
    credentials = {"username": user.email, "password": DEFAULT_PASSWORD}
    response = api.post("/auth/token", data=credentials)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def stored(database: Database, article_id: int) -> tuple[list[int], int]:
    """The article's revision numbers, and the bytes of their titles and bodies."""
    size = func.length(cast(ArticleRevision.title, LargeBinary)) + func.length(
        cast(ArticleRevision.body, LargeBinary)
    )
    with database.reading() as session:
        rows = session.execute(
            select(ArticleRevision.number, size)
            .where(ArticleRevision.article_id == article_id)
            .order_by(ArticleRevision.number)
        ).all()
    return [number for number, _ in rows], sum(int(n or 0) for _, n in rows)


def big_body(n: int) -> str:
    line = f"Save {n:02d}: " + "x" * 1000 + "\n"
    return (line * (BODY_MAX_BYTES // len(line) + 1))[:BODY_MAX_BYTES]


@pytest.fixture
def as_shipped(database_url: str) -> Iterator[LiveServer]:
    """The app with the retention a site gets by default (the tests' own keeps more)."""
    defaults = WriteLimits()
    settings = make_settings(
        database_url,
        revisions_keep_newest=defaults.revisions_newest,
        revisions_keep_published=defaults.revisions_published,
        revisions_older_max_bytes=defaults.revisions_older_bytes,
    )
    with LiveServer(build_app(settings)) as server:
        yield server


@pytest.mark.parametrize("status", ["draft", "published"])
def test_thirty_saves_of_a_megabyte_leave_bounded_storage(
    as_shipped: LiveServer, make_user: UserFactory, database: Database, status: str
) -> None:
    with httpx.Client(base_url=as_shipped.url, timeout=60) as api:
        _thirty_saves(api, make_user(), database, status)


def _thirty_saves(api: httpx.Client, author: User, database: Database, status: str) -> None:
    headers = headers_for(api, author)
    created = api.post("/articles/", json={"title": "Heavy", "status": status}, headers=headers)
    assert created.status_code == 201, created.text
    article_id = created.json()["id"]
    for n in range(30):
        saved = api.patch(f"/articles/{article_id}", json={"body": big_body(n)}, headers=headers)
        assert saved.status_code == 200, saved.text[:300]
    numbers, size = stored(database, article_id)
    policy = WriteLimits()
    newest = list(range(31 - policy.revisions_newest + 1, 32))
    if status == "draft":
        # The first and the newest ten: the drafts between them are gone.
        assert numbers == [1, *newest]
    else:
        # And, before the newest ten, the published saves that fit in 4 MiB: three.
        assert numbers == [1, 19, 20, 21, *newest]
    bound = policy.revisions_newest * MIB + policy.revisions_older_bytes + MIB
    assert size <= bound
    assert size < 15 * MIB  # thirty-one revisions of a megabyte were 31 MiB
    # The history reads through the gaps, and what it lists can be read.
    listed = api.get(f"/articles/{article_id}/revisions", headers=headers).json()
    assert [r["number"] for r in listed] == sorted(numbers, reverse=True)
    assert api.get(f"/articles/{article_id}/revisions/2", headers=headers).status_code == 404
    oldest = api.get(f"/articles/{article_id}/revisions/1", headers=headers)
    assert oldest.status_code == 200 and oldest.json()["body"] == ""


@pytest.fixture
def strict(database_url: str) -> Iterator[LiveServer]:
    """The app keeping the newest three revisions and two older published ones."""
    settings = make_settings(
        database_url,
        revisions_keep_newest=3,
        revisions_keep_published=2,
        revisions_older_max_bytes=3000,
    )
    with LiveServer(build_app(settings)) as server:
        yield server


def test_the_kept_revisions_follow_the_policy(
    strict: LiveServer, make_user: UserFactory, database: Database
) -> None:
    editor = make_user(role=Role.EDITOR)
    with httpx.Client(base_url=strict.url, timeout=30) as api:
        headers = headers_for(api, editor)
        article = api.post("/articles/", json={"title": "Kept"}, headers=headers).json()
        path = f"/articles/{article['id']}"
        steps: list[dict[str, object]] = [
            {"body": "a draft save"},  # 2
            {"status": "published"},  # 3: published
            {"body": "a published save"},  # 4: published
            {"status": "draft"},  # 5
            {"body": "draft again"},  # 6
            {"body": "and again"},  # 7
            {"body": "and once more"},  # 8
        ]
        for step in steps:
            assert api.patch(path, json=step, headers=headers).status_code == 200
        numbers, _ = stored(database, article["id"])
        # First, the newest three, and the two published before them.
        assert numbers == [1, 3, 4, 6, 7, 8]
        # A third published one falls out when a newer one ages past the newest three.
        more: list[dict[str, object]] = [
            {"status": "published"},
            {"body": "p1"},
            {"body": "p2"},
            {"body": "p3"},
        ]
        for step in more:
            assert api.patch(path, json=step, headers=headers).status_code == 200
        numbers, _ = stored(database, article["id"])
        assert numbers == [1, 4, 9, 10, 11, 12]
        # The size bound: published saves of 2,000 bytes, at most 3,000 bytes kept older.
        for n in range(6):
            body: dict[str, object] = {"body": f"{n}" * 2000}
            assert api.patch(path, json=body, headers=headers).status_code == 200
        numbers, _ = stored(database, article["id"])
        assert numbers == [1, 15, 16, 17, 18]
        with httpx.Client(base_url=strict.url, timeout=30) as browser:
            signed_in(browser, editor)
            history = browser.get(f"/admin/article/{article['id']}/history")
            assert history.status_code == 200
            shown = [int(n) for n in _history_numbers(history.text, article["id"])]
            assert shown and set(shown) <= set(numbers)
            for number in numbers:
                compare = browser.get(f"/admin/article/{article['id']}/history/{number}")
                assert compare.status_code == 200, number
            gone = browser.get(f"/admin/article/{article['id']}/history/2")
            assert gone.status_code == 404


def _history_numbers(page: str, article_id: int) -> list[str]:
    return re.findall(rf"/admin/article/{article_id}/history/(\d+)", page)
