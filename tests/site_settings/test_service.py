"""UpdateSiteSettings: admins only, every value checked (a link's error names its row),
audited as before → after, nothing written when nothing changes."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from cms.actors import SYSTEM
from cms.audit.models import AuditEntry
from cms.db import Database
from cms.errors import InvalidInput, PermissionDenied
from cms.media.models import MediaAsset
from cms.roles import Role
from cms.site_settings import reads
from cms.site_settings.models import SiteSettings
from cms.site_settings.service import SiteSettingsChanges, UpdateSiteSettings, site_settings
from cms.site_settings.values import DEFAULTS, NavLink
from tests.conftest import UserFactory
from tests.site_settings.conftest import AssetFactory


def update(database: Database, actor: object = SYSTEM, **changes: object) -> frozenset[str]:
    action = UpdateSiteSettings(changes=SiteSettingsChanges(**changes))  # type: ignore[arg-type]
    return database.run(action, actor=actor)  # type: ignore[arg-type]


def stored(database: Database) -> object:
    return database.read(site_settings)


def audit_entries(database: Database) -> list[AuditEntry]:
    with database.sessionmaker() as session:
        return list(
            session.scalars(select(AuditEntry).where(AuditEntry.object_type == "site_settings"))
        )


def test_a_site_without_saved_settings_reads_the_defaults(database: Database) -> None:
    assert stored(database) == DEFAULTS
    assert DEFAULTS.name and DEFAULTS.logo is None
    assert DEFAULTS.nav == (NavLink("Home", "/"), NavLink("Search", "/search"))


def test_an_admin_saves_every_setting_and_the_trail_says_before_and_after(
    database: Database, make_user: UserFactory, make_asset: AssetFactory
) -> None:
    admin = make_user(role=Role.ADMIN, name="Ada Admin")
    logo = make_asset(alt="The Ledger's mark")
    changed = update(
        database,
        admin,
        name="  The Ledger ",
        description="News from\r\nthe   valley.",
        logo_id=logo.id,
        nav=(NavLink("About", "/about"), NavLink(" Shop ", "https://shop.example.com/")),
    )
    assert changed == {"name", "description", "logo_id", "nav"}
    settings = database.read(reads.read_settings)
    assert settings.name == "The Ledger"
    assert settings.description == "News from the valley."
    assert settings.nav == (
        NavLink("About", "/about"),
        NavLink("Shop", "https://shop.example.com/"),
    )
    assert settings.logo is not None and settings.logo.alt == "The Ledger's mark"
    assert settings.logo.url == f"/media/files/{logo.sha256}/400.png"
    assert settings.updated_by_id == admin.id and settings.updated_at is not None

    (entry,) = audit_entries(database)
    assert entry.action == "update" and entry.actor_id == admin.id
    assert entry.object_repr == "The Ledger"
    assert json.loads(entry.changes) == {
        "name": [DEFAULTS.name, "The Ledger"],
        "description": [DEFAULTS.description, "News from the valley."],
        "logo_id": [None, logo.id],
        "nav": [
            ["Home (/)", "Search (/search)"],
            ["About (/about)", "Shop (https://shop.example.com/)"],
        ],
    }

    update(database, admin, nav=(NavLink("Shop", "https://shop.example.com/"),))
    latest = audit_entries(database)[-1]
    assert json.loads(latest.changes) == {
        "nav": [
            ["About (/about)", "Shop (https://shop.example.com/)"],
            ["Shop (https://shop.example.com/)"],
        ]
    }


def test_saving_what_is_stored_writes_nothing(database: Database, make_user: UserFactory) -> None:
    admin = make_user(role=Role.ADMIN)
    update(database, admin, name="Kept", nav=(NavLink("About", "/about"),))
    before = stored(database)
    assert (
        update(
            database,
            admin,
            name="Kept ",
            description=DEFAULTS.description + "\n",
            nav=(NavLink("About", "/about "),),
        )
        == frozenset()
    )
    assert stored(database) == before
    assert len(audit_entries(database)) == 1


def test_the_defaults_saved_as_they_are_write_no_row(database: Database) -> None:
    assert (
        update(
            database,
            name=DEFAULTS.name,
            description=DEFAULTS.description,
            logo_id=None,
            nav=DEFAULTS.nav,
        )
        == frozenset()
    )
    assert audit_entries(database) == []
    with database.sessionmaker() as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == 0


@pytest.mark.parametrize("role", [Role.AUTHOR, Role.EDITOR])
def test_only_admins_change_the_site_settings(
    database: Database, make_user: UserFactory, role: Role
) -> None:
    with pytest.raises(PermissionDenied):
        update(database, make_user(role=role), name="Taken over")
    assert stored(database) == DEFAULTS and audit_entries(database) == []


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "javascript:alert(1)",
            "Navigation link 2: Address must start with https://, http:// or /",
        ),
        ("JavaScript:alert(1)", "Navigation link 2: Address must start with https://"),
        ("data:text/html,<b>hi</b>", "Navigation link 2: Address must start with https://"),
        ("about", "Navigation link 2: Address must start with https://"),
        ("../up", "Navigation link 2: Address must start with https://"),
        ("//evil.example.com/", "Navigation link 2: Address must be a path on this site"),
        (
            "/\\evil.example.com",
            "Navigation link 2: Address must not contain spaces or backslashes",
        ),
        ("https://", "Navigation link 2: Address must name a host"),
        ("/a b", "Navigation link 2: Address must not contain spaces"),
        ("", "Navigation link 2: Address should have at least 1 character"),
        ("/" + "x" * 500, "Navigation link 2: Address should have at most 500 characters"),
    ],
)
def test_a_link_that_is_not_a_web_address_is_refused_naming_its_row(
    database: Database, url: str, message: str
) -> None:
    links = (NavLink("Home", "/"), NavLink("Bad", url))
    with pytest.raises(InvalidInput) as refused:
        update(database, nav=links)
    assert refused.value.field == "nav"
    assert refused.value.message.startswith(message), refused.value.message
    assert stored(database) == DEFAULTS


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": "   "}, "name", "Name must not be blank"),
        ({"name": "x" * 101}, "name", "Name should have at most 100 characters"),
        ({"name": "Tab\there"}, "name", "Name must be one line of text"),
        ({"description": "x" * 301}, "description", "Description should have at most 300"),
        ({"nav": (NavLink("", "/a"),)}, "nav", "Navigation link 1: Label should have at least 1"),
        (
            {"nav": (NavLink("x" * 41, "/a"),)},
            "nav",
            "Navigation link 1: Label should have at most 40",
        ),
        (
            {"nav": tuple(NavLink(f"L{n}", "/") for n in range(11))},
            "nav",
            "Navigation: at most 10 links",
        ),
        ({"logo_id": 999_999}, "logo_id", "No image 999999 in the media library"),
    ],
)
def test_each_field_has_its_rule(
    database: Database, changes: dict[str, object], field: str, message: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        update(database, **changes)
    assert refused.value.field == field
    assert refused.value.message.startswith(message), refused.value.message


def test_accepted_addresses(database: Database) -> None:
    links = (
        NavLink("Home", "/"),
        NavLink("Tag", "/tags/news?page=2#top"),
        NavLink("Secure", "HTTPS://Example.com"),
        NavLink("Plain", "http://example.com:8080/x"),
    )
    update(database, nav=links)
    assert database.read(reads.read_settings).nav == links


def test_deleting_the_logo_image_leaves_the_site_without_a_logo(
    database: Database, make_asset: AssetFactory
) -> None:
    logo = make_asset()
    update(database, logo_id=logo.id)
    with database.transaction() as session:
        session.delete(session.get(MediaAsset, logo.id))
    assert database.read(reads.read_settings).logo is None


def test_a_change_is_seen_at_once_by_this_process_and_within_the_ttl_elsewhere(
    database: Database,
) -> None:
    assert database.read(reads.cached_settings).name == DEFAULTS.name
    update(database, name="Renamed")
    # The action's commit forgot what this process held.
    assert database.read(reads.cached_settings).name == "Renamed"
    # A change this process did not make (another worker's) is not seen until the TTL.
    with database.transaction() as session:
        row = session.get(SiteSettings, 1)
        assert row is not None
        row.name = "Changed elsewhere"
    assert database.read(reads.cached_settings).name == "Renamed"
    reads.forget()
    assert database.read(reads.cached_settings).name == "Changed elsewhere"


def test_a_failed_save_leaves_the_cache_as_it_was(
    database: Database, make_user: UserFactory
) -> None:
    update(database, name="Before")
    assert database.read(reads.cached_settings).name == "Before"
    with pytest.raises(InvalidInput):
        update(database, name="After", logo_id=424_242)
    assert database.read(reads.read_settings).name == "Before"
    assert database.read(reads.cached_settings).name == "Before"
