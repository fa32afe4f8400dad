"""Replica settings, consistency tokens, and the site without replicas (both backends;
the replicas themselves are tested in tests/test_replicas.py against real servers)."""

from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from cms.middleware import ReadRouting
from cms.replicas import CONSISTENCY_HEADER, sign_position, verify_token
from cms.users.models import User
from tests.conftest import TEST_SECRET_KEY, UserFactory, make_settings

MARIADB = "mysql+mysqldb://app:secret@127.0.0.1:3306/cms"


def test_replica_urls_are_comma_separated_mariadb_urls() -> None:
    settings = make_settings(
        MARIADB,
        database_replica_urls=(
            "mysql+mysqldb://r@10.0.0.2:3306/cms, mysql+mysqldb://r@10.0.0.3:3306/cms"
        ),
    )
    assert settings.database_replica_urls == [
        "mysql+mysqldb://r@10.0.0.2:3306/cms",
        "mysql+mysqldb://r@10.0.0.3:3306/cms",
    ]
    assert make_settings(MARIADB).database_replica_urls == []


@pytest.mark.parametrize(
    ("primary", "replicas", "message"),
    [
        (MARIADB, "sqlite:///replica.sqlite3", "replicas are MariaDB servers"),
        (MARIADB, "not a url", "CMS_DATABASE_REPLICA_URLS: an entry is not a database URL"),
        ("sqlite:///cms.sqlite3", "mysql+mysqldb://r@10.0.0.2/cms", "needs a MariaDB primary"),
    ],
)
def test_replica_urls_are_checked(primary: str, replicas: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        make_settings(primary, database_replica_urls=replicas)


@pytest.mark.parametrize(
    ("name", "value"),
    [("consistency_wait_seconds", 11), ("replica_max_lag_seconds", -1)],
)
def test_replica_timings_are_bounded(name: str, value: float) -> None:
    with pytest.raises(ValidationError, match=name):
        make_settings(MARIADB, **{name: value})


def test_a_token_carries_its_position_and_nothing_else() -> None:
    token = sign_position("0-1-42,1-2-7", TEST_SECRET_KEY)
    assert verify_token(token, TEST_SECRET_KEY) == "0-1-42,1-2-7"
    assert verify_token(token, "another-key-" + "y" * 40) is None
    assert verify_token(token.replace("0-1-42", "0-1-43"), TEST_SECRET_KEY) is None
    assert verify_token("0-1-42", TEST_SECRET_KEY) is None
    assert verify_token("x" * 5000, TEST_SECRET_KEY) is None
    quoted = sign_position("0-1-1'); DROP TABLE tags; --", TEST_SECRET_KEY)
    assert verify_token(quoted, TEST_SECRET_KEY) is None


def test_without_replicas_nothing_changes(
    app: FastAPI,
    api: httpx.Client,
    make_user: UserFactory,
    login: Callable[[User], dict[str, str]],
) -> None:
    assert app.state.database.replicas is None
    assert ReadRouting not in [middleware.cls for middleware in app.user_middleware]  # type: ignore[comparison-overlap]
    headers = login(make_user())
    written = api.post("/articles/", json={"title": "t", "status": "published"}, headers=headers)
    assert written.status_code == 201
    assert CONSISTENCY_HEADER not in written.headers
    # A token sent anyway is ignored.
    read = api.get(f"/articles/{written.json()['id']}", headers={CONSISTENCY_HEADER: "nonsense"})
    assert read.status_code == 200
