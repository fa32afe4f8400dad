"""Site-wide behaviour: health checks, transactions, error bodies, OpenAPI."""

from collections.abc import Callable, Iterator

import httpx
import pytest
from sqlalchemy import func, select

from cms import migrations
from cms.app import create_app
from cms.articles.models import Article
from cms.db import Database
from tests.conftest import LiveServer, ScratchDatabases, UserFactory, failing_commits, make_settings

Login = Callable[..., dict[str, str]]


def test_the_first_url_a_newcomer_opens_leads_everywhere(api: httpx.Client) -> None:
    response = api.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    for link in ['href="/admin"', 'href="/docs"', 'href="/articles/"']:
        assert link in response.text


def test_healthz_answers(api: httpx.Client) -> None:
    response = api.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_ok_on_a_migrated_database(api: httpx.Client) -> None:
    response = api.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.fixture
def unmigrated_server(scratch_databases: ScratchDatabases) -> Iterator[tuple[LiveServer, str]]:
    url = scratch_databases.create()
    with LiveServer(create_app(make_settings(url))) as server:
        yield server, url


def test_readyz_is_503_until_the_schema_is_migrated(
    unmigrated_server: tuple[LiveServer, str],
) -> None:
    server, url = unmigrated_server
    response = httpx.get(f"{server.url}/readyz")
    assert response.status_code == 503
    assert "no schema" in response.json()["detail"]
    assert httpx.get(f"{server.url}/healthz").status_code == 200
    migrations.upgrade(url)
    assert httpx.get(f"{server.url}/readyz").status_code == 200


def test_a_failed_commit_is_never_reported_as_success(
    api: httpx.Client, make_user: UserFactory, login: Login, database: Database
) -> None:
    headers = login(make_user())

    with failing_commits(database):
        response = api.post("/articles/", json={"title": "Lost?"}, headers=headers)
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error"}
    assert "simulated" not in response.text
    with database.sessionmaker() as session:
        assert session.scalar(select(func.count()).select_from(Article)) == 0


def test_validation_errors_never_echo_what_was_sent(api: httpx.Client) -> None:
    response = api.post("/users/", json={"email": "a@example.com", "password": "secret7"})
    assert response.status_code == 422
    assert "secret7" not in response.text
    error = response.json()["detail"][0]
    assert error["loc"] == ["body", "password"]
    assert "at least 8" in error["msg"]


def test_openapi_describes_the_api_and_its_login(api: httpx.Client) -> None:
    spec = api.get("/openapi.json").json()
    for path in [
        "/users/",
        "/users/me",
        "/articles/",
        "/articles/{article_id}",
        "/auth/token",
        "/users/{user_id}/articles/",
        "/healthz",
        "/readyz",
    ]:
        assert path in spec["paths"], path
    schemes = spec["components"]["securitySchemes"]
    assert schemes["OAuth2PasswordBearer"]["flows"]["password"]["tokenUrl"] == "/auth/token"
    assert api.get("/docs").status_code == 200


def test_openapi_declares_what_every_operation_can_answer(api: httpx.Client) -> None:
    spec = api.get("/openapi.json").json()
    operations = {
        (method.upper(), path): operation
        for path, methods in spec["paths"].items()
        for method, operation in methods.items()
    }
    for (method, path), operation in operations.items():
        answers = operation["responses"]
        if path not in ("/healthz",):
            assert "503" in answers, (method, path)  # the database can be down
        if "requestBody" in operation:
            assert {"400", "413", "422"} <= set(answers), (method, path)
        for code, answer in answers.items():
            if code.startswith(("4", "5")) and code != "422":
                schema = answer["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorMessage"}, (method, path)
    assert {"401", "403", "404", "409", "412"} <= set(
        operations["PATCH", "/articles/{article_id}"]["responses"]
    )
    assert "429" in operations["POST", "/auth/token"]["responses"]
    assert "Retry-After" in operations["POST", "/auth/token"]["responses"]["429"]["headers"]
    assert "301" in operations["GET", "/articles/slug/{slug}"]["responses"]
    # Public reads take a token but do not need one; writes need one, sign-up does not.
    optional: list[dict[str, list[str]]] = [{}, {"OAuth2PasswordBearer": []}]
    assert operations["GET", "/articles/{article_id}"]["security"] == optional
    assert operations["POST", "/users/"]["security"] == optional
    assert operations["PATCH", "/articles/{article_id}"]["security"] == [
        {"OAuth2PasswordBearer": []}
    ]
    schemas = spec["components"]["schemas"]
    # The API never echoes input back in a 422.
    assert "input" not in schemas["ValidationError"]["properties"]
    # A PATCH field may be left out, but null is refused (published_at excepted).
    update = schemas["ArticleUpdate"]["properties"]
    assert update["title"]["type"] == "string" and "anyOf" not in update["title"]
    assert {"type": "null"} in update["published_at"]["anyOf"]
    assert schemas["ArticlePublic"]["properties"]["created_at"]["format"] == "date-time"


def test_a_wrong_method_answers_405_naming_every_allowed_one(api: httpx.Client) -> None:
    response = api.request("OPTIONS", "/articles/")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    response = api.put("/articles/1")
    assert response.headers["allow"] == "DELETE, GET, PATCH"
    # /users/me is not /users/{user_id}: PATCH there is a wrong method, not a bad id.
    response = api.patch("/users/me", json={})
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"
