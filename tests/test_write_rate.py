"""Each signed-in account's writes are counted against a rate, in the database (so every
worker shares one count), and past it the API answers 429 with ``Retry-After`` and the
back office says so; nothing is written."""

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import func, select

from cms.actors import SYSTEM
from cms.articles.models import ArticleRevision
from cms.asgi import build_app
from cms.auth.throttle import WRITES_LIMITED
from cms.config import Settings
from cms.db import Database
from cms.roles import Role
from cms.users.models import User
from tests.admin.browser_forms import submit
from tests.admin.conftest import signed_in
from tests.conftest import DEFAULT_PASSWORD, LiveServer, UserFactory, make_settings

PER_MINUTE = 5


@pytest.fixture
def limited(database_url: str) -> Iterator[LiveServer]:
    """The app with a write rate of five a minute (and ten an hour)."""
    settings = make_settings(
        database_url, write_rate_per_minute=PER_MINUTE, write_rate_per_hour=2 * PER_MINUTE
    )
    with LiveServer(build_app(settings)) as server:
        yield server


def token(client: httpx.Client, user: User) -> dict[str, str]:
    response = client.post(
        "/auth/token", data={"username": user.email, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def revisions(database: Database) -> int:
    with database.reading() as session:
        return session.scalar(select(func.count()).select_from(ArticleRevision)) or 0


def test_past_the_rate_a_write_is_a_429_with_retry_after_and_writes_nothing(
    limited: LiveServer, make_user: UserFactory, database: Database
) -> None:
    author, other = make_user(), make_user()
    with httpx.Client(base_url=limited.url, timeout=30) as api:
        headers = token(api, author)
        created = api.post("/articles/", json={"title": "Counted"}, headers=headers)
        assert created.status_code == 201, created.text
        path = f"/articles/{created.json()['id']}"
        for n in range(PER_MINUTE - 1):
            assert api.patch(path, json={"body": f"v{n}"}, headers=headers).status_code == 200
        before, saved = revisions(database), api.get(path, headers=headers).json()
        refused = api.patch(path, json={"body": "one too many"}, headers=headers)
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert WRITES_LIMITED.split(";")[0] in refused.json()["detail"]
        assert (
            api.post("/articles/", json={"title": "Nor this"}, headers=headers).status_code == 429
        )
        assert revisions(database) == before
        assert api.get(path, headers=headers).json() == saved
        # Reading is not writing; and another account has its own count.
        assert api.get("/articles/", headers=headers).status_code == 200
        theirs = api.post("/articles/", json={"title": "Mine"}, headers=token(api, other))
        assert theirs.status_code == 201


def test_the_count_is_shared_by_every_worker_and_holds_under_a_race(
    limited: LiveServer, database_url: str, make_user: UserFactory
) -> None:
    settings = make_settings(
        database_url, write_rate_per_minute=PER_MINUTE, write_rate_per_hour=2 * PER_MINUTE
    )
    author, warmer = make_user(), make_user()
    with LiveServer(build_app(settings)) as second_worker:
        with httpx.Client(base_url=limited.url, timeout=30) as api:
            headers = token(api, author)
        # FastAPI prepares a route on its first request; two apps in one process (never
        # so in production) must not do that at the same moment in two threads.
        for worker in (limited, second_worker):
            with httpx.Client(base_url=worker.url, timeout=30) as client:
                warm = client.post(
                    "/articles/", json={"title": "Warm"}, headers=token(client, warmer)
                )
                assert warm.status_code == 201
        bodies = [{"title": f"Race {n}"} for n in range(3 * PER_MINUTE)]

        def post(n: int) -> int:
            worker = (limited, second_worker)[n % 2]
            with httpx.Client(base_url=worker.url, timeout=60) as client:
                return client.post("/articles/", json=bodies[n], headers=headers).status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(post, range(len(bodies))))
    assert sorted(statuses) == [201] * PER_MINUTE + [429] * (2 * PER_MINUTE)


def test_the_back_office_says_so_and_saves_nothing(
    limited: LiveServer, make_user: UserFactory, database: Database
) -> None:
    editor = make_user(role=Role.EDITOR)
    with httpx.Client(base_url=limited.url, timeout=30) as browser:
        signed_in(browser, editor)
        for n in range(PER_MINUTE):
            created = submit(browser, "/admin/article/create", title=f"Draft {n}", body="x")
            assert created.status_code == 302, created.text[:500]
        before = revisions(database)
        refused = submit(browser, "/admin/article/create", title="One too many", body="x")
        assert WRITES_LIMITED.split(";")[0] in refused.text
        assert revisions(database) == before


def test_the_command_line_is_not_counted(limited: LiveServer, make_user: UserFactory) -> None:
    app: FastAPI = limited.app
    db: Database = app.state.database
    author = make_user()
    for _ in range(3 * PER_MINUTE):
        db.run(lambda uow: uow.session.get(User, author.id), actor=SYSTEM)
    with httpx.Client(base_url=limited.url, timeout=30) as api:
        made = api.post("/articles/", json={"title": "Still free"}, headers=token(api, author))
        assert made.status_code == 201


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"write_rate_per_minute": 0}, "write_rate_per_minute"),
        ({"write_rate_per_minute": 100, "write_rate_per_hour": 99}, "CMS_WRITE_RATE_PER_HOUR"),
        ({"revisions_keep_newest": 0}, "revisions_keep_newest"),
        ({"revisions_keep_published": -1}, "revisions_keep_published"),
        ({"revisions_older_max_bytes": "lots"}, "revisions_older_max_bytes"),
    ],
)
def test_bad_limits_refuse_to_start(
    monkeypatch: pytest.MonkeyPatch, values: dict[str, object], message: str
) -> None:
    for name, value in values.items():
        monkeypatch.setenv(f"CMS_{name.upper()}", str(value))
    with pytest.raises(ValidationError, match=message):
        Settings(_env_file=None)
