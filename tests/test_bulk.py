"""Bulk loads with the articles' indexes built afterwards (cms.bulk): ``cms seed-demo`` and
``cms loaddata`` give the same data as a load with every index kept, leave the schema
complete however they end, and say what they are doing."""

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Connection, func, select, text
from typer.testing import CliRunner

from cms import bulk, migrations
from cms.articles.counts import recount
from cms.articles.models import (
    Article,
    ArticleCount,
    ArticleRevision,
    ArticleStatus,
    Tag,
    article_tags,
)
from cms.articles.search import matches_search
from cms.articles.tag_counts import recount as recount_tags
from cms.cli import app
from cms.db import Database, utcnow
from cms.demo import seed_demo
from tests.conftest import TEST_SECRET_KEY, ArticleFactory, ScratchDatabases, UserFactory


@pytest.fixture
def fresh(scratch_databases: ScratchDatabases) -> Iterator[Database]:
    """A new migrated database of its own (the load compares schemas with its start)."""
    url = scratch_databases.create()
    migrations.upgrade(url)
    database = Database(url)
    yield database
    database.dispose()


def _env(database: Database) -> dict[str, str]:
    return {
        "CMS_DATABASE_URL": database.url,
        "CMS_ENVIRONMENT": "test",
        "CMS_SECRET_KEY": TEST_SECRET_KEY,
    }


def _schema(connection: Connection) -> list[str]:
    """The articles table's definition as the database holds it, indexes and triggers
    included, in a stable order."""
    if connection.dialect.name == "sqlite":
        rows = connection.execute(
            text(
                "SELECT type, name, sql FROM sqlite_master "
                "WHERE tbl_name IN ('articles', 'articles_fts') ORDER BY type, name"
            )
        )
        return [f"{kind} {name}: {sql}" for kind, name, sql in rows]
    created = connection.execute(text("SHOW CREATE TABLE articles")).one()[1]
    lines = [line.strip().rstrip(",") for line in created.splitlines()]
    # AUTO_INCREMENT moves with the rows; the definition is the rest.
    return sorted(line for line in lines if not line.startswith(")"))


def _contents(database: Database) -> dict[str, Any]:
    with database.engine.connect() as connection:
        return {
            "articles": connection.execute(
                select(Article.id, Article.slug, Article.status, Article.author_id).order_by(
                    Article.id
                )
            ).all(),
            "links": connection.execute(
                select(article_tags.c.article_id, article_tags.c.tag_id).order_by(
                    article_tags.c.article_id, article_tags.c.tag_id
                )
            ).all(),
            "revisions": connection.execute(
                select(
                    ArticleRevision.article_id,
                    ArticleRevision.number,
                    ArticleRevision.slug,
                    ArticleRevision.saved_by_name,
                ).order_by(ArticleRevision.article_id)
            ).all(),
            "tags": _tag_counts(connection),
            "counts": _article_counts(connection),
        }


def _tag_counts(connection: Connection) -> list[Any]:
    return list(
        connection.execute(
            select(Tag.slug, Tag.tagged_count, Tag.published_count).order_by(Tag.slug)
        ).all()
    )


def _article_counts(connection: Connection) -> list[Any]:
    return list(
        connection.execute(
            select(ArticleCount.author_id, ArticleCount.status, ArticleCount.articles)
            .where(ArticleCount.articles != 0)
            .order_by(ArticleCount.author_id, ArticleCount.status)
        ).all()
    )


def _assert_counts_are_a_recount(database: Database) -> None:
    with database.engine.connect() as connection:
        kept = _tag_counts(connection), _article_counts(connection)
    with database.transaction() as session:
        recount_tags(session, list(session.scalars(select(Tag.id))))
        recount(session)
    with database.engine.connect() as connection:
        assert (_tag_counts(connection), _article_counts(connection)) == kept


def _found(database: Database, word: str) -> int:
    with database.engine.connect() as connection:
        condition = matches_search(connection.dialect.name, word)
        return connection.scalar(select(func.count()).select_from(Article).where(condition)) or 0


def _assert_complete(database: Database, schema_before: list[str]) -> None:
    assert migrations.schema_problem(database.engine) is None
    with database.engine.connect() as connection:
        assert bulk.missing_indexes(connection) == []
        assert bulk.index_problem(connection) is None
        assert _schema(connection) == schema_before


def test_a_deferred_seed_loads_what_a_seed_with_every_index_loads(
    scratch_databases: ScratchDatabases, fresh: Database
) -> None:
    other_url = scratch_databases.create()
    migrations.upgrade(other_url)
    kept = Database(other_url)
    try:
        with fresh.engine.connect() as connection:
            schema = _schema(connection)
        dropped: list[list[str]] = []

        class Watching(bulk.Progress):
            def phase(self, name: str, total: int | None = None) -> None:
                if name == "loading":
                    with fresh.engine.connect() as connection:
                        dropped.append(bulk.missing_indexes(connection))

        for database, defer, progress in ((kept, False, None), (fresh, True, Watching())):
            seed_demo(
                database, users=4, articles=900, seed=3, progress=progress, defer_indexes=defer
            )
        # The load really ran with them dropped: the full-text ones at least.
        assert dropped and dropped[0]
        assert _contents(fresh) == _contents(kept)
        _assert_complete(fresh, schema)
        published = len([row for row in _contents(fresh)["articles"] if row.status == "published"])
        assert published > 0
        # Every demo body says "patience" or not; some word from the bodies is found in both.
        for word in ("patience", "garden"):
            assert _found(fresh, word) == _found(kept, word) > 0
        _assert_counts_are_a_recount(fresh)
        # A second, small seed on top keeps the indexes (and still counts right).
        seed_demo(fresh, users=0, articles=50, seed=4)
        _assert_counts_are_a_recount(fresh)
        assert _found(fresh, "patience") == _found(kept, "patience") + _found_in_last(fresh, 50)
    finally:
        kept.dispose()


def _found_in_last(database: Database, count: int) -> int:
    with database.engine.connect() as connection:
        condition = matches_search(connection.dialect.name, "patience")
        last = select(Article.id).order_by(Article.id.desc()).limit(count).subquery()
        return (
            connection.scalar(
                select(func.count())
                .select_from(Article)
                .where(condition, Article.id.in_(select(last.c.id)))
            )
            or 0
        )


def test_large_loads_defer_the_indexes_by_themselves() -> None:
    assert bulk.should_defer(bulk.DEFER_THRESHOLD, 0)
    assert not bulk.should_defer(bulk.DEFER_THRESHOLD - 1, 0)
    # Into a table already larger than the load, keeping the indexes costs less.
    assert not bulk.should_defer(bulk.DEFER_THRESHOLD, bulk.DEFER_THRESHOLD + 1)


def test_a_failing_load_builds_the_indexes_again(fresh: Database) -> None:
    with fresh.engine.connect() as connection:
        schema = _schema(connection)
    with pytest.raises(RuntimeError, match="midway"), bulk.indexes_deferred(fresh):
        with fresh.engine.connect() as connection:
            assert bulk.missing_indexes(connection)
        raise RuntimeError("midway")
    _assert_complete(fresh, schema)


def _seed_process(database: Database, articles: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cms.cli",
            "seed-demo",
            "--users",
            "3",
            "--articles",
            str(articles),
            "--seed",
            "5",
            "--defer-indexes",
        ],
        env={**os.environ, **_env(database)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_for_loading(process: subprocess.Popen[str]) -> list[str]:
    """Read the command's output until it reports rows loaded; returns the lines read."""
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith("loading: ") and "articles/s" in line:
            return lines
    raise AssertionError("the seed ended before loading anything:\n" + "".join(lines))


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_an_interrupted_seed_leaves_a_complete_schema(fresh: Database, stop: int) -> None:
    with fresh.engine.connect() as connection:
        schema = _schema(connection)
    process = _seed_process(fresh, 200_000)
    try:
        _wait_for_loading(process)
        process.send_signal(stop)
        output, _ = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode != 0
    assert "loading: stopped after " in output and "loading: done" not in output
    assert "building full-text index" in output
    assert "Traceback" not in output
    _assert_complete(fresh, schema)
    with fresh.engine.connect() as connection:
        loaded = connection.scalar(select(func.count()).select_from(Article)) or 0
    assert 0 < loaded < 200_000
    # Search finds what the interrupted load committed, and the counts are exact.
    assert _found(fresh, "patience") > 0
    _assert_counts_are_a_recount(fresh)


def test_a_killed_seed_is_reported_and_repaired_by_migrate(fresh: Database) -> None:
    with fresh.engine.connect() as connection:
        schema = _schema(connection)
    process = _seed_process(fresh, 200_000)
    try:
        _wait_for_loading(process)
        process.kill()  # nothing of the process runs any more
        process.communicate(timeout=60)
    finally:
        process.kill()
    runner = CliRunner()
    check = runner.invoke(app, ["check"], env=_env(fresh))
    assert check.exit_code == 1
    assert "cms migrate" in check.output
    assert "ix_articles_fulltext" in check.output or "articles_fts_insert" in check.output
    migrate = runner.invoke(app, ["migrate"], env=_env(fresh))
    assert migrate.exit_code == 0, migrate.output
    assert "Built the indexes a bulk load had left missing" in migrate.output
    _assert_complete(fresh, schema)
    assert _found(fresh, "patience") > 0
    assert runner.invoke(app, ["check"], env=_env(fresh)).exit_code == 0


def test_seed_demo_prints_its_phases_and_rate(fresh: Database) -> None:
    result = CliRunner().invoke(
        app,
        ["seed-demo", "--users", "2", "--articles", "2500", "--defer-indexes"],
        env=_env(fresh),
    )
    assert result.exit_code == 0, result.output
    output = result.output
    assert "loading 2,500 articles…" in output
    assert "articles/s" in output
    assert "loading: done, 2,500 articles in " in output
    assert "building full-text index" in output
    assert "Added 2 users and 2500 articles" in output
    with fresh.engine.connect() as connection:
        assert bulk.missing_indexes(connection) == []


def test_loaddata_builds_the_indexes_after_the_rows(
    fresh: Database, scratch_databases: ScratchDatabases, tmp_path: Path
) -> None:
    seed_demo(fresh, users=3, articles=400, seed=8)
    dump = tmp_path / "site.jsonl"
    runner = CliRunner()
    dumped = runner.invoke(app, ["dumpdata", str(dump)], env=_env(fresh))
    assert dumped.exit_code == 0, dumped.output
    target_url = scratch_databases.create()
    migrations.upgrade(target_url)
    target = Database(target_url)
    try:
        with target.engine.connect() as connection:
            schema = _schema(connection)
        loaded = runner.invoke(app, ["loaddata", str(dump)], env=_env(target))
        assert loaded.exit_code == 0, loaded.output
        assert "loading " in loaded.output and "rows/s" in loaded.output
        assert "building full-text index" in loaded.output
        _assert_complete(target, schema)
        assert _contents(target) == _contents(fresh)
        assert _found(target, "patience") == _found(fresh, "patience") > 0
        # A dump refused halfway (truncated) leaves the target empty and complete.
        again_url = scratch_databases.create()
        migrations.upgrade(again_url)
        again = Database(again_url)
        try:
            with again.engine.connect() as connection:
                again_schema = _schema(connection)
            truncated = tmp_path / "truncated.jsonl"
            truncated.write_bytes(dump.read_bytes()[: dump.stat().st_size // 2])
            refused = runner.invoke(app, ["loaddata", str(truncated)], env=_env(again))
            assert refused.exit_code == 1
            assert "truncated" in refused.output
            _assert_complete(again, again_schema)
        finally:
            again.dispose()
    finally:
        target.dispose()


def test_search_during_a_load_says_so_and_works_after(
    api: httpx.Client,
    database: Database,
    make_user: UserFactory,
    make_article: ArticleFactory,
) -> None:
    author = make_user()
    make_article(
        author=author,
        title="Tomatoes",
        body="Grow them in pots.",
        status=ArticleStatus.PUBLISHED,
        published_at=utcnow() - timedelta(hours=1),
    )
    with bulk.indexes_deferred(database):
        during = api.get("/articles/", params={"q": "tomatoes"})
        if database.engine.dialect.name == "sqlite":
            # The FTS5 index is there, only no longer kept by triggers until the end.
            assert during.status_code == 200
        else:
            assert during.status_code == 503
            assert during.headers["Retry-After"] == "60"
            assert "index is being built" in during.json()["detail"]
    after = api.get("/articles/", params={"q": "tomatoes"})
    assert after.status_code == 200
    assert [article["title"] for article in after.json()] == ["Tomatoes"]
