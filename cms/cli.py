"""``cms``: run, migrate and administer the CMS. Every command reads the same ``CMS_*``
settings as the server."""

import secrets
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
import uvicorn
from alembic.util import CommandError
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from cms import migrations
from cms.articles.models import Article
from cms.config import Settings
from cms.db import Database
from cms.demo import seed_demo
from cms.errors import ConfigurationError, DomainError
from cms.users import service as users
from cms.users.models import Role, User

app = typer.Typer(
    help="Run and administer the CMS. Settings come from CMS_* environment variables.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]) or "settings"
            typer.echo(f"Configuration error ({field}): {error['msg']}", err=True)
        raise typer.Exit(2) from exc


def _database(settings: Settings) -> Database:
    try:
        return Database(settings.database_url, echo=settings.sql_echo)
    except ConfigurationError as exc:
        raise _fail(str(exc), 2) from exc


@contextmanager
def _opened(settings: Settings) -> Iterator[Database]:
    """The configured database for one command: a domain error becomes a one-line
    failure, and the connection pool is closed whatever happens."""
    database = _database(settings)
    try:
        yield database
    except DomainError as exc:
        raise _fail(exc.message) from exc
    finally:
        database.dispose()


def _upgrade(settings: Settings, revision: str = "head") -> None:
    try:
        migrations.upgrade(settings.database_url, revision)
    except DBAPIError as exc:
        raise _fail(f"could not migrate the database: {exc.orig}") from exc
    except (CommandError, ConfigurationError) as exc:
        raise _fail(str(exc)) from exc


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"Error: {message}", err=True)
    return typer.Exit(code)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes")] = 1,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development)")] = False,
) -> None:
    """Serve the API, /docs and the /admin back office."""
    _settings()  # refuse to start on bad settings before forking workers
    uvicorn.run(
        "cms.asgi:app",
        host=host,
        port=port,
        workers=None if reload else workers,
        reload=reload,
        proxy_headers=True,
    )


@app.command()
def migrate(
    revision: Annotated[str, typer.Argument(help="Target revision")] = "head",
) -> None:
    """Bring the database schema up to date (creating it on first run)."""
    _upgrade(_settings(), revision)
    typer.echo(f"Database is at {revision}.")


@app.command()
def makemigrations(
    message: Annotated[str, typer.Option("-m", "--message", help="What the migration does")],
) -> None:
    """Autogenerate a migration from the models (review it before committing)."""
    settings = _settings()
    migrations.make_migration(settings.database_url, message)


def _interactive() -> bool:
    """Whether someone is at the terminal to answer prompts (scripts get errors instead)."""
    return sys.stdin.isatty()


def _prompt_password(password: str | None) -> str:
    if password is not None:
        return password
    if not _interactive():
        raise _fail("no password given; use --password or CMS_ADMIN_PASSWORD", 2)
    value: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


@app.command()
def createsuperuser(
    email: Annotated[str | None, typer.Option(help="Defaults to CMS_ADMIN_EMAIL")] = None,
    password: Annotated[
        str | None, typer.Option(help="Defaults to CMS_ADMIN_PASSWORD; prompted if absent")
    ] = None,
    name: Annotated[str, typer.Option(help="Display name")] = "Administrator",
) -> None:
    """Create an admin account (interactive, or scripted with options / environment)."""
    settings = _settings()
    email = email or settings.admin_email
    if email is None:
        if not _interactive():
            raise _fail("no email given; use --email or CMS_ADMIN_EMAIL", 2)
        email = typer.prompt("Email")
    if password is None and settings.admin_password is not None:
        password = settings.admin_password.get_secret_value()
    password = _prompt_password(password)
    with _opened(settings) as database, database.transaction() as session:
        user = _create_admin(session, email=email, password=password, name=name)
    typer.echo(f"Created admin {user.email} (id {user.id}).")


def _create_admin(session: Session, *, email: str, password: str, name: str) -> User:
    return users.create_user(
        session,
        actor=_operator(),
        email=email,
        password=password,
        name=name,
        role=Role.ADMIN,
    )


def _operator() -> User:
    """Whoever runs the CLI operates the server, so acts with an admin's authority.

    A transient, never-saved admin: the services' permission checks pass for it without
    a special case, and it can never sign in.
    """
    return User(id=0, email="operator@localhost", role=Role.ADMIN, is_active=True)


@app.command()
def changepassword(
    email: Annotated[str, typer.Argument(help="The account's email")],
    password: Annotated[str | None, typer.Option(help="Prompted if absent")] = None,
) -> None:
    """Set a user's password (and sign them out everywhere)."""
    settings = _settings()
    password = _prompt_password(password)
    with _opened(settings) as database, database.transaction() as session:
        user = users.get_user_by_email(session, email)
        if user is None:
            raise DomainError(f"no user with email {email!r}")
        users.update_user(session, actor=_operator(), target=user, changes={"password": password})
    typer.echo(f"Password changed for {email}.")


@app.command()
def check() -> None:
    """Check the settings, that the database answers, and that its schema is current."""
    settings = _settings()
    typer.echo(f"settings: ok (environment={settings.environment})")
    database = _database(settings)
    try:
        problem = migrations.schema_problem(database.engine)
    except DBAPIError as exc:
        raise _fail(f"database unreachable: {exc.orig}") from exc
    finally:
        database.dispose()
    typer.echo("database: reachable")
    if problem is not None:
        raise _fail(problem)
    typer.echo(f"schema: at head ({migrations.head_revision()})")


@app.command("seed-demo")
def seed_demo_command(
    users_count: Annotated[int, typer.Option("--users", min=0, help="Demo authors to add")] = 10,
    articles: Annotated[int, typer.Option(min=0, help="Articles to add")] = 200,
    seed: Annotated[int | None, typer.Option(help="Random seed, for repeatable data")] = None,
) -> None:
    """Fill the database with demo authors and articles (batched: 100k in seconds)."""
    settings = _settings()
    database = _database(settings)
    started = time.perf_counter()
    try:
        with typer.progressbar(length=articles, label="Articles", file=sys.stderr) as bar:
            result = seed_demo(
                database, users=users_count, articles=articles, seed=seed, on_progress=bar.update
            )
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    finally:
        database.dispose()
    elapsed = time.perf_counter() - started
    typer.echo(f"Added {result.users} users and {result.articles} articles in {elapsed:.1f}s.")


@app.command()
def bootstrap(
    demo_articles: Annotated[int, typer.Option(min=0, help="Demo articles on an empty site")] = 60,
) -> None:
    """First run: migrate, create an admin if there is no active one (printing its password once),
    and add demo content if there are no articles."""
    settings = _settings()
    _upgrade(settings)
    email = settings.admin_email or "admin@example.com"
    generated = settings.admin_password is None
    password = (
        secrets.token_urlsafe(12)
        if settings.admin_password is None
        else settings.admin_password.get_secret_value()
    )
    with _opened(settings) as database:
        with database.transaction() as session:
            has_admin = session.scalar(
                select(func.count())
                .select_from(User)
                .where(User.role == Role.ADMIN, User.is_active.is_(True))
            )
            if not has_admin:
                _create_admin(session, email=email, password=password, name="Administrator")
            article_count = session.scalar(select(func.count()).select_from(Article))
        # Only once the admin is committed is its password worth showing.
        if not has_admin:
            typer.echo(f"Created the first admin: {email}")
            if generated:
                typer.echo(f"Its password (shown only now): {password}")
        if not article_count and demo_articles:
            seed_demo(database, users=5, articles=demo_articles)
            typer.echo(f"Added {demo_articles} demo articles.")


if __name__ == "__main__":
    app()
