"""The migrations build the schema the models describe, both ways, on this backend."""

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import inspect, select, text

from cms import migrations, security
from cms.articles.models import Article, ArticleRevision
from cms.db import Database
from cms.roles import Role
from cms.twofactor import service as twofactor
from cms.users.models import User
from tests.conftest import ScratchDatabases


def test_upgrade_downgrade_upgrade_leaves_no_drift(scratch_databases: ScratchDatabases) -> None:
    url = scratch_databases.create()
    database = Database(url)
    try:
        migrations.upgrade(url)
        assert migrations.current_revision(database.engine) == migrations.head_revision()
        assert {"users", "articles", "rate_limits"} <= set(
            inspect(database.engine).get_table_names()
        )

        migrations.downgrade(url, "base")
        assert migrations.current_revision(database.engine) is None
        assert set(inspect(database.engine).get_table_names()) <= {"alembic_version"}

        migrations.upgrade(url)
        migrations.check(url)  # raises if autogenerate finds any difference
        assert migrations.schema_problem(database.engine) is None
    finally:
        database.dispose()


RELEASED = "2c98170cd2b2"  # the schema the first release shipped


def test_a_populated_released_database_upgrades_and_downgrades_with_its_rows(
    scratch_databases: ScratchDatabases,
) -> None:
    """Sites run the released schema: every new revision must carry their rows along."""
    url = scratch_databases.create()
    database = Database(url)
    try:
        migrations.upgrade(url, RELEASED)
        password_hash = security.hash_password("a password that works")
        with database.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO users (id, email, name, role, is_active, hashed_password, "
                    "session_version, created_at, updated_at) VALUES (7, 'kept@example.com', "
                    "'Kept 🙂', 'admin', 1, :hash, 3, '2026-01-02 03:04:05.123456', "
                    "'2026-01-02 03:04:05.123456')"
                ),
                {"hash": password_hash},
            )
            connection.execute(
                text(
                    "INSERT INTO articles (id, title, slug, body, body_html, status, "
                    "published_at, created_at, updated_at, author_id, version) VALUES "
                    "(11, 'Kept article', 'kept-article', 'Body', '<p>Body</p>\n', 'published', "
                    "'2026-01-03 00:00:00.000001', '2026-01-02 00:00:00', "
                    "'2026-01-02 00:00:00', 7, 4)"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO login_throttles (login, failures, window_started_at) "
                    "VALUES ('kept@example.com', 2, '2026-01-02 00:00:00')"
                )
            )
        migrations.upgrade(url)
        with database.sessionmaker() as session:
            user = session.get(User, 7)
            article = session.get(Article, 11)
        assert user is not None and user.email == "kept@example.com" and user.name == "Kept 🙂"
        assert user.session_version == 3 and user.role is Role.ADMIN
        assert security.verify_password("a password that works", user.hashed_password)[0]
        assert article is not None and article.version == 4 and article.author_id == 7
        assert article.rendered_with == 0  # the renderer before GFM wrote it: cms rerender
        assert article.published_at == datetime(2026, 1, 3, 0, 0, 0, 1, tzinfo=UTC)
        with database.sessionmaker() as session:
            history = session.scalars(select(ArticleRevision)).all()
        # The existing article has its first revision, credited to its author.
        assert [(r.article_id, r.number, r.version, r.title) for r in history] == [
            (11, 1, 4, "Kept article")
        ]
        assert history[0].saved_by_id == 7 and history[0].saved_by_name == "Kept 🙂"
        assert history[0].published_at == article.published_at

        migrations.downgrade(url, RELEASED)
        with database.engine.connect() as connection:
            assert connection.execute(text("SELECT email FROM users")).scalars().all() == [
                "kept@example.com"
            ]
            assert connection.execute(text("SELECT slug FROM articles")).scalars().all() == [
                "kept-article"
            ]
        migrations.upgrade(url)
        assert migrations.schema_problem(database.engine) is None
    finally:
        database.dispose()


def test_alembic_upgrades_from_the_checkout(scratch_databases: ScratchDatabases) -> None:
    """`alembic upgrade head` in the repository reads alembic.ini and CMS_DATABASE_URL."""
    url = scratch_databases.create()
    result = subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=Path(__file__).resolve().parents[1],
        env={**os.environ, "CMS_DATABASE_URL": url},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Running upgrade" in result.stderr
    database = Database(url)
    try:
        assert migrations.current_revision(database.engine) == migrations.head_revision()
    finally:
        database.dispose()


TAG_COUNTS = "7892434eb624"


def test_tag_counts_are_counted_from_a_populated_database(
    scratch_databases: ScratchDatabases,
) -> None:
    """The counts start right on a site with articles, and tags nothing uses go."""
    url = scratch_databases.create()
    database = Database(url)
    try:
        migrations.upgrade(url, f"{TAG_COUNTS}-1")
        with database.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO users (id, email, name, role, is_active, hashed_password, "
                    "session_version, created_at, updated_at) VALUES (1, 'a@example.com', "
                    "'A', 'author', 1, 'x', 0, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
                )
            )
            for number, status, published_at in [
                (1, "published", "2026-01-02 00:00:00"),
                (2, "published", "2999-01-01 00:00:00"),  # scheduled
                (3, "draft", None),
            ]:
                connection.execute(
                    text(
                        "INSERT INTO articles (id, title, slug, body, body_html, status, "
                        "published_at, created_at, updated_at, author_id, version) VALUES "
                        "(:id, :title, :title, '', '', :status, :published_at, "
                        "'2026-01-01 00:00:00', '2026-01-01 00:00:00', 1, 1)"
                    ),
                    {
                        "id": number,
                        "title": f"a{number}",
                        "status": status,
                        "published_at": published_at,
                    },
                )
            connection.execute(
                text(
                    "INSERT INTO tags (id, name, slug) VALUES (1, 'Everywhere', 'everywhere'), "
                    "(2, 'Draft only', 'draft-only'), (3, 'Orphan', 'orphan')"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO article_tags (article_id, tag_id) VALUES "
                    "(1, 1), (2, 1), (3, 1), (3, 2)"
                )
            )
        migrations.upgrade(url)
        with database.engine.connect() as connection:
            counts = connection.execute(
                text("SELECT name, published_count, tagged_count FROM tags ORDER BY id")
            ).all()
        assert [tuple(row) for row in counts] == [("Everywhere", 2, 3), ("Draft only", 0, 1)]

        migrations.downgrade(url, f"{TAG_COUNTS}-1")
        with database.engine.connect() as connection:
            assert connection.execute(
                text("SELECT name FROM tags ORDER BY id")
            ).scalars().all() == [
                "Everywhere",
                "Draft only",
            ]
        assert "published_count" not in {
            c["name"] for c in inspect(database.engine).get_columns("tags")
        }
        migrations.upgrade(url)
        assert migrations.schema_problem(database.engine) is None
    finally:
        database.dispose()


ARTICLE_COUNTS = "8f1b6c2d4e56"


def test_article_counts_are_counted_from_a_populated_database(
    scratch_databases: ScratchDatabases,
) -> None:
    """The kept counts start as what counting the existing articles says."""
    url = scratch_databases.create()
    database = Database(url)
    try:
        migrations.upgrade(url, f"{ARTICLE_COUNTS}-1")
        with database.engine.begin() as connection:
            for user in (1, 2):
                connection.execute(
                    text(
                        "INSERT INTO users (id, email, name, role, is_active, hashed_password, "
                        "session_version, created_at, updated_at) VALUES (:id, :email, 'U', "
                        "'author', 1, 'x', 0, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
                    ),
                    {"id": user, "email": f"u{user}@example.com"},
                )
            for number, (author, status, at) in enumerate(
                [
                    (1, "draft", None),
                    (1, "published", "2026-01-02 00:00:00"),
                    (1, "published", "2026-01-03 00:00:00"),
                    (2, "published", "2026-01-04 00:00:00"),
                ],
                start=1,
            ):
                connection.execute(
                    text(
                        "INSERT INTO articles (id, title, slug, body, body_html, status, "
                        "published_at, created_at, updated_at, author_id, version) VALUES "
                        "(:id, 'T', :slug, '', '', :status, :at, '2026-01-01 00:00:00', "
                        "'2026-01-01 00:00:00', :author, 1)"
                    ),
                    {
                        "id": number,
                        "slug": f"a-{number}",
                        "status": status,
                        "at": at,
                        "author": author,
                    },
                )
        migrations.upgrade(url)
        with database.engine.connect() as connection:
            rows = connection.execute(
                text("SELECT author_id, status, articles FROM article_counts ORDER BY 1, 2")
            ).all()
        assert [tuple(row) for row in rows] == [
            (1, "draft", 1),
            (1, "published", 2),
            (2, "published", 1),
        ]
        migrations.downgrade(url, f"{ARTICLE_COUNTS}-1")
        with database.engine.connect() as connection:
            assert connection.execute(text("SELECT COUNT(*) FROM articles")).scalar() == 4
        migrations.upgrade(url)
        assert migrations.schema_problem(database.engine) is None
    finally:
        database.dispose()


TWO_FACTOR = "6d9f4a0b2c34"


def test_two_factor_tables_come_and_go_on_a_populated_database(
    scratch_databases: ScratchDatabases,
) -> None:
    """Upgrading keeps every account as it was and requires two-factor of nobody;
    downgrading drops enrolments and codes, and nothing else."""
    url = scratch_databases.create()
    database = Database(url)
    try:
        migrations.upgrade(url, f"{TWO_FACTOR}-1")
        with database.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO users (id, email, name, role, is_active, hashed_password, "
                    "session_version, created_at, updated_at) VALUES "
                    "(1, 'ed@example.com', 'Ed', 'editor', 1, 'x', 4, "
                    "'2026-01-01 00:00:00', '2026-01-01 00:00:00'), "
                    "(2, 'al@example.com', 'Al', 'admin', 1, 'y', 0, "
                    "'2026-01-01 00:00:00', '2026-01-01 00:00:00')"
                )
            )
        migrations.upgrade(url)
        with database.engine.begin() as connection:
            # Nobody is required to: no policy row until an admin sets one.
            assert connection.execute(text("SELECT id FROM two_factor_policy")).all() == []
            connection.execute(
                text(
                    "INSERT INTO two_factor_credentials (user_id, secret, enabled_at) "
                    "VALUES (1, 'v1:sealed', '2026-02-01 00:00:00')"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO recovery_codes (user_id, digest, created_at) "
                    "VALUES (1, :digest, '2026-02-01 00:00:00')"
                ),
                {"digest": "a" * 64},
            )
        with database.sessionmaker() as session:
            ed = session.get(User, 1)
            assert ed is not None and ed.session_version == 4
            assert twofactor.has_second_factor(ed, session)
            assert not twofactor.has_second_factor(2, session)

        migrations.downgrade(url, f"{TWO_FACTOR}-1")
        tables = set(inspect(database.engine).get_table_names())
        assert not tables & {"two_factor_credentials", "recovery_codes", "two_factor_policy"}
        with database.engine.connect() as connection:
            assert connection.execute(
                text("SELECT email, session_version FROM users ORDER BY id")
            ).all() == [("ed@example.com", 4), ("al@example.com", 0)]
        migrations.upgrade(url)
        assert migrations.schema_problem(database.engine) is None
    finally:
        database.dispose()


PASSKEYS = "7e0a5b1c3d45"


def test_passkeys_come_and_go_on_a_populated_database(
    scratch_databases: ScratchDatabases,
) -> None:
    """The passkey tables arrive beside existing accounts and sessions, hold rows, and
    leave without taking anything else along."""
    url = scratch_databases.create()
    database = Database(url)
    try:
        migrations.upgrade(url, f"{PASSKEYS}-1")
        with database.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO users (id, email, name, role, is_active, hashed_password, "
                    "session_version, created_at, updated_at) VALUES (3, 'pk@example.com', "
                    "'P', 'editor', 1, 'x', 2, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO staff_sessions (id, user_id, created_at, expires_at, "
                    "last_seen_at, address, user_agent) VALUES ('s', 3, '2026-01-01 00:00:00', "
                    "'2026-01-01 08:00:00', '2026-01-01 00:00:00', '192.0.2.1', 'Firefox')"
                )
            )
        migrations.upgrade(url)
        with database.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO passkeys (id, user_id, credential_key, credential_id, "
                    "public_key, sign_count, transports, name, created_at) VALUES (1, 3, "
                    ":key, 'cred', :public_key, 4294967295, 'internal', 'Laptop', "
                    "'2026-01-02 00:00:00')"
                ),
                {"key": "k" * 64, "public_key": b"\xa5\x01\x02"},
            )
            connection.execute(
                text(
                    "INSERT INTO passkey_challenges (id, purpose, user_id, expires_at) "
                    "VALUES (:id, 'register', 3, '2026-01-02 00:05:00')"
                ),
                {"id": "c" * 64},
            )
        with database.engine.connect() as connection:
            # The largest count an authenticator can report fits.
            assert connection.execute(
                text("SELECT sign_count, public_key FROM passkeys")
            ).one() == (
                4294967295,
                b"\xa5\x01\x02",
            )

        migrations.downgrade(url, f"{PASSKEYS}-1")
        tables = set(inspect(database.engine).get_table_names())
        assert not {"passkeys", "passkey_challenges"} & tables
        with database.engine.connect() as connection:
            assert connection.execute(text("SELECT email, session_version FROM users")).one() == (
                "pk@example.com",
                2,
            )
            assert connection.execute(text("SELECT id FROM staff_sessions")).scalars().all() == [
                "s"
            ]
        migrations.upgrade(url)
        assert migrations.schema_problem(database.engine) is None
    finally:
        database.dispose()


PREVIEW_LINKS = "4b7d2e8f0a12"


def test_preview_links_come_and_go_on_a_populated_database(
    scratch_databases: ScratchDatabases,
) -> None:
    """The table arrives beside existing articles, holds links that die with their
    article, and leaves again with every other row kept."""
    url = scratch_databases.create()
    database = Database(url)
    try:
        migrations.upgrade(url, f"{PREVIEW_LINKS}-1")
        with database.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO users (id, email, name, role, is_active, hashed_password, "
                    "session_version, created_at, updated_at) VALUES (1, 'a@example.com', "
                    "'A', 'author', 1, 'x', 0, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
                )
            )
            for number in (1, 2):
                connection.execute(
                    text(
                        "INSERT INTO articles (id, title, slug, body, body_html, status, "
                        "published_at, created_at, updated_at, author_id, version) VALUES "
                        "(:id, :title, :title, '', '', 'draft', NULL, "
                        "'2026-01-01 00:00:00', '2026-01-01 00:00:00', 1, 1)"
                    ),
                    {"id": number, "title": f"draft-{number}"},
                )
        migrations.upgrade(url)
        assert migrations.schema_problem(database.engine) is None
        with database.engine.begin() as connection:
            for link, article in ((1, 1), (2, 2)):
                connection.execute(
                    text(
                        "INSERT INTO preview_links (id, article_id, secret_hash, created_by_id, "
                        "created_by_name, created_at, expires_at) VALUES (:id, :article, "
                        ":hash, 1, 'A', '2026-01-01 00:00:00', '2026-01-08 00:00:00')"
                    ),
                    {"id": link, "article": article, "hash": "0" * 64},
                )
        with database.engine.begin() as connection:
            connection.execute(text("DELETE FROM articles WHERE id = 2"))
        with database.engine.connect() as connection:
            kept = connection.execute(text("SELECT id, article_id FROM preview_links")).all()
        assert [tuple(row) for row in kept] == [(1, 1)]  # the deleted article's link went

        migrations.downgrade(url, f"{PREVIEW_LINKS}-1")
        assert "preview_links" not in inspect(database.engine).get_table_names()
        with database.engine.connect() as connection:
            assert connection.execute(text("SELECT slug FROM articles")).scalars().all() == [
                "draft-1"
            ]
        migrations.upgrade(url)
        assert migrations.schema_problem(database.engine) is None
        migrations.check(url)
    finally:
        database.dispose()
