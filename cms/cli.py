"""``cms``: run, migrate and administer the CMS. Every command reads the same ``CMS_*``
settings as the server."""

import ipaddress
import logging
import os
import secrets
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import IO, Annotated

import typer
import uvicorn
from alembic.util import CommandError
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from cms import bulk, dumps, logs, migrations
from cms.accounts import messages as _account_messages  # noqa: F401 (registers the composers)
from cms.accounts import service as accounts
from cms.actors import COMMAND_LINE, SYSTEM
from cms.apikeys import service as apikeys
from cms.articles import rerender
from cms.articles.models import Article
from cms.articles.rendering import RENDERER_VERSION
from cms.changes import UNSET, Unset
from cms.config import Settings
from cms.db import Database, UnitOfWork, utcnow
from cms.demo import seed_demo
from cms.errors import ConfigurationError, DomainError
from cms.mail.worker import MailWorker
from cms.roles import Role
from cms.serving import clean_exit_on_sigterm, shared_metrics_directory
from cms.site_settings import service as site_settings
from cms.site_settings.values import NavLink, defaults_from
from cms.twofactor import service as twofactor
from cms.users import service as users
from cms.users.changes import AccountChanges, NewAccount
from cms.users.models import User
from cms.webhooks import service as webhooks
from cms.webhooks.dispatcher import Dispatcher

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
        return Database(settings.database_url, echo=settings.sql_echo, limits=settings.write_limits)
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


class _PrintedProgress(bulk.Progress):
    """A bulk load's progress on standard error, a line at a time (readable in a log as
    on a terminal): each phase as it starts and ends with its time, and while loading,
    rows done and rows per second every few seconds."""

    EVERY_SECONDS = 5.0

    def __init__(self, unit: str) -> None:
        self.unit = unit
        self.name: str | None = None
        self.total: int | None = None
        self.done = 0
        self.started = self.printed = 0.0

    def _say(self, line: str) -> None:
        typer.echo(line, err=True)

    def _end_phase(self) -> None:
        if self.name is None:
            return
        elapsed = time.perf_counter() - self.started
        rate = f", {self.done / elapsed:,.0f} {self.unit}/s" if self.done and elapsed else ""
        counted = f" {self.done:,} {self.unit}" if self.done else ""
        self._say(f"{self.name}: done,{counted} in {elapsed:.1f}s{rate}")
        self.name = None

    def phase(self, name: str, total: int | None = None) -> None:
        self._end_phase()
        self.name, self.total, self.done = name, total, 0
        self.started = self.printed = time.perf_counter()
        of = f" {total:,} {self.unit}" if total is not None else ""
        self._say(f"{name}{of}…")

    def advance(self, done: int) -> None:
        first = self.done == 0
        self.done += done
        now = time.perf_counter()
        if not first and now - self.printed < self.EVERY_SECONDS:
            return
        self.printed = now
        elapsed = now - self.started
        share = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        of = f"/{self.total:,}" if self.total is not None else ""
        rate = f", {self.done / elapsed:,.0f} {self.unit}/s" if elapsed else ""
        self._say(f"{self.name}: {self.done:,}{of} {self.unit}{share}{rate}")

    def finish(self) -> None:
        self._end_phase()

    def stop(self) -> None:
        if self.name is not None:
            elapsed = time.perf_counter() - self.started
            self._say(f"{self.name}: stopped after {self.done:,} {self.unit} in {elapsed:.1f}s")
            self.name = None


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
    deliver_webhooks: Annotated[
        bool,
        typer.Option(
            "--webhooks/--no-webhooks",
            help="Run a webhook dispatcher beside the server (off: run `cms webhooks run`)",
        ),
    ] = True,
    send_mail: Annotated[
        bool,
        typer.Option(
            "--mail/--no-mail",
            help="Run a mail worker beside the server (off: run `cms mail run`)",
        ),
    ] = True,
) -> None:
    """Serve the API, /docs and the /admin back office (and deliver webhooks and mail)."""
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
    with (
        clean_exit_on_sigterm(),
        shared_metrics_directory(1 if reload else workers),
        _dispatching(settings, enabled=deliver_webhooks),
        _mailing(settings, enabled=send_mail),
    ):
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


@contextmanager
def _dispatching(settings: Settings, *, enabled: bool) -> Iterator[None]:
    """A webhook dispatcher in a thread of this process while the block runs."""
    if not enabled:
        yield
        return
    database = _database(settings)
    dispatcher = Dispatcher.from_settings(database, settings)
    try:
        with _rounds_in_a_thread(
            dispatcher.run,
            poll_seconds=settings.webhooks_poll_seconds,
            name="webhook-dispatcher",
            join_seconds=settings.webhooks_timeout_seconds + 5,
        ):
            yield
    finally:
        dispatcher.close()
        database.dispose()


@contextmanager
def _mailing(settings: Settings, *, enabled: bool) -> Iterator[None]:
    """A mail worker in a thread of this process while the block runs."""
    if not enabled:
        yield
        return
    database = _database(settings)
    worker = MailWorker(database, settings)
    try:
        with _rounds_in_a_thread(
            worker.run,
            poll_seconds=settings.mail_poll_seconds,
            name="mail-worker",
            join_seconds=worker.lease.total_seconds(),
        ):
            yield
    finally:
        database.dispose()


@contextmanager
def _rounds_in_a_thread(
    run: Callable[..., None], *, poll_seconds: float, name: str, join_seconds: float
) -> Iterator[None]:
    """``run(stop, poll_seconds=…)`` (a worker's rounds, cms.rounds) in a daemon thread
    while the block runs; then told to stop, and waited for up to ``join_seconds``."""
    stop = threading.Event()
    thread = threading.Thread(
        target=run, args=(stop,), kwargs={"poll_seconds": poll_seconds}, name=name, daemon=True
    )
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=join_seconds)


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
    settings = _settings()
    _upgrade(settings, revision)
    typer.echo(f"Database is at {revision}.")
    if revision == "head":
        # Indexes a bulk load dropped and could not build again (its process was killed).
        with _opened(settings) as database:
            built = bulk.restore(database, _PrintedProgress("rows"))
        if built:
            typer.echo(f"Built the indexes a bulk load had left missing: {', '.join(built)}.")


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


@app.command("reset-two-factor")
def reset_two_factor(
    email: Annotated[str, typer.Argument(help="The account's email")],
) -> None:
    """Switch off a user's two-factor sign-in (a lost phone, no recovery codes, no other
    admin to do it in the back office); signs them out everywhere and emails them."""
    settings = _settings()
    with _opened(settings) as database:
        with database.reading() as session:
            user = users.get_user_by_email(session, email)
        if user is None:
            raise DomainError(f"no user with email {email!r}")
        database.run(twofactor.ResetTwoFactor(user_id=user.id), actor=SYSTEM, origin=COMMAND_LINE)
    typer.echo(f"Two-factor sign-in reset for {user.email}; they are signed out everywhere.")


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
    database = _database(settings)
    try:
        with database.engine.connect() as connection:
            problem = bulk.index_problem(connection)
    finally:
        database.dispose()
    if problem is not None:
        raise _fail(problem)
    typer.echo("indexes: complete")


@app.command("seed-demo")
def seed_demo_command(
    users_count: Annotated[int, typer.Option("--users", min=0, help="Demo authors to add")] = 10,
    articles: Annotated[int, typer.Option(min=0, help="Articles to add")] = 200,
    seed: Annotated[int | None, typer.Option(help="Random seed, for repeatable data")] = None,
    defer_indexes: Annotated[
        bool | None,
        typer.Option(
            "--defer-indexes/--keep-indexes",
            help="Build the articles' secondary and full-text indexes after loading "
            f"(default: for {bulk.DEFER_THRESHOLD:,} articles or more, at least as many as "
            "there are)",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Fill the database with demo authors and articles (batched: a million in minutes)."""
    settings = _settings()
    started = time.perf_counter()
    with _opened(settings) as database:
        try:
            result = seed_demo(
                database,
                users=users_count,
                articles=articles,
                seed=seed,
                progress=_PrintedProgress("articles"),
                defer_indexes=defer_indexes,
            )
        except ValueError as exc:
            raise _fail(str(exc)) from exc
    elapsed = time.perf_counter() - started
    typer.echo(f"Added {result.users} users and {result.articles} articles in {elapsed:.1f}s.")


@app.command("rerender")
def rerender_command(
    batch_size: Annotated[
        int, typer.Option(min=1, max=10_000, help="Articles per transaction")
    ] = rerender.BATCH_SIZE,
) -> None:
    """Render again the articles an older Markdown renderer stored (resumable: a second
    run, or one after an interrupted run, does only what is left)."""
    settings = _settings()
    started = time.perf_counter()
    with _opened(settings) as database:

        def report(progress: rerender.RerenderProgress) -> None:
            typer.echo(
                f"{progress.checked}/{progress.to_do} checked: {progress.changed} changed, "
                f"{progress.unchanged} unchanged, {progress.skipped} saved meanwhile, "
                f"{len(progress.refused)} refused",
                err=True,
            )

        result = rerender.rerender_articles(database, batch_size=batch_size, on_batch=report)
    elapsed = time.perf_counter() - started
    for article_id, reason in result.refused:
        typer.echo(f"Article {article_id} kept its old HTML: {reason}", err=True)
    typer.echo(
        f"Renderer {RENDERER_VERSION}: {result.changed} articles re-rendered, "
        f"{result.unchanged} already up to date, {result.skipped} saved meanwhile, "
        f"{len(result.refused)} refused, in {elapsed:.1f}s."
    )


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
    try:
        # A new file under a random name, created exclusively (O_EXCL): a file or a
        # symlink someone else placed beside the output is never opened, let alone
        # written through. mkstemp makes it 0600.
        descriptor, name = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".partial"
        )
    except OSError as exc:
        raise _fail(f"cannot write {output}: {exc.strerror}") from exc
    partial = Path(name)
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
        rows = dumps.load(database, reader, progress=_PrintedProgress("rows"))
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
    # Imported here: the library records metrics, and prometheus_client must not be
    # loaded before `cms serve` has prepared its multiprocess directory.
    from cms.media.library import MediaLibrary

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


webhooks_app = typer.Typer(help="Webhook endpoints, and the dispatcher that delivers to them.")
app.add_typer(webhooks_app, name="webhooks")


@webhooks_app.command("add")
def webhooks_add(
    url: Annotated[str, typer.Argument(help="Where to POST, e.g. https://example.com/hooks")],
    event: Annotated[
        list[str] | None,
        typer.Option("--event", help="An event type to send (repeat; none: every type)"),
    ] = None,
) -> None:
    """Add an endpoint; prints its id and its secret (shown this once only)."""
    settings = _settings()
    with _opened(settings) as database:
        added = database.run(
            webhooks.AddEndpoint(
                url=url,
                events=tuple(event or ()),
                site_key=settings.secret,
                allow_private=settings.webhooks_allow_private_targets,
            ),
            actor=SYSTEM,
            origin=COMMAND_LINE,
        )
    typer.echo(f"id: {added.endpoint.id}")
    typer.echo(f"secret: {added.secret}")


@webhooks_app.command("list")
def webhooks_list() -> None:
    """Every endpoint: id, state, events, URL."""
    settings = _settings()
    with _opened(settings) as database, database.reading() as session:
        for endpoint in webhooks.list_endpoints(session, SYSTEM):
            state = "enabled" if endpoint.enabled else f"disabled ({endpoint.disabled_reason})"
            events = ",".join(webhooks.subscribed_events(endpoint)) or "*"
            typer.echo(f"{endpoint.id}\t{state}\t{events}\t{endpoint.url}")


@webhooks_app.command("remove")
def webhooks_remove(endpoint_id: Annotated[int, typer.Argument(metavar="ID")]) -> None:
    """Remove an endpoint, with its deliveries."""
    settings = _settings()
    with _opened(settings) as database:
        database.run(
            webhooks.RemoveEndpoint(endpoint_id=endpoint_id), actor=SYSTEM, origin=COMMAND_LINE
        )
    typer.echo(f"Removed webhook endpoint {endpoint_id}.")


@webhooks_app.command("rotate")
def webhooks_rotate(
    endpoint_id: Annotated[int, typer.Argument(metavar="ID")],
    grace: Annotated[
        int, typer.Option(min=0, help="Seconds the old secret keeps signing too")
    ] = 86_400,
) -> None:
    """Give an endpoint a new secret (printed once); the old one signs too for --grace s."""
    settings = _settings()
    with _opened(settings) as database:
        rotated = database.run(
            webhooks.RotateSecret(
                endpoint_id=endpoint_id, site_key=settings.secret, grace_seconds=grace
            ),
            actor=SYSTEM,
            origin=COMMAND_LINE,
        )
    typer.echo(f"id: {rotated.endpoint.id}")
    typer.echo(f"secret: {rotated.secret}")


@webhooks_app.command("ping")
def webhooks_ping(endpoint_id: Annotated[int, typer.Argument(metavar="ID")]) -> None:
    """Send a ping event to one endpoint (delivered by the dispatcher)."""
    settings = _settings()
    with _opened(settings) as database:
        database.run(webhooks.SendPing(endpoint_id=endpoint_id), actor=SYSTEM, origin=COMMAND_LINE)
    typer.echo(f"Ping queued for webhook endpoint {endpoint_id}.")


@webhooks_app.command("run")
def webhooks_run(
    once: Annotated[
        bool, typer.Option("--once", help="Deliver what is due now, then exit")
    ] = False,
) -> None:
    """Deliver webhooks until stopped (SIGINT or SIGTERM). Run as many as you like."""
    settings = _settings()
    with _opened(settings) as database, Dispatcher.from_settings(database, settings) as dispatcher:
        if once:
            handled = 0
            while worked := dispatcher.run_once():
                handled += worked
            typer.echo(f"Handled {handled} events and deliveries.")
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda _signal, _frame: stop.set())
        try:
            dispatcher.run(stop, poll_seconds=settings.webhooks_poll_seconds)
        except KeyboardInterrupt:
            stop.set()


mail_app = typer.Typer(help="Outgoing mail: the worker that sends the queue.")
app.add_typer(mail_app, name="mail")


@mail_app.command("run")
def mail_run(
    once: Annotated[bool, typer.Option("--once", help="Send what is due now, then exit")] = False,
) -> None:
    """Send queued mail until stopped (SIGINT or SIGTERM). Run as many as you like."""
    settings = _settings()
    with _opened(settings) as database:
        worker = MailWorker(database, settings)
        if once:
            handled = 0
            while worked := worker.run_once():
                handled += worked
            typer.echo(f"Handled {handled} messages.")
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda _signal, _frame: stop.set())
        try:
            worker.run(stop, poll_seconds=settings.mail_poll_seconds)
        except KeyboardInterrupt:
            stop.set()


@app.command()
def invite(
    email: Annotated[str, typer.Argument(help="Who to invite")],
    role: Annotated[Role, typer.Option(help="The role their account gets")] = Role.AUTHOR,
) -> None:
    """Invite someone by email; they choose their name and password from the link."""
    settings = _settings()
    base = (settings.site_url or "http://127.0.0.1:8000").rstrip("/")
    with _opened(settings) as database:
        link = database.run(
            accounts.Invite(
                email=email,
                role=role,
                base=base,
                lifetime=timedelta(days=settings.invitation_expire_days),
            ),
            actor=SYSTEM,
            origin=COMMAND_LINE,
        )
    typer.echo(
        f"Invited {link.email} as {role.value}; "
        f"the link works until {link.expires_at:%Y-%m-%d %H:%M} UTC."
    )


apikey_app = typer.Typer(help="API keys for front ends and scripts.")
app.add_typer(apikey_app, name="apikey")


@apikey_app.command("create")
def apikey_create(
    name: Annotated[str, typer.Option(help="What the key is for")],
    scope: Annotated[
        list[str],
        typer.Option(
            help="content:read, drafts:read, articles:write, media:write, webhooks:manage"
        ),
    ],
    owner: Annotated[
        str | None, typer.Option(help="The owning user's email (none: an integration key)")
    ] = None,
    expires: Annotated[int | None, typer.Option(help="Days until it expires")] = None,
) -> None:
    """Make a key; it is printed once, alone on the last line."""
    settings = _settings()
    with _opened(settings) as database:
        owner_id = None
        if owner is not None:
            with database.reading() as session:
                user = users.get_user_by_email(session, owner)
            if user is None:
                raise DomainError(f"no user with email {owner!r}")
            owner_id = user.id
        made = database.run(
            apikeys.CreateKey(
                key_name=name, scopes=tuple(scope), owner_id=owner_id, expires_days=expires
            ),
            actor=SYSTEM,
            origin=COMMAND_LINE,
        )
    typer.echo(f"Created API key {made.api_key.id} ({made.api_key.scopes}); shown this once:")
    typer.echo(made.key)


@apikey_app.command("list")
def apikey_list() -> None:
    """Every key: id, name, scopes, owner, state, last use. Never the key itself."""
    settings = _settings()
    with _opened(settings) as database, database.reading() as session:
        now = utcnow()
        for key in apikeys.list_keys(session, SYSTEM):
            if key.revoked_at is not None:
                state = "revoked"
            elif key.expires_at is not None and key.expires_at <= now:
                state = "expired"
            else:
                state = "active"
            owner = f"user {key.owner_id}" if key.owner_id is not None else "integration"
            used = key.last_used_at.isoformat() if key.last_used_at else "never used"
            typer.echo(f"{key.id}\t{key.name}\t{key.scopes}\t{owner}\t{state}\t{used}")


@apikey_app.command("revoke")
def apikey_revoke(key_id: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """Stop a key from working, from its next request on."""
    settings = _settings()
    with _opened(settings) as database:
        database.run(apikeys.RevokeKey(key_id=key_id), actor=SYSTEM, origin=COMMAND_LINE)
    typer.echo(f"Revoked API key {key_id}.")


@apikey_app.command("rotate")
def apikey_rotate(
    key_id: Annotated[str, typer.Argument(metavar="ID")],
    grace: Annotated[int, typer.Option(min=0, help="Seconds the old secret keeps working")] = 3600,
) -> None:
    """Give a key a new secret (printed once, alone on the last line)."""
    settings = _settings()
    with _opened(settings) as database:
        made = database.run(
            apikeys.RotateKey(key_id=key_id, grace_seconds=grace),
            actor=SYSTEM,
            origin=COMMAND_LINE,
        )
    typer.echo(f"Rotated API key {key_id}; the old secret works for {grace} s more:")
    typer.echo(made.key)


site_app = typer.Typer(
    help="The site's name, description, logo and navigation links.", no_args_is_help=True
)
app.add_typer(site_app, name="site")


@site_app.command("show")
def site_show() -> None:
    """Print the site settings (the defaults until someone saves them)."""
    settings = _settings()
    with _opened(settings) as database:
        defaults = defaults_from(settings)
        stored = database.read(lambda connection: site_settings.site_settings(connection, defaults))
    typer.echo(f"name: {stored.name}")
    typer.echo(f"description: {stored.description}")
    logo = stored.logo
    typer.echo(f"logo: {f'image {logo.id} ({logo.url})' if logo is not None else 'none'}")
    for number, link in enumerate(stored.nav, start=1):
        typer.echo(f"link {number}: {link.label} -> {link.url}")
    saved = stored.updated_at.isoformat() if stored.updated_at else "never"
    typer.echo(f"saved: {saved}")


@site_app.command("set")
def site_set(
    name: Annotated[str | None, typer.Option(help="The site's name")] = None,
    description: Annotated[str | None, typer.Option(help="One or two sentences")] = None,
    logo: Annotated[
        int | None, typer.Option(min=0, help="A media library image's id; 0 for no logo")
    ] = None,
    link: Annotated[
        list[str] | None,
        typer.Option(help="LABEL=ADDRESS, repeated in order; replaces every link"),
    ] = None,
    no_links: Annotated[bool, typer.Option(help="Remove every navigation link")] = False,
) -> None:
    """Change the site settings (audited, as the command line); what is not given stays."""
    nav: tuple[NavLink, ...] | Unset = UNSET
    if no_links:
        nav = ()
    elif link:
        pairs = [entry.partition("=") for entry in link]
        missing = next(
            (entry for entry, (_l, sep, _u) in zip(link, pairs, strict=True) if not sep), None
        )
        if missing is not None:
            raise _fail(f"--link {missing!r}: give it as LABEL=ADDRESS, e.g. About=/about", 2)
        nav = tuple(NavLink(label=label, url=url) for label, _sep, url in pairs)
    changes = site_settings.SiteSettingsChanges(
        name=UNSET if name is None else name,
        description=UNSET if description is None else description,
        logo_id=UNSET if logo is None else (logo or None),
        nav=nav,
    )
    settings = _settings()
    with _opened(settings) as database:
        changed = database.run(
            site_settings.UpdateSiteSettings(changes=changes, defaults=defaults_from(settings)),
            actor=SYSTEM,
            origin=COMMAND_LINE,
        )
    typer.echo(f"Changed: {', '.join(sorted(changed))}." if changed else "Nothing changed.")


if __name__ == "__main__":
    app()
