"""Migration 3f1a6c2d9e01 (the site settings row) on a populated database, both ways."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

from cms import migrations
from cms.db import Database
from cms.site_settings import reads
from cms.site_settings.values import NavLink
from tests.conftest import ScratchDatabases

REVISION = "3f1a6c2d9e01"
BEFORE = "18f606c039de"


def test_the_site_settings_table_comes_and_goes_leaving_the_rest(
    scratch_databases: ScratchDatabases,
) -> None:
    url = scratch_databases.create()
    database = Database(url)
    try:
        migrations.upgrade(url, BEFORE)
        with database.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO users (id, email, name, role, is_active, hashed_password, "
                    "session_version, created_at, updated_at) VALUES (3, 'ada@example.com', "
                    "'Ada', 'admin', 1, 'x', 0, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO media_assets (id, sha256, mime, bytes, width, height, alt, "
                    "focal_x, focal_y, uploaded_by_id, created_at) VALUES (5, :sha, "
                    "'image/png', 10, 400, 100, 'Mark', 0.5, 0.5, 3, '2026-01-01 00:00:00')"
                ),
                {"sha": "a" * 64},
            )
        migrations.upgrade(url, REVISION)
        with database.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO site_settings (id, name, description, logo_id, nav, "
                    "updated_at, updated_by_id) VALUES (1, 'The Ledger 🙂', 'News', 5, "
                    """'[{"label":"About","url":"/about"}]', '2026-01-02 00:00:00', 3)"""
                )
            )
        stored = database.read(reads.read_settings)
        assert stored.name == "The Ledger 🙂" and stored.nav == (NavLink("About", "/about"),)
        assert stored.logo is not None and stored.logo.url == f"/media/files/{'a' * 64}/400.png"
        # One row only: a second is refused by the database itself.
        with database.engine.connect() as connection, pytest.raises(DBAPIError) as refused:
            connection.execute(
                text(
                    "INSERT INTO site_settings (id, name, description, nav, updated_at) "
                    "VALUES (2, 'Second', '', '[]', '2026-01-02 00:00:00')"
                )
            )
        assert "single_row" in str(refused.value)

        migrations.downgrade(url, BEFORE)
        assert "site_settings" not in inspect(database.engine).get_table_names()
        with database.engine.connect() as connection:
            assert connection.execute(text("SELECT alt FROM media_assets")).scalars().all() == [
                "Mark"
            ]
            assert connection.execute(text("SELECT email FROM users")).scalars().all() == [
                "ada@example.com"
            ]
        migrations.upgrade(url)
        assert migrations.schema_problem(database.engine) is None
        assert database.read(reads.read_settings).name  # the defaults again
    finally:
        database.dispose()
