"""The migrations build the schema the models describe, both ways, on this backend."""

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import inspect

from cms import migrations
from cms.db import Database
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
