"""``cms dumpdata`` and ``cms loaddata``: a whole site reads back identical on the same
backend and on the other one, and every bad dump or target is refused with nothing loaded."""

import json
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import bcrypt
import httpx
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Integer,
    Interval,
    String,
    Table,
    create_engine,
    delete,
    insert,
    select,
    text,
)
from typer.testing import CliRunner

from cms import migrations
from cms.articles.models import Article, ArticleStatus
from cms.articles.rendering import render_markdown
from cms.asgi import build_app
from cms.cli import app as cli
from cms.db import Base, Database
from cms.dumps import dumped_tables
from cms.fields import BODY_MAX_BYTES
from cms.roles import Role
from cms.users.models import User
from tests.conftest import (
    BACKEND,
    MARIADB_SERVER_URL,
    TEST_SECRET_KEY,
    LiveServer,
    ScratchDatabases,
    make_settings,
)

OTHER_BACKEND = "mariadb" if BACKEND == "sqlite" else "sqlite"
LEGACY_PASSWORD = "an old bcrypt password"
ARGON_PASSWORD = "a current argon2 password"
T0 = datetime(2026, 3, 1, 12, 30, 45, 123456, tzinfo=UTC)

runner = CliRunner()


@cache
def mariadb_reachable() -> bool:
    engine = create_engine(MARIADB_SERVER_URL)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
    finally:
        engine.dispose()


def require(backend: str) -> None:
    """Skip unless ``backend`` answers; in CI (CMS_REQUIRE_MARIADB=1) that is a failure."""
    if backend == "sqlite" or mariadb_reachable():
        return
    message = f"MariaDB is not reachable at {MARIADB_SERVER_URL}"
    if os.environ.get("CMS_REQUIRE_MARIADB") == "1":
        pytest.fail(message)
    pytest.skip(message)


def cms(*args: str, url: str) -> Any:
    env = {"CMS_DATABASE_URL": url, "CMS_ENVIRONMENT": "test", "CMS_SECRET_KEY": TEST_SECRET_KEY}
    return runner.invoke(cli, list(args), env=env)


def migrated(scratch_databases: ScratchDatabases, backend: str = BACKEND) -> str:
    require(backend)
    url = scratch_databases.create(backend)
    migrations.upgrade(url)
    return url


def every_row(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every dumped table, as the models' types read them, in id order."""
    database = Database(url)
    try:
        with database.engine.connect() as connection:
            return {
                table.name: [
                    tuple(row)
                    for row in connection.execute(
                        select(table).order_by(*table.primary_key.columns)
                    )
                ]
                for table in dumped_tables()
            }
    finally:
        database.dispose()


def assert_same_rows(expected: dict[str, list[tuple[Any, ...]]], actual: dict[str, Any]) -> None:
    # Row by row, naming the column: a failing 1 MiB body would drown pytest's own diff.
    assert list(actual) == list(expected)
    for name, rows in expected.items():
        assert len(actual[name]) == len(rows), name
        columns = [column.name for column in Base.metadata.tables[name].columns]
        for want, got in zip(rows, actual[name], strict=True):
            for column, a, b in zip(columns, want, got, strict=True):
                assert (type(a), a) == (type(b), b), f"{name}.{column} of row {want[0]}"


@dataclass(frozen=True)
class Site:
    url: str
    dump: Path
    rows: dict[str, list[tuple[Any, ...]]]
    legacy_user: str
    argon_user: str
    deleted_user_id: int
    deleted_article_id: int


def build_site(url: str) -> Site:
    """Users of every role (one with a bcrypt hash from an older system), articles with
    emoji, right-to-left text and a 1 MiB body, drafts, scheduled and published ones; and
    the newest user and article deleted, so the id counters are ahead of the largest ids."""
    database = Database(url)
    big_body = ("Ünïcødé 🚀 שלום עולם مرحبا " * 40_000).encode()[:BODY_MAX_BYTES]
    try:
        with database.transaction() as session:
            users = []
            for number, role in enumerate([Role.ADMIN, Role.EDITOR, Role.AUTHOR, Role.AUTHOR]):
                user = User(
                    email=f"user{number}@example.com",
                    name=["Ada 👩‍💻", "עורך", "كاتب", "Plain"][number],
                    role=role,
                    is_active=number != 3,
                    created_at=T0 + timedelta(microseconds=number),
                    updated_at=T0 + timedelta(days=number, microseconds=999_999 - number),
                )
                user.set_password(ARGON_PASSWORD)
                users.append(user)
            users[2].hashed_password = bcrypt.hashpw(
                LEGACY_PASSWORD.encode(), bcrypt.gensalt(rounds=4)
            ).decode()
            ghost = User(email="ghost@example.com", role=Role.AUTHOR, hashed_password="x")
            session.add_all([*users, ghost])
            session.flush()
            bodies = [
                "Emoji 🎉🧪 and ZWJ 👨‍👩‍👧 in **Markdown**",
                "עברית מימין לשמאל\n\nالعربية أيضا",  # noqa: RUF001
                big_body.decode("utf-8", errors="ignore"),
                "",
            ]
            articles = [
                Article(
                    title=f"{['🚀 Launch', 'שלום', 'Big', 'Draft'][n]} {n}",
                    slug=f"article-{n}",
                    body=body,
                    body_html=render_markdown(body),
                    status=ArticleStatus.DRAFT if n == 3 else ArticleStatus.PUBLISHED,
                    # published, published, scheduled for next year, draft
                    published_at=[T0, T0 + timedelta(microseconds=1), T0 + timedelta(days=365)][n]
                    if n < 3
                    else None,
                    created_at=T0 - timedelta(seconds=n, microseconds=n),
                    updated_at=T0,
                    author_id=users[n % 3].id,
                )
                for n, body in enumerate(bodies)
            ]
            doomed = Article(title="Gone", slug="gone", author_id=users[0].id)
            session.add_all([*articles, doomed])
            session.flush()
            deleted_user_id, deleted_article_id = ghost.id, doomed.id
            session.execute(delete(Article).where(Article.id == doomed.id))
            session.execute(delete(User).where(User.id == ghost.id))
    finally:
        database.dispose()
    return Site(
        url=url,
        dump=Path("not dumped yet"),
        rows=every_row(url),
        legacy_user=users[2].email,
        argon_user=users[0].email,
        deleted_user_id=deleted_user_id,
        deleted_article_id=deleted_article_id,
    )


@pytest.fixture(scope="module")
def site(
    scratch_databases: ScratchDatabases, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    """A site on the backend under test, and its dump, written by ``cms dumpdata``."""
    built = build_site(migrated(scratch_databases))
    dump = tmp_path_factory.mktemp("dumps") / "site.jsonl"
    result = cms("dumpdata", str(dump), url=built.url)
    assert result.exit_code == 0, result.output
    yield replace(built, dump=dump)


def test_the_dump_is_private_and_says_it_holds_secrets(site: Site) -> None:
    assert stat.S_IMODE(site.dump.stat().st_mode) == 0o600
    with site.dump.open("rb") as file:
        header = json.loads(file.readline())
    assert header["format"] == "cms-dump" and header["version"] == 1
    assert header["contains_secrets"] is True and "password hashes" in header["warning"]
    assert header["schema_revision"] == migrations.head_revision()
    tables = {table["name"]: table for table in header["tables"]}
    assert list(tables).index("users") < list(tables).index("articles")
    assert "rate_limits" not in tables and "staff_sessions" not in tables
    assert (tables["users"]["rows"], tables["articles"]["rows"]) == (4, 4)
    # The counters are ahead of the largest ids: the deleted rows' ids are remembered.
    assert tables["users"]["next_id"] == site.deleted_user_id + 1
    assert tables["articles"]["next_id"] == site.deleted_article_id + 1
    assert "$2b$04$" in site.dump.read_text(encoding="utf-8")  # the legacy hash is in it


def test_dumpdata_warns_about_secrets(site: Site, tmp_path: Path) -> None:
    result = cms("dumpdata", str(tmp_path / "again.jsonl"), url=site.url)
    assert result.exit_code == 0, result.output
    assert "WARNING: This dump contains password hashes" in result.output


@pytest.mark.parametrize("target", ["same backend", "other backend"])
def test_a_site_reads_back_identical_on_either_backend(
    site: Site, scratch_databases: ScratchDatabases, target: str
) -> None:
    url = migrated(scratch_databases, BACKEND if target == "same backend" else OTHER_BACKEND)

    result = cms("loaddata", str(site.dump), url=url)

    assert result.exit_code == 0, result.output
    assert "Loaded 8 rows" in result.output
    assert_same_rows(site.rows, every_row(url))
    server = LiveServer(build_app(make_settings(url)))
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as api:
            for email, password in [
                (site.legacy_user, LEGACY_PASSWORD),
                (site.argon_user, ARGON_PASSWORD),
            ]:
                signed_in = api.post("/auth/token", data={"username": email, "password": password})
                assert signed_in.status_code == 200, signed_in.text
            token = signed_in.json()["access_token"]
            article = api.post(
                "/articles/",
                json={"title": "After the move"},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert article.status_code == 201, article.text
            assert article.json()["id"] > site.deleted_article_id
            user = api.post(
                "/users/", json={"email": "new@example.com", "password": "a new password"}
            )
            assert user.status_code == 201, user.text
            assert user.json()["id"] > site.deleted_user_id
    finally:
        server.stop()


def test_dump_and_load_through_a_pipe(site: Site, scratch_databases: ScratchDatabases) -> None:
    dumped = cms("dumpdata", "-", url=site.url)
    assert dumped.exit_code == 0
    url = migrated(scratch_databases)
    env = {"CMS_DATABASE_URL": url, "CMS_ENVIRONMENT": "test", "CMS_SECRET_KEY": TEST_SECRET_KEY}
    loaded = runner.invoke(cli, ["loaddata", "-"], env=env, input=dumped.stdout_bytes)
    assert loaded.exit_code == 0, loaded.output
    assert_same_rows(site.rows, every_row(url))


@pytest.fixture
def extra_table() -> Iterator[Table]:
    """A table a later feature might add, present in the models for one test only."""
    table = Table(
        "dump_test_notes",
        Base.metadata,
        Column("id", Integer, primary_key=True),
        Column("user_id", ForeignKey("users.id"), nullable=True),
        Column("label", String(50)),
        Column("pinned", Boolean),
        Column("due", Date, nullable=True),
        Column("extra", JSON, nullable=True),
        sqlite_autoincrement=True,
        mysql_engine="InnoDB",
        mysql_charset="utf8mb4",
    )
    yield table
    Base.metadata.remove(table)


def test_a_table_added_to_the_models_is_dumped_and_loaded(
    extra_table: Table, scratch_databases: ScratchDatabases, tmp_path: Path
) -> None:
    source, target = migrated(scratch_databases), migrated(scratch_databases)
    rows: list[dict[str, Any]] = [
        {"id": 3, "user_id": None, "label": "ñ 🎈", "pinned": True, "due": None, "extra": None},
        {"id": 7, "user_id": None, "label": "", "pinned": False, "due": T0.date(), "extra": [1]},
    ]
    for url in (source, target):
        engine = create_engine(url)
        with engine.begin() as connection:
            extra_table.create(connection)
            if url == source:
                connection.execute(insert(extra_table), rows)
        engine.dispose()
    dump = tmp_path / "site.jsonl"

    assert cms("dumpdata", str(dump), url=source).exit_code == 0
    loaded = cms("loaddata", str(dump), url=target)

    assert loaded.exit_code == 0, loaded.output
    assert "dump_test_notes" in dump.read_text(encoding="utf-8")
    assert_same_rows(every_row(source), every_row(target))
    assert len(every_row(target)["dump_test_notes"]) == 2


def test_a_column_type_dumps_cannot_carry_is_refused_before_writing(
    scratch_databases: ScratchDatabases, tmp_path: Path
) -> None:
    table = Table("dump_test_intervals", Base.metadata, Column("id", Integer, primary_key=True))
    table.append_column(Column("wait", Interval))
    try:
        result = cms("dumpdata", str(tmp_path / "site.jsonl"), url=migrated(scratch_databases))
    finally:
        Base.metadata.remove(table)
    assert result.exit_code == 1
    assert "dump_test_intervals.wait has a type dumps cannot carry yet" in result.output
    assert not list(tmp_path.iterdir())


def rewrite(dump: Path, destination: Path, change: Any) -> Path:
    """A copy of ``dump`` with its lines passed through ``change(lines)``."""
    lines = dump.read_bytes().split(b"\n")[:-1]
    destination.write_bytes(change(lines))
    return destination


def older_revision() -> str:
    head = migrations.head_revision()
    assert head is not None
    script = ScriptDirectory(str(migrations.MIGRATIONS_DIR)).get_revision(head)
    assert script is not None and isinstance(script.down_revision, str)
    return script.down_revision


def header_with(**changes: object) -> Any:
    def change(lines: list[bytes]) -> bytes:
        header = {**json.loads(lines[0]), **changes}
        return b"\n".join([json.dumps(header).encode(), *lines[1:]]) + b"\n"

    return change


def orphan_article(lines: list[bytes]) -> bytes:
    """The dump with its first article credited to a user it does not have."""
    start = next(n for n, line in enumerate(lines) if line.startswith(b'{"table":"articles"'))
    row = json.loads(lines[start + 1])
    row[json.loads(lines[start])["columns"].index("author_id")] = 999_999
    lines[start + 1] = json.dumps(row).encode()
    return b"\n".join(lines) + b"\n"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda lines: b"\n".join(lines[:-3]) + b"\n", "is truncated"),
        (lambda lines: b"\n".join(lines)[:-500], "is truncated"),
        (lambda lines: b"\n".join([*lines[:-2], b"[1, 2", lines[-1]]) + b"\n", "is corrupt"),
        (lambda lines: b"\n".join([*lines, b"[]"]) + b"\n", "data after its closing line"),
        (lambda lines: b'{"hello": "world"}\n', "is not a CMS dump"),
        (lambda lines: b"\x89PNG\r\n\x1a\n", "is corrupt at line 1"),
        (header_with(version=99), "dump format version 99"),
        (header_with(schema_revision="0123456789ab"), "made at schema revision 0123456789ab"),
        (orphan_article, "refer (author_id) to users rows that the dump does not have"),
    ],
    ids=[
        "missing-lines",
        "cut-mid-row",
        "corrupt-row",
        "trailing-data",
        "not-a-dump",
        "binary",
        "future-format",
        "other-revision",
        "dangling-reference",
    ],
)
def test_a_bad_dump_is_refused_and_nothing_is_loaded(
    site: Site, scratch_databases: ScratchDatabases, tmp_path: Path, change: Any, message: str
) -> None:
    url = migrated(scratch_databases)
    bad = rewrite(site.dump, tmp_path / "bad.jsonl", change)

    result = cms("loaddata", str(bad), url=url)

    assert result.exit_code == 1
    assert message in result.output
    assert result.output.strip().splitlines()[-1].startswith("Error: ")
    assert "Traceback" not in result.output
    assert all(rows == [] for rows in every_row(url).values())


def test_loading_into_a_site_that_has_data_is_refused(
    site: Site, scratch_databases: ScratchDatabases
) -> None:
    url = migrated(scratch_databases)
    assert cms("loaddata", str(site.dump), url=url).exit_code == 0

    again = cms("loaddata", str(site.dump), url=url)

    assert again.exit_code == 1
    assert "Error: the database is not empty" in again.output and "users" in again.output
    assert_same_rows(site.rows, every_row(url))


@pytest.mark.parametrize("revision", ["none", "older"])
def test_loading_into_a_database_at_another_revision_is_refused(
    site: Site, scratch_databases: ScratchDatabases, revision: str
) -> None:
    url = scratch_databases.create()
    if revision == "older":
        migrations.upgrade(url, older_revision())

    result = cms("loaddata", str(site.dump), url=url)

    assert result.exit_code == 1
    expected = "no schema yet" if revision == "none" else f"schema is at {older_revision()}"
    assert expected in result.output and "run `cms migrate`" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_dumping_an_unmigrated_database_is_refused(
    scratch_databases: ScratchDatabases, tmp_path: Path
) -> None:
    result = cms("dumpdata", str(tmp_path / "site.jsonl"), url=scratch_databases.create())
    assert result.exit_code == 1
    assert "no schema yet" in result.output
    assert not list(tmp_path.iterdir())  # no half-written file either


def test_a_missing_dump_file_is_explained(site: Site, scratch_databases: ScratchDatabases) -> None:
    result = cms("loaddata", "no-such-file.jsonl", url=migrated(scratch_databases))
    assert result.exit_code == 1
    assert "Error: cannot read no-such-file.jsonl: No such file or directory" in result.output


def test_a_file_planted_at_the_partial_name_is_neither_read_nor_written(
    site: Site, tmp_path: Path
) -> None:
    """Another local user who creates ``.NAME.partial`` first, as a file or as a link to
    a file of theirs, must not get the dump (and its password hashes) through it."""
    output = tmp_path / "site.jsonl"
    planted = tmp_path / f".{output.name}.partial"
    planted.write_bytes(b"")
    planted.chmod(0o666)
    theirs = tmp_path / "theirs.txt"
    theirs.write_bytes(b"")
    theirs.chmod(0o666)
    linked_output = tmp_path / "linked.jsonl"
    (tmp_path / f".{linked_output.name}.partial").symlink_to(theirs)
    for destination in (output, linked_output):
        result = cms("dumpdata", str(destination), url=site.url)
        assert result.exit_code == 0, result.output
        assert stat.S_IMODE(destination.stat().st_mode) == 0o600
        assert not destination.is_symlink()
        # The same rows as the site's own dump (the header line says when it was made).
        assert destination.read_bytes().splitlines()[1:] == site.dump.read_bytes().splitlines()[1:]
    assert planted.read_bytes() == b"" and stat.S_IMODE(planted.stat().st_mode) == 0o666
    assert theirs.read_bytes() == b""
    # Nothing else is left beside the outputs (no stray partial files).
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [
            output.name,
            linked_output.name,
            planted.name,
            theirs.name,
            f".{linked_output.name}.partial",
        ]
    )


def test_a_symlink_at_the_output_is_replaced_not_followed(site: Site, tmp_path: Path) -> None:
    theirs = tmp_path / "theirs.txt"
    theirs.write_bytes(b"")
    output = tmp_path / "site.jsonl"
    output.symlink_to(theirs)
    result = cms("dumpdata", str(output), url=site.url)
    assert result.exit_code == 0, result.output
    assert not output.is_symlink() and stat.S_IMODE(output.stat().st_mode) == 0o600
    assert theirs.read_bytes() == b""
