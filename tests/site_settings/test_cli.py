"""``cms site show`` and ``cms site set``: the same action and rules as the back office."""

from __future__ import annotations

import json

from sqlalchemy import select
from typer.testing import CliRunner

from cms.audit.models import AuditEntry
from cms.cli import app
from cms.db import Database
from cms.site_settings import reads
from cms.site_settings.values import DEFAULTS, NavLink
from tests.conftest import TEST_SECRET_KEY
from tests.site_settings.conftest import AssetFactory


def cli(database: Database, *args: str) -> tuple[int, str]:
    env = {
        "CMS_DATABASE_URL": database.url,
        "CMS_ENVIRONMENT": "test",
        "CMS_SECRET_KEY": TEST_SECRET_KEY,
    }
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.output


def test_site_set_then_show(database: Database, make_asset: AssetFactory) -> None:
    code, output = cli(database, "site", "show")
    assert code == 0 and f"name: {DEFAULTS.name}" in output and "saved: never" in output
    logo = make_asset()
    code, output = cli(
        database,
        "site",
        "set",
        "--name",
        "The Ledger",
        "--logo",
        str(logo.id),
        "--link",
        "About=/about",
        "--link",
        "Search=/search?q=a=b",
    )
    assert code == 0, output
    assert "Changed: logo_id, name, nav." in output
    stored = database.read(reads.read_settings)
    assert stored.nav == (NavLink("About", "/about"), NavLink("Search", "/search?q=a=b"))
    code, output = cli(database, "site", "show")
    assert "name: The Ledger" in output and "link 2: Search -> /search?q=a=b" in output
    assert f"logo: image {logo.id}" in output
    with database.sessionmaker() as session:
        entry = session.scalars(select(AuditEntry)).one()
    assert entry.surface == "cli" and json.loads(entry.changes)["name"][1] == "The Ledger"

    code, output = cli(database, "site", "set", "--name", "The Ledger")
    assert code == 0 and "Nothing changed." in output
    code, output = cli(database, "site", "set", "--no-links", "--logo", "0")
    assert code == 0 and database.read(reads.read_settings).nav == ()
    assert database.read(reads.read_settings).logo is None


def test_site_set_refuses_what_the_back_office_refuses(database: Database) -> None:
    code, output = cli(database, "site", "set", "--link", "Home=/", "--link", "X=javascript:x")
    assert code == 1
    assert "Error: Navigation link 2: Address must start with https://" in output
    code, output = cli(database, "site", "set", "--link", "no separator")
    assert code == 2 and "give it as LABEL=ADDRESS" in output
    assert database.read(reads.read_settings) == DEFAULTS
