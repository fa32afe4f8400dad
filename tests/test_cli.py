"""The ``cms`` command line, run against the test database."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from cms import migrations
from cms.articles.models import Article, ArticleStatus
from cms.cli import app
from cms.db import Database, utcnow
from cms.roles import Role
from cms.security import verify_password
from cms.users.models import User
from tests.conftest import BACKEND, TEST_SECRET_KEY, ScratchDatabases, UserFactory


@pytest.fixture
def cli_env(database: Database) -> dict[str, str]:
    return {
        "CMS_DATABASE_URL": database.url,
        "CMS_ENVIRONMENT": "test",
        "CMS_SECRET_KEY": TEST_SECRET_KEY,
    }


@pytest.fixture
def runner() -> Iterator[CliRunner]:
    yield CliRunner()


def find_user(database: Database, email: str) -> User | None:
    with database.sessionmaker() as session:
        return session.scalar(select(User).where(User.email == email))


def test_createsuperuser_with_options(
    runner: CliRunner, cli_env: dict[str, str], database: Database
) -> None:
    result = runner.invoke(
        app,
        ["createsuperuser", "--email", "Boss@Example.com", "--password", "a strong password"],
        env=cli_env,
    )
    assert result.exit_code == 0, result.output
    user = find_user(database, "boss@example.com")
    assert user is not None and user.role is Role.ADMIN and user.is_active
    assert verify_password("a strong password", user.hashed_password)[0]
    assert "a strong password" not in result.output


def test_createsuperuser_from_environment(
    runner: CliRunner, cli_env: dict[str, str], database: Database
) -> None:
    env = {**cli_env, "CMS_ADMIN_EMAIL": "env@example.com", "CMS_ADMIN_PASSWORD": "from the env"}
    result = runner.invoke(app, ["createsuperuser"], env=env)
    assert result.exit_code == 0, result.output
    user = find_user(database, "env@example.com")
    assert user is not None and verify_password("from the env", user.hashed_password)[0]


def test_createsuperuser_prompts_when_interactive(
    runner: CliRunner, cli_env: dict[str, str], database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("cms.cli._interactive", lambda: True)
    result = runner.invoke(
        app,
        ["createsuperuser"],
        env=cli_env,
        input="asked@example.com\ntyped password\ntyped password\n",
    )
    assert result.exit_code == 0, result.output
    user = find_user(database, "asked@example.com")
    assert user is not None and verify_password("typed password", user.hashed_password)[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--email", "not-an-email", "--password", "long enough"], "not a valid email address"),
        (["--email", "a@example.com", "--password", "short"], "at least 8"),
        (["--email", "a@example.com"], "no password given"),
    ],
)
def test_createsuperuser_explains_bad_input(
    runner: CliRunner, cli_env: dict[str, str], args: list[str], message: str
) -> None:
    result = runner.invoke(app, ["createsuperuser", *args], env=cli_env)
    assert result.exit_code != 0
    assert message in result.output


def test_createsuperuser_refuses_a_taken_email(
    runner: CliRunner, cli_env: dict[str, str], make_user: UserFactory
) -> None:
    user = make_user()
    result = runner.invoke(
        app, ["createsuperuser", "--email", user.email, "--password", "long enough"], env=cli_env
    )
    assert result.exit_code == 1
    assert "Email already registered" in result.output


def test_changepassword(
    runner: CliRunner, cli_env: dict[str, str], make_user: UserFactory, database: Database
) -> None:
    user = make_user()
    result = runner.invoke(
        app, ["changepassword", user.email, "--password", "replacement pw"], env=cli_env
    )
    assert result.exit_code == 0, result.output
    after = find_user(database, user.email)
    assert after is not None
    assert verify_password("replacement pw", after.hashed_password)[0]
    assert after.session_version == user.session_version + 1
    missing = runner.invoke(
        app, ["changepassword", "ghost@example.com", "--password", "whatever pw"], env=cli_env
    )
    assert missing.exit_code == 1 and "no user" in missing.output


def test_check_reports_a_healthy_setup(runner: CliRunner, cli_env: dict[str, str]) -> None:
    result = runner.invoke(app, ["check"], env=cli_env)
    assert result.exit_code == 0, result.output
    assert "database: reachable" in result.output and "schema: at head" in result.output


def test_check_fails_on_an_unmigrated_database_and_migrate_fixes_it(
    runner: CliRunner, cli_env: dict[str, str], scratch_databases: ScratchDatabases
) -> None:
    env = {**cli_env, "CMS_DATABASE_URL": scratch_databases.create()}
    failed = runner.invoke(app, ["check"], env=env)
    assert failed.exit_code == 1
    assert "no schema yet" in failed.output
    assert runner.invoke(app, ["migrate"], env=env).exit_code == 0
    assert runner.invoke(app, ["check"], env=env).exit_code == 0


def test_check_refuses_bad_settings(runner: CliRunner, cli_env: dict[str, str]) -> None:
    env = {**cli_env, "CMS_ENVIRONMENT": "production", "CMS_SECRET_KEY": "short"}
    result = runner.invoke(app, ["check"], env=env)
    assert result.exit_code == 2
    assert "CMS_SECRET_KEY" in result.output


def test_alembic_commands_run_on_the_configured_database(
    runner: CliRunner, cli_env: dict[str, str], scratch_databases: ScratchDatabases
) -> None:
    env = {**cli_env, "CMS_DATABASE_URL": scratch_databases.create()}
    upgraded = runner.invoke(app, ["alembic", "upgrade", "head"], env=env)
    assert upgraded.exit_code == 0, upgraded.output
    current = runner.invoke(app, ["alembic", "current"], env=env)
    assert current.exit_code == 0, current.output
    assert f"{migrations.head_revision()} (head)" in current.output
    elsewhere = runner.invoke(app, ["alembic", "-c", "other.ini", "current"], env=env)
    assert elsewhere.exit_code == 2
    assert "does not apply" in elsewhere.output


def test_seed_demo_adds_mostly_published_articles(
    runner: CliRunner, cli_env: dict[str, str], database: Database
) -> None:
    result = runner.invoke(
        app, ["seed-demo", "--users", "3", "--articles", "300", "--seed", "7"], env=cli_env
    )
    assert result.exit_code == 0, result.output
    assert "Added 3 users and 300 articles" in result.output
    now = utcnow()
    with database.sessionmaker() as session:
        assert session.scalar(select(func.count()).select_from(User)) == 3
        articles = session.scalars(select(Article)).all()
    assert len(articles) == 300
    assert len({article.slug for article in articles}) == 300
    visible = [article for article in articles if article.is_visible_at(now)]
    drafts = [article for article in articles if article.status is ArticleStatus.DRAFT]
    assert len(visible) > 200 and 0 < len(drafts) < 60
    assert all(article.body_html.startswith("<p>") for article in articles)
    # Running it again adds more without slug collisions.
    again = runner.invoke(app, ["seed-demo", "--users", "0", "--articles", "50"], env=cli_env)
    assert again.exit_code == 0, again.output


def test_seed_demo_needs_authors(runner: CliRunner, cli_env: dict[str, str]) -> None:
    result = runner.invoke(app, ["seed-demo", "--users", "0", "--articles", "5"], env=cli_env)
    assert result.exit_code == 1
    assert "no active users" in result.output


def test_bootstrap_creates_one_admin_and_demo_content_once(
    runner: CliRunner, cli_env: dict[str, str], scratch_databases: ScratchDatabases
) -> None:
    url = scratch_databases.create()
    env = {**cli_env, "CMS_DATABASE_URL": url}
    first = runner.invoke(app, ["bootstrap", "--demo-articles", "10"], env=env)
    assert first.exit_code == 0, first.output
    assert "Created the first admin: admin@example.com" in first.output
    password = first.output.split("Its password (shown only now): ")[1].split()[0]
    second = runner.invoke(app, ["bootstrap", "--demo-articles", "10"], env=env)
    assert second.exit_code == 0 and "Created" not in second.output
    database = Database(url)
    try:
        with database.sessionmaker() as session:
            admin = session.scalar(select(User).where(User.role == Role.ADMIN))
            assert admin is not None and verify_password(password, admin.hashed_password)[0]
            assert session.scalar(select(func.count()).select_from(Article)) == 10
    finally:
        database.dispose()


def test_the_console_script_is_installed() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cms.cli", "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    for command in [
        "serve",
        "migrate",
        "makemigrations",
        "createsuperuser",
        "changepassword",
        "check",
        "seed-demo",
        "bootstrap",
        "dumpdata",
        "loaddata",
        "alembic",
    ]:
        assert command in result.stdout


def test_serve_runs_the_site_with_several_workers(cli_env: dict[str, str]) -> None:
    """``cms serve`` as a real process: the API and the back office answer over HTTP."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "cms.cli", "serve", "--port", str(port), "--workers", "2"],
        env={**os.environ, **cli_env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "cms serve did not answer within 30 s"
            time.sleep(0.2)
        assert httpx.get(f"http://127.0.0.1:{port}/readyz").json() == {"status": "ok"}
        assert httpx.get(f"http://127.0.0.1:{port}/admin/login").status_code == 200
    finally:
        process.terminate()
        process.communicate(timeout=30)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("garbage", "not a database URL"),
        ("postgresql://user@127.0.0.1/cms", "runs on SQLite and MySQL/MariaDB"),
    ],
)
def test_unusable_database_urls_are_explained(
    runner: CliRunner, cli_env: dict[str, str], url: str, message: str
) -> None:
    result = runner.invoke(app, ["check"], env={**cli_env, "CMS_DATABASE_URL": url})
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_migrating_to_an_unknown_revision_is_explained(
    runner: CliRunner, cli_env: dict[str, str]
) -> None:
    result = runner.invoke(app, ["migrate", "no-such-revision"], env=cli_env)
    assert result.exit_code == 1
    assert "Can't locate revision" in result.output


def _unreachable_url() -> str:
    if BACKEND == "sqlite":
        return "sqlite:////nonexistent-folder/cms.sqlite3"
    return "mysql+mysqldb://root@127.0.0.1:1/cms"


CLOSED_STDIN_COMMANDS = [
    ["createsuperuser", "--email", "boss@example.com"],
    ["changepassword", "someone@example.com"],
]
DATABASE_COMMANDS = [
    ["createsuperuser", "--email", "boss@example.com", "--password", "long enough"],
    ["changepassword", "someone@example.com", "--password", "long enough"],
    ["seed-demo", "--users", "1", "--articles", "1"],
]


def run_cms(args: list[str], env: dict[str, str], *, close_stdin: bool = False) -> tuple[int, str]:
    """``cms`` as a real process, as an operator or a script runs it."""
    command = " ".join(f"'{arg}'" for arg in [sys.executable, "-m", "cms.cli", *args])
    completed = subprocess.run(
        ["bash", "-c", command + (" <&-" if close_stdin else " </dev/null")],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return completed.returncode, completed.stdout + completed.stderr


@pytest.mark.parametrize("args", DATABASE_COMMANDS, ids=lambda args: args[0])
@pytest.mark.parametrize("state", ["unreachable", "not migrated"])
def test_commands_explain_a_database_they_cannot_use_in_one_line(
    cli_env: dict[str, str], scratch_databases: ScratchDatabases, args: list[str], state: str
) -> None:
    url = _unreachable_url() if state == "unreachable" else scratch_databases.create()
    code, output = run_cms(args, {**cli_env, "CMS_DATABASE_URL": url})
    assert code != 0
    assert "Traceback" not in output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    expected = "could not reach the database" if state == "unreachable" else "cms migrate"
    assert expected in lines[0]


@pytest.mark.parametrize("args", CLOSED_STDIN_COMMANDS, ids=lambda args: args[0])
def test_prompting_commands_with_standard_input_closed_explain_themselves(
    cli_env: dict[str, str], make_user: UserFactory, args: list[str]
) -> None:
    make_user(email="someone@example.com")
    code, output = run_cms(args, cli_env, close_stdin=True)
    assert code == 2
    assert "Traceback" not in output and "isatty" not in output
    assert "no password given and no terminal to ask on" in output


def test_changepassword_names_a_missing_user_before_asking_for_a_password(
    cli_env: dict[str, str],
) -> None:
    code, output = run_cms(["changepassword", "ghost@example.com"], cli_env, close_stdin=True)
    assert code == 1
    assert "no user with email 'ghost@example.com'" in output
    assert "password" not in output.lower().replace("changepassword", "")


def test_changepassword_points_at_an_option_it_reads(
    cli_env: dict[str, str], make_user: UserFactory
) -> None:
    user = make_user()
    _, output = run_cms(["changepassword", user.email], cli_env, close_stdin=True)
    assert "--password" in output and "CMS_ADMIN_PASSWORD" not in output


def test_serve_warns_loudly_on_a_public_address_in_development(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, object]] = []
    monkeypatch.setattr("cms.cli.uvicorn.run", lambda *args, **kwargs: calls.append(kwargs))
    public = runner.invoke(app, ["serve", "--host", "0.0.0.0"], env={})  # noqa: S104
    assert public.exit_code == 0, public.output
    assert "WARNING" in public.output and "CMS_ENVIRONMENT=production" in public.output
    local = runner.invoke(app, ["serve"], env={})
    assert "WARNING" not in local.output
    assert calls[-1]["proxy_headers"] is False  # no trusted proxies: X-Forwarded-* ignored
    assert calls[-1]["timeout_graceful_shutdown"] == 20


def test_serve_believes_forwarded_headers_only_from_configured_proxies(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, object]] = []
    monkeypatch.setattr("cms.cli.uvicorn.run", lambda *args, **kwargs: calls.append(kwargs))
    result = runner.invoke(app, ["serve"], env={"CMS_TRUSTED_PROXIES": "10.0.0.1,10.1.0.0/16"})
    assert result.exit_code == 0, result.output
    assert calls[0]["proxy_headers"] is True
    assert calls[0]["forwarded_allow_ips"] == ["10.0.0.1/32", "10.1.0.0/16"]
