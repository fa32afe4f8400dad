"""The migrations build the schema the models describe, both ways, on this backend."""

from sqlalchemy import inspect

from cms import schema
from cms.db import Database
from tests.conftest import ScratchDatabases


def test_upgrade_downgrade_upgrade_leaves_no_drift(scratch_databases: ScratchDatabases) -> None:
    url = scratch_databases.create()
    database = Database(url)
    try:
        schema.upgrade(url)
        assert schema.current_revision(database.engine) == schema.head_revision()
        assert {"users", "articles", "login_throttles"} <= set(
            inspect(database.engine).get_table_names()
        )

        schema.downgrade(url, "base")
        assert schema.current_revision(database.engine) is None
        assert set(inspect(database.engine).get_table_names()) <= {"alembic_version"}

        schema.upgrade(url)
        schema.check(url)  # raises if autogenerate finds any difference
        assert schema.schema_problem(database.engine) is None
    finally:
        database.dispose()
