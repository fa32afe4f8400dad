"""The migrations build the schema the models describe, both ways, on this backend."""

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
