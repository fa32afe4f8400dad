"""Fixtures: a real database (SQLite or MariaDB, chosen by ``CMS_TEST_BACKEND``), the app
served over real HTTP by uvicorn on loopback, and factories for users and tokens.

Each test starts from empty tables; the schema is built once per run by the real
migrations.
"""

import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

from cms import migrations, security
from cms.articles import counts as article_counts
from cms.articles.models import Article, ArticleStatus
from cms.articles.rendering import RENDERER_VERSION, render_markdown
from cms.articles.slugs import slug_from_title
from cms.config import Settings
from cms.db import Base, Database
from cms.demo import first_revisions
from cms.roles import Role
from cms.site_settings import reads as site_settings_reads
from cms.users.models import User

BACKEND = os.environ.get("CMS_TEST_BACKEND", "sqlite")
MARIADB_SERVER_URL = os.environ.get(
    "CMS_TEST_MARIADB_URL", "mysql+mysqldb://root@127.0.0.1:3306/test"
)
TEST_SECRET_KEY = "test-secret-key-" + "x" * 40
DEFAULT_PASSWORD = "correct horse battery"


def pytest_report_header() -> str:
    return f"cms database backend: {BACKEND}"


def pytest_configure() -> None:
    # Thousands of hashes at production cost would dominate the run; the production
    # parameters are pinned by tests/test_security.py.
    security.configure_hashing(security.CHEAP_ARGON2_PARAMETERS)


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The developer's CMS_* variables, .env file and development key must not change
    what tests see (nor be changed by them)."""
    for name in list(os.environ):
        if name.startswith("CMS_") and not name.startswith("CMS_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CMS_SECRET_KEY_FILE", str(tmp_path / "secret_key"))
    monkeypatch.chdir(tmp_path)


class ScratchDatabases:
    """Creates empty databases on the backend under test and drops them afterwards."""

    def __init__(self, tmp_dir: Path) -> None:
        self.tmp_dir = tmp_dir
        self.created: list[str] = []

    def create(self, backend: str = BACKEND) -> str:
        """A new empty database on ``backend`` (by default, the one under test)."""
        name = f"cms_test_{os.getpid()}_{secrets.token_hex(4)}"
        if backend == "sqlite":
            return f"sqlite:///{self.tmp_dir / name}.sqlite3"
        if backend != "mariadb":
            raise pytest.UsageError(f"CMS_TEST_BACKEND must be sqlite or mariadb, not {backend}")
        server = create_engine(MARIADB_SERVER_URL)
        with server.connect() as connection:
            connection.execute(
                text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
            )
        server.dispose()
        self.created.append(name)
        return make_url(MARIADB_SERVER_URL).set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        if not self.created:
            return
        server = create_engine(MARIADB_SERVER_URL)
        with server.connect() as connection:
            for name in self.created:
                connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        server.dispose()


@pytest.fixture(scope="session")
def scratch_databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScratchDatabases]:
    databases = ScratchDatabases(tmp_path_factory.mktemp("databases"))
    yield databases
    databases.drop_all()


@pytest.fixture(scope="session")
def database_url(scratch_databases: ScratchDatabases) -> str:
    url = scratch_databases.create()
    migrations.upgrade(url)
    return url


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "environment": "test",
        "database_url": database_url,
        "secret_key": TEST_SECRET_KEY,
        "login_max_failures": 5,
        "login_lockout_seconds": 300,
        # Every test signs up from 127.0.0.1; the per-client limit has tests of its own.
        "signup_max_per_client": 10_000,
        # Likewise every reset request (tests/accounts tests these limits).
        "password_reset_max_per_client": 10_000,
        "password_reset_max_per_address": 10_000,
        # Tests write fast as one account and read back every revision they made; the
        # write rate and the revision retention have tests of their own.
        "write_rate_per_minute": 1_000_000,
        "write_rate_per_hour": 10_000_000,
        "revisions_keep_newest": 10_000,
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture(scope="session")
def app(settings: Settings) -> FastAPI:
    from cms.asgi import build_app

    return build_app(settings)


@pytest.fixture(scope="session")
def database(app: FastAPI) -> Database:
    """The app's own Database: tests read and write through the same session factory."""
    db: Database = app.state.database
    return db


@contextmanager
def failing_commits(
    database: Database, message: str = "simulated commit failure"
) -> Iterator[None]:
    """Inside the block, every commit of ``database``'s sessions raises
    ``RuntimeError(message)``: a fault at the last moment of a write."""

    def refuse(_session: object) -> None:
        raise RuntimeError(message)

    event.listen(database.sessionmaker, "before_commit", refuse)
    try:
        yield
    finally:
        event.remove(database.sessionmaker, "before_commit", refuse)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LiveServer:
    """uvicorn serving an app on a loopback port in a background thread."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # proxy_headers off: which X-Forwarded-For to believe is the app's decision
        # (CMS_TRUSTED_PROXIES), and tests of it must see exactly what it does.
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", proxy_headers=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("test server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)

    def __enter__(self) -> "LiveServer":
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        """Stop, and close the connections of the app's own pool (for an app built for
        one test; the shared ``live_server`` stops without, its pool outlives it)."""
        self.stop()
        self.app.state.database.dispose()


@pytest.fixture(scope="session")
def live_server(app: FastAPI) -> Iterator[LiveServer]:
    server = LiveServer(app)
    server.start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _empty_tables(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test that touches the shared database starts with it empty."""
    yield
    if "app" not in request.fixturenames:  # every fixture that reaches the database has it
        return
    database: Database = request.getfixturevalue("database")
    with database.engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())
    # What this process cached of the rows just deleted (the site settings) goes too.
    site_settings_reads.forget()


@pytest.fixture
def api(live_server: LiveServer, database: Database) -> Iterator[httpx.Client]:
    """An HTTP client for the running server."""
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        yield client


UserFactory = Callable[..., User]


@pytest.fixture
def make_user(database: Database) -> UserFactory:
    """Create a user directly in the database: ``make_user(role=Role.EDITOR)``."""
    counter = iter(range(1, 1_000_000))

    def factory(
        *,
        email: str | None = None,
        password: str = DEFAULT_PASSWORD,
        role: Role = Role.AUTHOR,
        name: str = "",
        is_active: bool = True,
    ) -> User:
        number = next(counter)
        user = User(
            email=email or f"user{number}@example.com",
            name=name or f"Test User {number}",
            role=role,
            is_active=is_active,
        )
        user.set_password(password)
        with database.transaction() as session:
            session.add(user)
        return user

    return factory


ArticleFactory = Callable[..., Article]


@pytest.fixture
def make_article(database: Database) -> ArticleFactory:
    """Store an article directly: ``make_article(author=user, status=ArticleStatus.DRAFT)``."""

    def factory(
        *,
        author: User,
        title: str = "An article",
        body: str = "",
        slug: str | None = None,
        status: ArticleStatus = ArticleStatus.DRAFT,
        published_at: datetime | None = None,
    ) -> Article:
        article = Article(
            title=title,
            slug=slug or slug_from_title(title),
            body=body,
            body_html=render_markdown(body),
            rendered_with=RENDERER_VERSION,
            status=status,
            published_at=published_at,
            author_id=author.id,
        )
        with database.transaction() as session:
            session.add(article)
            session.flush()
            # As if saved through the CMS: every article has a history from revision 1.
            session.execute(first_revisions(Article.id == article.id))
            article_counts.apply(session, None, article_counts.counted(article))
        return article

    return factory


@pytest.fixture
def login(api: httpx.Client) -> Callable[[User], dict[str, str]]:
    """Authorization headers for ``user``, obtained through ``POST /auth/token``."""

    def headers_for(user: User, password: str = DEFAULT_PASSWORD) -> dict[str, str]:
        response = api.post("/auth/token", data={"username": user.email, "password": password})
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    return headers_for


class HeldUpload:
    """A POST whose body is held back, to have a request deterministically in flight.

    It asks ``Expect: 100-continue``: the server answers ``100 Continue`` only when the
    application first asks for the body, so once :meth:`start` returns the request is
    being served and waits, however long, for :meth:`finish` to send the body.
    """

    def __init__(self, url: str, path: str, body: bytes, headers: dict[str, str]) -> None:
        parsed = httpx.URL(url)
        self.address = (parsed.host, parsed.port or 80)
        lines = [
            f"POST {path} HTTP/1.1",
            f"Host: {parsed.host}:{parsed.port}",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
            "Expect: 100-continue",
            "Connection: close",
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        self.head = ("\r\n".join(lines) + "\r\n\r\n").encode()
        self.body = body
        self.sock = socket.socket()
        self.sock.settimeout(60)

    def start(self) -> None:
        self.sock.connect(self.address)
        self.sock.sendall(self.head)
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise AssertionError(f"connection closed before 100 Continue: {received!r}")
            received += chunk
        assert received.startswith(b"HTTP/1.1 100"), received

    def finish(self) -> tuple[int, bytes]:
        """Send the body; the response's status and body."""
        self.sock.sendall(self.body)
        response = b""
        while chunk := self.sock.recv(65536):
            response += chunk
        self.sock.close()
        head, _, body = response.partition(b"\r\n\r\n")
        return int(head.split()[1]), body

    def close(self) -> None:
        self.sock.close()
