"""``cms``: run, migrate and administer the CMS. Every command reads the same ``CMS_*``
settings as the server."""

import ipaddress
import logging
import os
import secrets
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Annotated

import typer
import uvicorn
from alembic.util import CommandError
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from cms import dumps, logs, migrations
from cms.actors import COMMAND_LINE, SYSTEM
from cms.articles.models import Article
from cms.config import Settings
from cms.db import Database, UnitOfWork
from cms.demo import seed_demo
from cms.errors import ConfigurationError, DomainError
from cms.media.library import MediaLibrary
from cms.roles import Role
from cms.serving import clean_exit_on_sigterm, shared_metrics_directory
from cms.users import service as users
from cms.users.changes import AccountChanges, NewAccount
from cms.users.models import User

# Seconds `cms serve` gives in-flight requests to finish after SIGTERM.
GRACEFUL_SHUTDOWN_SECONDS = 20

app = typer.Typer(
    help="Run and administer the CMS. Settings come from CMS_* environment variables.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _configure_logging() -> None:
    try:
        settings = Settings()
    except ValidationError:
        return  # the command reports it
    logs.configure_logging(settings)


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
    """The configured database for one command. Whatever goes wrong becomes one line and
    a non-zero exit, never a traceback: a refused change, a database that cannot be
    reached, a schema that was never migrated. The connection pool is closed at the end."""
    database = _database(settings)
    try:
        problem = migrations.schema_problem(database.engine)
        if problem is not None:
            raise _fail(problem)
        yield database
    except DomainError as exc:
        raise _fail(exc.message) from exc
    except DBAPIError as exc:
        raise _fail(_database_problem(database, exc)) from exc
    finally:
        database.dispose()


def _database_problem(database: Database, exc: DBAPIError) -> str:
    """Why a statement failed, in the operator's terms."""
    try:
        problem = migrations.schema_problem(database.engine)
    except DBAPIError:
        return f"could not reach the database: {_first_line(exc.orig)}"
    return problem or f"the database refused the operation: {_first_line(exc.orig)}"


def _first_line(error: object) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


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
    graceful_timeout: Annotated[
        int, typer.Option(min=0, help="Seconds in-flight requests get to finish on SIGTERM")
    ] = GRACEFUL_SHUTDOWN_SECONDS,
) -> None:
    """Serve the API, /docs and the /admin back office."""
    settings = _settings()  # refuse to start on bad settings before forking workers
    if not _is_loopback(host) and settings.environment == "development":
        typer.echo(
            "WARNING: serving a development configuration on a non-loopback address "
            f"({host}). Anyone who can reach it gets no HTTPS-only cookies and this "
            "machine's development key. For anything but a trusted network set "
            "CMS_ENVIRONMENT=production and CMS_SECRET_KEY.",
            err=True,
        )
    trusted = [str(network) for network in settings.trusted_proxies]
    with clean_exit_on_sigterm(), shared_metrics_directory(1 if reload else workers):
        uvicorn.run(
            "cms.asgi:build_app",
            factory=True,
            host=host,
            port=port,
            workers=None if reload else workers,
            reload=reload,
            # X-Forwarded-* only from the proxies named in CMS_TRUSTED_PROXIES.
            proxy_headers=bool(trusted),
            forwarded_allow_ips=trusted or None,
            timeout_graceful_shutdown=graceful_timeout,
            server_header=False,
            # Applied in every worker; the access line is RequestObserver's.
            log_config=logs.logging_config(settings),
            access_log=False,
        )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
    """Whether someone is at the terminal to answer prompts (scripts get errors instead).

    Standard input may be closed altogether (``<&-``): then nobody is there either."""
    return sys.stdin is not None and not sys.stdin.closed and sys.stdin.isatty()


def _prompt_password(password: str | None, *, how: str) -> str:
    if password is not None:
        return password
    if not _interactive():
        raise _fail(f"no password given and no terminal to ask on; {how}", 2)
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
    password = _prompt_password(password, how="use --password or CMS_ADMIN_PASSWORD")
    with _opened(settings) as database:
        user = database.run(
            lambda uow: _create_admin(uow, email=email, password=password, name=name),
            actor=SYSTEM,
            origin=COMMAND_LINE,
        )
    typer.echo(f"Created admin {user.email} (id {user.id}).")


def _create_admin(uow: UnitOfWork, *, email: str, password: str, name: str) -> User:
    account = NewAccount(email=email, password=password, name=name, role=Role.ADMIN)
    return users.create_user(uow, account=account)


@app.command()
def changepassword(
    email: Annotated[str, typer.Argument(help="The account's email")],
    password: Annotated[str | None, typer.Option(help="Prompted if absent")] = None,
) -> None:
    """Set a user's password (and sign them out everywhere)."""
    settings = _settings()
    with _opened(settings) as database:
        # Ask for a password only once there is an account to give it to.
        with database.reading() as session:
            user = users.get_user_by_email(session, email)
        if user is None:
            raise DomainError(f"no user with email {email!r}")
        password = _prompt_password(password, how="use --password")
        changes = AccountChanges(password=password)
        database.run(
            lambda uow: users.update_user(uow, user_id=user.id, changes=changes),
            actor=SYSTEM,
            origin=COMMAND_LINE,
        )
    typer.echo(f"Password changed for {user.email}.")


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
    started = time.perf_counter()
    with _opened(settings) as database:
        try:
            with typer.progressbar(length=articles, label="Articles", file=sys.stderr) as bar:
                result = seed_demo(
                    database,
                    users=users_count,
                    articles=articles,
                    seed=seed,
                    on_progress=bar.update,
                )
        except ValueError as exc:
            raise _fail(str(exc)) from exc
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

        def first_admin(uow: UnitOfWork) -> tuple[int, int]:
            has_admin = uow.session.scalar(
                select(func.count())
                .select_from(User)
                .where(User.role == Role.ADMIN, User.is_active.is_(True))
            )
            if not has_admin:
                _create_admin(uow, email=email, password=password, name="Administrator")
            article_count = uow.session.scalar(select(func.count()).select_from(Article))
            return has_admin or 0, article_count or 0

        has_admin, article_count = database.run(first_admin, actor=SYSTEM, origin=COMMAND_LINE)
        # Only once the admin is committed is its password worth showing.
        if not has_admin:
            typer.echo(f"Created the first admin: {email}")
            if generated:
                typer.echo(f"Its password (shown only now): {password}")
        if not article_count and demo_articles:
            seed_demo(database, users=5, articles=demo_articles)
            typer.echo(f"Added {demo_articles} demo articles.")


@app.command()
def dumpdata(
    output: Annotated[
        str, typer.Argument(help="File to write (mode 0600), or - for standard output")
    ] = "-",
) -> None:
    """Write the whole site (users with their password hashes, articles, everything but
    transient counters) to a JSON Lines dump that `cms loaddata` reads on either backend."""
    settings = _settings()
    typer.echo(f"WARNING: {dumps.SECRETS_WARNING}", err=True)
    started = time.perf_counter()
    with (
        _opened(settings) as database,
        dumps.snapshot(database) as snapshot,
        _dump_file(output) as out,
        typer.progressbar(length=snapshot.row_count, label="Dumping", file=sys.stderr) as bar,
    ):
        rows = snapshot.write(out, on_progress=bar.update)
    elapsed = time.perf_counter() - started
    where = "standard output" if output == "-" else output
    typer.echo(
        f"Dumped {rows} rows of {len(snapshot.tables)} tables to {where} in {elapsed:.1f}s.",
        err=True,
    )


@contextmanager
def _dump_file(output: str) -> Iterator[IO[bytes]]:
    """``output`` opened for writing: only its owner may read it, and it appears under its
    name only once complete (a failed dump leaves no file that looks like a good one)."""
    if output == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    path = Path(output)
    partial = path.with_name(f".{path.name}.partial")
    try:
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as exc:
        raise _fail(f"cannot write {output}: {exc.strerror}") from exc
    try:
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "wb", buffering=1024 * 1024) as out:
            yield out
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


@app.command()
def loaddata(
    dump: Annotated[str, typer.Argument(help="A file written by `cms dumpdata`, or - for stdin")],
) -> None:
    """Load a dump into an empty database migrated to the dump's revision (`cms migrate`),
    in one transaction: a dump that fails to load leaves the database empty."""
    settings = _settings()
    started = time.perf_counter()
    with _opened(settings) as database, _dump_source(dump) as source:
        reader = dumps.DumpReader(source, "stdin" if dump == "-" else dump)
        with typer.progressbar(
            length=reader.header.row_count, label="Loading", file=sys.stderr
        ) as bar:
            rows = dumps.load(database, reader, on_progress=bar.update)
    elapsed = time.perf_counter() - started
    typer.echo(
        f"Loaded {rows} rows of {len(reader.header.tables)} tables from {dump} "
        f"(dumped {reader.header.created_at}) in {elapsed:.1f}s."
    )


@contextmanager
def _dump_source(dump: str) -> Iterator[IO[bytes]]:
    if dump == "-":
        yield sys.stdin.buffer
        return
    try:
        source = open(dump, "rb")  # noqa: SIM115 (closed below, after the load)
    except OSError as exc:
        raise _fail(f"cannot read {dump}: {exc.strerror}") from exc
    with source:
        yield source


media_app = typer.Typer(help="The media store (CMS_MEDIA_ROOT).", no_args_is_help=True)
app.add_typer(media_app, name="media")


@media_app.command("gc")
def media_gc(
    dry_run: Annotated[
        bool, typer.Option(help="List what would be removed; remove nothing")
    ] = False,
) -> None:
    """Remove stored bytes no asset uses any more (left by a failed upload or a delete),
    once they are older than CMS_MEDIA_GC_GRACE_SECONDS."""
    settings = _settings()
    with _opened(settings) as database:
        library = MediaLibrary.from_settings(settings, database)
        garbage = library.garbage()
        for sha256 in garbage:
            typer.echo(sha256)
        if not dry_run:
            library.collect(garbage)
    verb = "would remove" if dry_run else "removed"
    typer.echo(f"{verb} the files of {len(garbage)} unused images", err=True)


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def alembic(ctx: typer.Context) -> None:
    """Run any Alembic command on this installation's migrations and database, e.g.
    `cms alembic current` (`cms alembic --help` lists them)."""
    settings = _settings()
    # What alembic.ini's logging section does for the `alembic` command.
    logging.basicConfig(format="%(levelname)-5.5s [%(name)s] %(message)s")
    logging.getLogger("alembic").setLevel(logging.INFO)
    try:
        migrations.run_alembic(settings.database_url, ctx.args, prog="cms alembic")
    except DBAPIError as exc:
        raise _fail(f"database error: {_first_line(exc.orig)}") from exc
    except ConfigurationError as exc:
        raise _fail(str(exc), 2) from exc


if __name__ == "__main__":
    app()
