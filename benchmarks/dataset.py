"""The benchmark's database: made once with the CMS's own commands, reused while it still
holds what a run asks for.

Whether a database can be reused is written on the database itself, in its MariaDB
``COMMENT``: what it was loaded with (article and author counts, seed), the schema
revision and a fingerprint of ``cms/demo.py`` (the generator of its content), and whether
loading finished. A run reuses it only when all of these match and the articles are all
there; otherwise it drops and rebuilds it. It never drops a database it did not make.
"""

import hashlib
import json
import random
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import cms.demo
from benchmarks.floor import connect
from cms.migrations import head_revision

MARKER_KIND = "cms-read-benchmark"
MARKER_VERSION = 1
STAFF_EMAIL = "bench-staff@example.com"
_NAME = re.compile(r"[A-Za-z0-9_]{1,64}")
VISIBLE = "status = 'published' AND published_at <= UTC_TIMESTAMP(6)"
NEWEST_FIRST = "ORDER BY published_at DESC, id DESC"


@dataclass(frozen=True)
class Wanted:
    """What the run asks the database to hold."""

    url: str
    articles: int
    authors: int
    seed: int

    @property
    def name(self) -> str:
        name = urlsplit(self.url).path.lstrip("/")
        if not _NAME.fullmatch(name):
            raise ValueError(f"database name {name!r}: use letters, digits and _ only")
        return name

    def marker(self) -> dict[str, Any]:
        demo = Path(cms.demo.__file__).read_bytes()
        return {
            "kind": MARKER_KIND,
            "version": MARKER_VERSION,
            "articles": self.articles,
            "authors": self.authors,
            "seed": self.seed,
            "revision": head_revision(),
            "demo_sha256": hashlib.sha256(demo).hexdigest()[:16],
        }


@dataclass
class Dataset:
    """The loaded database, as the scenarios need it."""

    wanted: Wanted
    reused: bool
    seed_seconds: float | None
    staff_email: str
    staff_password: str
    total_articles: int = 0
    published: int = 0
    sample_ids: list[int] = field(default_factory=list)
    # The slug of each sampled id, in the same order (the site's pages are by slug).
    sample_slugs: list[str] = field(default_factory=list)
    # The article at 90% depth of the newest-first published list, and the one before it.
    depth: int = 0
    depth_id: int = 0
    before_depth: tuple[datetime, int] | None = None


def _query(connection: Any, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def _stored_marker(connection: Any, name: str) -> dict[str, Any] | None:
    """The marker of database ``name``; ``{}`` if it exists without one; ``None`` if absent."""
    rows = _query(
        connection,
        "SELECT SCHEMA_COMMENT FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s",
        (name,),
    )
    if not rows:
        return None
    try:
        marker = json.loads(rows[0][0] or "{}")
    except ValueError:
        return {}
    return marker if isinstance(marker, dict) else {}


def _set_marker(connection: Any, name: str, marker: Mapping[str, Any]) -> None:
    text = json.dumps(marker, separators=(",", ":"))
    _query(connection, f"ALTER DATABASE `{name}` COMMENT = %s", (text,))


def _cms(env: Mapping[str, str], *args: str) -> None:
    """Run a ``cms`` command of this checkout's venv; its output goes to our terminal."""
    cms = Path(sys.executable).with_name("cms")
    subprocess.run([str(cms), *args], env=dict(env), check=True, stdin=subprocess.DEVNULL)  # noqa: S603


def prepare(wanted: Wanted, env: Mapping[str, str], *, rebuild: bool, sample: int) -> Dataset:
    """Make sure the database holds ``wanted`` (reusing it when it does), give the staff
    user a fresh password, and read what the scenarios need from it."""
    name, marker = wanted.name, wanted.marker()
    server = connect(wanted.url, database=False)
    try:
        stored = _stored_marker(server, name)
        if stored is not None and stored.get("kind") != MARKER_KIND:
            raise RuntimeError(
                f"database {name} exists and was not made by this benchmark; "
                "name another one in --database-url (it is never dropped)"
            )
        why_not = _why_not_reusable(wanted, marker, stored, rebuild=rebuild)
        reuse = why_not is None
        seed_seconds = None
        if reuse:
            print(
                f"Reusing database {name}: it holds {wanted.articles:,} articles at this revision."
            )
        else:
            print(
                f"Building database {name} ({why_not}): "
                f"{wanted.articles:,} articles, {wanted.authors} authors."
            )
            _query(server, f"DROP DATABASE IF EXISTS `{name}`")
            _query(
                server, f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
            # Marked as ours (but incomplete) at once, so an interrupted load is rebuilt.
            _set_marker(server, name, {**marker, "complete": False})
            _cms(env, "migrate")
            started = time.perf_counter()
            _cms(
                env,
                "seed-demo",
                f"--users={wanted.authors}",
                f"--articles={wanted.articles}",
                f"--seed={wanted.seed}",
            )
            seed_seconds = time.perf_counter() - started
            _set_marker(server, name, {**marker, "complete": True, "seed_seconds": seed_seconds})
    finally:
        server.close()
    password = secrets.token_urlsafe(18)
    if _staff_exists(wanted.url):
        _cms(env, "changepassword", STAFF_EMAIL, f"--password={password}")
    else:
        _cms(
            env,
            "createsuperuser",
            f"--email={STAFF_EMAIL}",
            f"--password={password}",
            "--name=Benchmark staff",
        )
    dataset = Dataset(wanted, reuse, seed_seconds, STAFF_EMAIL, password)
    _read_shape(dataset, sample)
    return dataset


def _why_not_reusable(
    wanted: Wanted, marker: dict[str, Any], stored: dict[str, Any] | None, *, rebuild: bool
) -> str | None:
    if stored is None:
        return "it does not exist"
    if rebuild:
        return "--rebuild"
    if stored.get("complete") is not True:
        return "its last load did not finish"
    changed = [key for key in marker if stored.get(key) != marker[key]]
    if changed:
        return "it was built with another " + ", ".join(changed)
    count = _article_count(wanted.url)
    if count != wanted.articles:
        return f"it holds {count:,} articles"
    return None


def _article_count(url: str) -> int:
    connection = connect(url)
    try:
        return int(_query(connection, "SELECT COUNT(*) FROM articles")[0][0])
    finally:
        connection.close()


def _staff_exists(url: str) -> bool:
    connection = connect(url)
    try:
        return bool(_query(connection, "SELECT 1 FROM users WHERE email = %s", (STAFF_EMAIL,)))
    finally:
        connection.close()


def _read_shape(dataset: Dataset, sample: int) -> None:
    """Counts, a seeded sample of published ids, and the article at 90% depth."""
    connection = connect(dataset.wanted.url)
    try:
        dataset.total_articles = int(_query(connection, "SELECT COUNT(*) FROM articles")[0][0])
        visible_ids = f"SELECT id FROM articles WHERE {VISIBLE}"  # noqa: S608
        published = [row[0] for row in _query(connection, visible_ids)]
        dataset.published = len(published)
        rng = random.Random(dataset.wanted.seed)  # noqa: S311 (spreading load, not secrets)
        dataset.sample_ids = rng.sample(published, min(sample, len(published)))
        placeholders = ", ".join(["%s"] * len(dataset.sample_ids)) or "NULL"
        rows = _query(
            connection,
            f"SELECT id, slug FROM articles WHERE id IN ({placeholders})",  # noqa: S608
            tuple(dataset.sample_ids),
        )
        slugs = {int(article_id): str(slug) for article_id, slug in rows}
        dataset.sample_slugs = [slugs[article_id] for article_id in dataset.sample_ids]
        dataset.depth = int(dataset.published * 0.9)
        if dataset.depth >= 1:
            rows = _query(
                connection,
                f"SELECT published_at, id FROM articles WHERE {VISIBLE} {NEWEST_FIRST} "  # noqa: S608
                "LIMIT 2 OFFSET %s",
                (dataset.depth - 1,),
            )
            dataset.before_depth = (rows[0][0], int(rows[0][1]))
            dataset.depth_id = int(rows[1][1])
    finally:
        connection.close()


SERVER_SETTINGS = ("version", "innodb_buffer_pool_size", "max_connections", "thread_handling")


def server_settings(url: str) -> dict[str, str]:
    """The database server's settings that change read figures (another session may
    have resized the buffer pool since the last run)."""
    connection = connect(url, database=False)
    try:
        placeholders = ", ".join(["%s"] * len(SERVER_SETTINGS))
        rows = _query(
            connection,
            f"SHOW GLOBAL VARIABLES WHERE Variable_name IN ({placeholders})",
            SERVER_SETTINGS,
        )
        return {str(name): str(value) for name, value in rows}
    finally:
        connection.close()


def wait_for_queries(url: str, *, timeout: float = 300.0) -> float:
    """Wait until no statement runs on ``url``'s database but this one; the seconds waited.

    A server whose client gave up still waits for its statements, and the database keeps
    running them: a slow page's backlog would otherwise weigh on the next run."""
    started = time.monotonic()
    connection = connect(url)
    try:
        while time.monotonic() - started < timeout:
            running = _query(
                connection,
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = DATABASE() "
                "AND COMMAND = 'Query' AND ID <> CONNECTION_ID()",
            )
            if not running[0][0]:
                break
            time.sleep(0.25)
    finally:
        connection.close()
    return time.monotonic() - started
