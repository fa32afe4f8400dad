"""Logs: one access line per request, the request id on every line, one traceback for
an unexpected error, none for a user's mistake, and no secret anywhere."""

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Literal

import httpx
import pytest
from sqlalchemy import select

from cms.config import Settings
from cms.db import Database
from cms.logs import JSONFormatter, TextFormatter, logging_config, redact
from cms.middleware import current_request_id
from cms.roles import Role
from cms.security import create_access_token
from cms.users.models import User
from tests.admin.browser_forms import submit
from tests.admin.conftest import admin_login, signed_in
from tests.conftest import (
    TEST_SECRET_KEY,
    ScratchDatabases,
    UserFactory,
    failing_commits,
)

Login = Callable[..., dict[str, str]]


class Captured:
    """What the server logged, formatted as ``cms serve`` formats it, and by request."""

    def __init__(self, log_format: Literal["text", "json"]) -> None:
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(JSONFormatter() if log_format == "json" else TextFormatter())
        # The test's own HTTP client logs the URLs it requests; the server is the subject.
        self.handler.addFilter(lambda record: not record.name.startswith(("httpx", "httpcore")))
        self.handler.addFilter(self._note)
        self.records: list[tuple[logging.LogRecord, str | None]] = []

    def _note(self, record: logging.LogRecord) -> bool:
        self.records.append((record, current_request_id.get()))
        return True

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def for_request(self, request_id: str) -> list[logging.LogRecord]:
        return [record for record, during in self.records if during == request_id]


@contextmanager
def capturing(log_format: Literal["text", "json"], level: int) -> Iterator[Captured]:
    """Every line logged meanwhile from ``level`` up, on the root logger and on
    uvicorn's (which the test server keeps to itself)."""
    capture = Captured(log_format)
    loggers = [logging.getLogger(), logging.getLogger("uvicorn")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(capture.handler)
        logger.setLevel(level)
    try:
        yield capture
    finally:
        for logger, previous in zip(loggers, levels, strict=True):
            logger.removeHandler(capture.handler)
            logger.setLevel(previous)


@pytest.fixture(params=["text", "json"])
def captured(request: pytest.FixtureRequest) -> Iterator[Captured]:
    """Everything, down to DEBUG, in each format."""
    with capturing(request.param, logging.DEBUG) as capture:
        yield capture


@pytest.fixture
def at_info() -> Iterator[Captured]:
    """What the default level (INFO) shows."""
    with capturing("text", logging.INFO) as capture:
        yield capture


def test_no_password_token_cookie_or_hash_reaches_the_log(
    api: httpx.Client, captured: Captured, make_user: UserFactory, database: Database
) -> None:
    password, wrong_password, admin_password = "Sign-up pw 7f3k", "Wrong pw 9x2m", "Admin pw 4q8z"
    query_token, query_password = "QueryToken5v1n", "QueryPassword2b6c"
    signed_up = api.post("/users/", json={"email": "new@example.com", "password": password})
    assert signed_up.status_code == 201
    too_short = api.post("/users/", json={"email": "x@example.com", "password": "Sh0rt!z"})
    assert too_short.status_code == 422
    token = api.post("/auth/token", data={"username": "new@example.com", "password": password})
    assert token.status_code == 200
    bearer = token.json()["access_token"]
    refused = api.post(
        "/auth/token", data={"username": "new@example.com", "password": wrong_password}
    )
    assert refused.status_code == 401
    assert api.get("/users/me", headers={"Authorization": f"Bearer {bearer}"}).status_code == 200
    forged = create_access_token(
        user_id=1,
        session_version=0,
        secret_key="another-key-" + "y" * 40,
        expires_in=timedelta(minutes=5),
    )
    assert api.get("/users/me", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    listed = api.get(
        "/articles/", params={"token": query_token, "password": query_password, "limit": "x"}
    )
    assert listed.status_code == 422

    admin = make_user(role=Role.ADMIN, password=admin_password)
    with httpx.Client(base_url=str(api.base_url)) as browser:
        assert admin_login(browser, admin.email, admin_password).status_code == 302
        cookie = browser.cookies["cms_admin"]
        assert browser.get("/admin/user/list").status_code == 200

    with failing_commits(database, "simulated failure while a token is in use"):
        failed = api.post(
            "/articles/", json={"title": password}, headers={"Authorization": f"Bearer {bearer}"}
        )
    assert failed.status_code == 500

    with database.sessionmaker() as session:
        hashes = list(session.scalars(select(User.hashed_password)))
    secrets = [password, wrong_password, admin_password, query_token, query_password]
    secrets += [bearer, forged, cookie, *hashes]
    assert captured.text.count("cms.access") >= 10, captured.text  # the requests were logged
    assert "simulated failure" in captured.text  # and so was the traceback
    leaked = [secret for secret in secrets if secret in captured.text]
    assert leaked == [], captured.text


def test_every_line_about_a_request_carries_its_id(
    api: httpx.Client, captured: Captured, database: Database, make_user: UserFactory, login: Login
) -> None:
    headers = login(make_user())

    with failing_commits(database):
        response = api.post(
            "/articles/",
            json={"title": "Lost"},
            headers={**headers, "X-Request-ID": "trace-0001"},
        )
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error"}
    assert response.headers["X-Request-ID"] == "trace-0001"
    lines = captured.for_request("trace-0001")
    assert [record.name for record in lines] == ["cms.observability", "cms.access"]
    fresh = api.get("/healthz")
    assert len(captured.for_request(fresh.headers["X-Request-ID"])) == 1


def test_an_unexpected_error_logs_one_traceback(
    api: httpx.Client, at_info: Captured, database: Database, make_user: UserFactory, login: Login
) -> None:
    headers = login(make_user())

    with failing_commits(database):
        response = api.post("/articles/", json={"title": "Lost"}, headers=headers)
    assert response.status_code == 500
    tracebacks = [record for record, _ in at_info.records if record.exc_info]
    assert len(tracebacks) == 1
    assert at_info.text.count("Traceback (most recent call last)") == 1
    assert at_info.text.count("RuntimeError: simulated commit failure") == 1
    request_id = response.headers["X-Request-ID"]
    assert tracebacks[0] in at_info.for_request(request_id)


def test_a_users_mistake_logs_one_line_and_no_traceback(
    api: httpx.Client, at_info: Captured, make_user: UserFactory, login: Login
) -> None:
    author, other = make_user(), make_user()
    headers = login(author)
    others_draft = api.post("/articles/", json={"title": "Mine"}, headers=login(other)).json()
    for attempt in range(6):  # the tests' CMS_LOGIN_MAX_FAILURES is 5: the last is a 429
        api.post("/auth/token", data={"username": other.email, "password": f"wrong {attempt}"})
    mistakes: list[tuple[str, str, dict[str, object], int]] = [
        ("POST", "/users/", {"json": {"email": "not an email", "password": "x"}}, 422),
        ("POST", "/users/", {"json": {"email": author.email, "password": "long enough"}}, 409),
        ("GET", "/users/me", {}, 401),
        ("GET", "/users/", {"headers": headers}, 403),
        ("GET", f"/articles/{others_draft['id']}", {"headers": headers}, 404),
        ("GET", "/no/such/page", {}, 404),
        ("POST", "/auth/token", {"data": {"username": other.email, "password": "again"}}, 429),
        ("GET", "/admin/user/details/abc", {}, 302),
        ("PATCH", "/articles/1", {"headers": headers, "content": b"{not json"}, 422),
    ]
    for number, (method, path, options, status) in enumerate(mistakes):
        request_id = f"mistake-{number}"
        extra_headers = dict(options.pop("headers", {}))  # type: ignore[call-overload]
        response = api.request(
            method,
            path,
            headers={**extra_headers, "X-Request-ID": request_id},
            **options,  # type: ignore[arg-type]
        )
        assert response.status_code == status, (path, response.text)
        lines = at_info.for_request(request_id)
        assert len(lines) == 1, (path, [record.getMessage() for record in lines])
        assert lines[0].name == "cms.access" and lines[0].exc_info is None
    assert "Traceback" not in at_info.text


def test_a_malformed_back_office_address_logs_one_line(
    api: httpx.Client, at_info: Captured, make_user: UserFactory
) -> None:
    admin = make_user(role=Role.ADMIN)
    with httpx.Client(base_url=str(api.base_url)) as browser:
        admin_login(browser, admin.email)
        response = browser.get("/admin/user/details/abc", headers={"X-Request-ID": "bad-address"})
    assert response.status_code == 400
    assert [record.name for record in at_info.for_request("bad-address")] == ["cms.access"]


def test_a_refused_back_office_save_logs_one_line(
    api: httpx.Client, at_info: Captured, make_user: UserFactory
) -> None:
    taken = make_user()
    with httpx.Client(base_url=str(api.base_url)) as browser:
        signed_in(browser, make_user(role=Role.ADMIN))
        # The form is fine; the service refuses it (SQLAdmin logs that as an exception).
        response = submit(
            browser,
            "/admin/user/create",
            email=taken.email,
            name="Someone",
            role="author",
            is_active="y",
            password="long enough",
        )
    assert response.status_code == 400
    assert "Email already registered" in response.text
    lines = at_info.for_request(response.headers["X-Request-ID"])
    assert [record.name for record in lines] == ["cms.access"]
    assert "Traceback" not in at_info.text


def test_access_lines_name_the_route_template_and_the_client(
    api: httpx.Client, at_info: Captured
) -> None:
    api.get("/articles/12345", params={"token": "abc"}, headers={"X-Request-ID": "one-line"})
    (record,) = at_info.for_request("one-line")
    record.request_id = "one-line"  # as it was when the line was written
    text = TextFormatter().format(record)
    duration = record.__dict__["duration_ms"]
    assert text.endswith(
        f"INFO cms.access [one-line] GET /articles/{{article_id}} 404 {duration}ms client=127.0.0.1"
    )
    entry = json.loads(JSONFormatter().format(record))
    assert entry["request_id"] == "one-line"
    assert (entry["method"], entry["route"], entry["status"], entry["client"]) == (
        "GET",
        "/articles/{article_id}",
        404,
        "127.0.0.1",
    )
    assert isinstance(entry["duration_ms"], float)
    assert "12345" not in at_info.text and "token" not in at_info.text


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ("Authorization: Bearer abc.DEF-123_x", "abc.DEF-123_x"),
        ("GET /articles/?token=s3cr3t&limit=5", "s3cr3t"),
        ('{"password": "hunter2 2"}', "hunter2"),
        ("password=hunter2", "hunter2"),
        ("cms_admin=eyJ1c2VyX2lkIjogMX0=.aBcDeF.ghIJkl; Path=/", "eyJ1c2VyX2lkIjogMX0"),
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl here", "c2lnbmF0dXJl"),
        ("row ('$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA', 1)", "c2FsdA$aGFzaA"),
        ("bcrypt $2b$12$abcdefghijklmnopqrstuvABCDEFGHIJKLMNOPQRSTUVWXYZ01234", "abcdefghij"),
    ],
)
def test_secrets_are_redacted_from_any_line(line: str, secret: str) -> None:
    assert secret not in redact(line)
    assert "[redacted]" in redact(line)


def test_redaction_leaves_ordinary_lines_alone() -> None:
    line = 'GET /articles/{article_id} 200 3.1ms client=127.0.0.1 "Incorrect email or password"'
    assert redact(line) == line


def test_sql_and_uvicorn_lines_go_through_our_format() -> None:
    config = logging_config(Settings(_env_file=None, log_format="json", log_level="debug"))
    assert config["root"] == {"level": "DEBUG", "handlers": ["stderr"]}
    assert config["loggers"]["sqlalchemy"]["level"] == "WARNING"
    assert config["loggers"]["uvicorn"]["propagate"] is True
    assert config["formatters"]["cms"]["()"] == "cms.logs.JSONFormatter"


def test_commands_log_in_the_configured_format(
    cli_env: dict[str, str], scratch_databases: ScratchDatabases
) -> None:
    env = {
        **os.environ,
        **cli_env,
        "CMS_DATABASE_URL": scratch_databases.create(),
        "CMS_LOG_FORMAT": "json",
    }
    for command in (["migrate"], ["alembic", "current"]):
        result = subprocess.run(
            [sys.executable, "-m", "cms.cli", *command],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
    # `cms alembic` logs what the alembic command would; every line is one JSON object.
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert lines and all(line["level"] == "INFO" for line in lines)
    assert {line["logger"] for line in lines} == {"alembic.runtime.migration"}


def test_the_command_line_does_not_load_prometheus_client() -> None:
    """``cms serve`` prepares the metrics directory before the library is imported."""
    code = "import sys, cms.cli; print('prometheus_client' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


@pytest.fixture
def cli_env(database: Database) -> dict[str, str]:
    return {
        "CMS_DATABASE_URL": database.url,
        "CMS_ENVIRONMENT": "test",
        "CMS_SECRET_KEY": TEST_SECRET_KEY,
    }
