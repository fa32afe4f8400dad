"""The back office's Site settings page, over real HTTP with the form it shows: admins
only, every refusal under its field, audited, and a form saved unchanged writes nothing."""

from __future__ import annotations

import html
import json
import re

import httpx
import pytest
from sqlalchemy import select

from cms.audit.models import AuditEntry
from cms.db import Database
from cms.media.models import MediaAsset
from cms.roles import Role
from cms.site_settings import reads
from cms.site_settings.fields import MAX_NAV_LINKS
from cms.site_settings.models import SiteSettings
from cms.site_settings.values import DEFAULTS, NavLink
from tests.admin.browser_forms import ShownForm, csrf_token_on, form_on, post_form
from tests.admin.conftest import signed_in
from tests.conftest import UserFactory
from tests.site_settings.conftest import AssetFactory

PAGE = "/admin/site-settings"


@pytest.fixture
def admin(browser: httpx.Client, make_user: UserFactory) -> httpx.Client:
    return signed_in(browser, make_user(role=Role.ADMIN, name="Ada Admin"))


def shown(client: httpx.Client) -> ShownForm:
    page = client.get(PAGE)
    assert page.status_code == 200, page.text
    return form_on(page, PAGE)


def entries(database: Database) -> list[AuditEntry]:
    with database.sessionmaker() as session:
        return list(
            session.scalars(
                select(AuditEntry)
                .where(AuditEntry.object_type == "site_settings")
                .order_by(AuditEntry.id)
            )
        )


def row(database: Database) -> SiteSettings | None:
    with database.sessionmaker() as session:
        return session.get(SiteSettings, 1)


def errors_on(page: httpx.Response) -> list[str]:
    return [
        html.unescape(re.sub(r"\s+", " ", text).strip())
        for text in re.findall(r'<div class="invalid-feedback[^"]*">(.*?)</div>', page.text, re.S)
    ]


def test_an_admin_sets_name_description_logo_and_links_with_the_form_shown(
    admin: httpx.Client, database: Database, make_asset: AssetFactory
) -> None:
    logo = make_asset(alt="The Ledger's mark")
    form = shown(admin)
    assert form.values()["name"] == DEFAULTS.name
    # Ten link rows, the default links first, and the choice of every image (none chosen).
    assert [name for name, _ in form.fields if name.endswith("-label")] == [
        f"nav-{n}-label" for n in range(MAX_NAV_LINKS)
    ]
    assert [form.values()[f"nav-{n}-label"] for n in range(3)] == ["Home", "Search", ""]
    assert form.options["logo"] == ["", str(logo.id)]
    assert ("logo", "") in form.fields

    saved = post_form(
        admin,
        form.action,
        form.with_changes(
            name="The Ledger",
            description="News from\r\nthe valley.",
            logo=str(logo.id),
            **{
                "nav-0-label": "About",
                "nav-0-url": "/about",
                "nav-1-label": "",
                "nav-1-url": "",
                "nav-2-label": "Shop",
                "nav-2-url": "https://shop.example.com/",
            },
        ),
    )
    assert saved.status_code == 302, saved.text
    stored = database.read(reads.read_settings)
    assert stored.name == "The Ledger" and stored.description == "News from the valley."
    assert stored.logo is not None and stored.logo.id == logo.id
    assert stored.nav == (NavLink("About", "/about"), NavLink("Shop", "https://shop.example.com/"))

    (entry,) = entries(database)
    assert entry.actor_name == "Ada Admin" and entry.surface == "admin"
    assert json.loads(entry.changes)["name"] == [DEFAULTS.name, "The Ledger"]
    assert json.loads(entry.changes)["logo_id"] == [None, logo.id]

    # The page shows what is stored: the links in their order, the logo chosen.
    again = shown(admin)
    assert again.values()["nav-0-label"] == "About" and again.values()["nav-1-url"] == (
        "https://shop.example.com/"
    )
    assert again.values()["nav-2-label"] == ""
    assert ("logo", str(logo.id)) in again.fields


def test_saving_the_form_unchanged_changes_nothing_and_records_nothing(
    admin: httpx.Client, database: Database, make_asset: AssetFactory
) -> None:
    logo = make_asset()
    form = shown(admin)
    first = post_form(
        admin,
        form.action,
        form.with_changes(
            name="Kept",
            description="Two\r\nlines",
            logo=str(logo.id),
            **{"nav-0-label": "Über uns", "nav-0-url": "/über"},
        ),
    )
    assert first.status_code == 302
    before = row(database)
    assert before is not None
    form = shown(admin)
    unchanged = post_form(admin, form.action, form.fields)
    assert unchanged.status_code == 302
    after = row(database)
    assert after is not None
    assert (after.name, after.description, after.logo_id, after.nav, after.updated_at) == (
        before.name,
        before.description,
        before.logo_id,
        before.nav,
        before.updated_at,
    )
    assert len(entries(database)) == 1
    assert "Nothing was changed" in admin.get(PAGE).text


def test_a_refused_link_is_said_on_its_row_and_nothing_is_saved(
    admin: httpx.Client, database: Database
) -> None:
    form = shown(admin)
    refused = post_form(
        admin,
        form.action,
        form.with_changes(
            name="Would be renamed",
            **{
                "nav-0-label": "Fine",
                "nav-0-url": "/fine",
                "nav-2-label": "Sneaky",
                "nav-2-url": "javascript:alert(1)",
                "nav-4-label": "No address",
                "nav-5-url": "/no-label",
            },
        ),
    )
    assert refused.status_code == 400
    assert "correct the fields marked below" in refused.text
    assert errors_on(refused) == [
        "Address must start with https://, http:// or / (a path on this site), "
        "like https://example.com/about or /about",
        "Give this link an address, or clear its label",
        "Give this link a label, or clear its address",
    ]
    # The errors sit on the rows' own fields, and what was typed is kept.
    again = form_on(refused, PAGE)
    assert again.values()["nav-2-url"] == "javascript:alert(1)"
    assert again.values()["name"] == "Would be renamed"
    assert re.search(
        r'<input[^>]*class="form-control is-invalid"[^>]*name="nav-2-url"', refused.text
    )
    assert row(database) is None and entries(database) == []


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"name": "  "}, "Enter the site's name"),
        ({"name": "x" * 101}, "Name should have at most 100 characters"),
        ({"description": "x" * 301}, "Description should have at most 300 characters"),
        ({"nav-0-label": "x" * 41, "nav-0-url": "/"}, "Label should have at most 40 characters"),
        ({"nav-0-label": "Other", "nav-0-url": "//evil.example.com"}, "Address must be a path"),
        ({"logo": "999999"}, "That image is no longer in the media library; choose another"),
    ],
)
def test_each_refusal_is_said_under_its_field(
    admin: httpx.Client, database: Database, changes: dict[str, str], error: str
) -> None:
    form = shown(admin)
    refused = post_form(admin, form.action, form.with_changes(**changes))
    assert refused.status_code == 400
    (shown_error,) = errors_on(refused)
    assert shown_error.startswith(error), shown_error
    assert row(database) is None


def test_a_logo_deleted_while_the_form_was_open_is_refused_on_the_logo_field(
    admin: httpx.Client, database: Database, make_asset: AssetFactory
) -> None:
    logo = make_asset()
    form = shown(admin)
    with database.transaction() as session:
        session.delete(session.get(MediaAsset, logo.id))
    refused = post_form(admin, form.action, form.with_changes(logo=str(logo.id)))
    assert refused.status_code == 400
    assert errors_on(refused) == ["That image is no longer in the media library; choose another"]


def test_the_form_without_its_csrf_token_is_refused(
    admin: httpx.Client, database: Database
) -> None:
    form = shown(admin)
    data = [
        (name, value) for name, value in form.with_changes(name="Forged") if name != "csrf_token"
    ]
    assert post_form(admin, form.action, data).status_code == 403
    assert row(database) is None


@pytest.mark.parametrize("role", [Role.AUTHOR, Role.EDITOR])
def test_editors_and_authors_neither_see_nor_change_the_site_settings(
    browser: httpx.Client, database: Database, make_user: UserFactory, role: Role
) -> None:
    signed_in(browser, make_user(role=role))
    dashboard = browser.get("/admin/")
    assert PAGE not in dashboard.text
    assert browser.get(PAGE).status_code == 403
    token = csrf_token_on(dashboard)
    forged = browser.post(PAGE, data={"csrf_token": token, "name": "Taken over"})
    assert forged.status_code == 403
    assert row(database) is None and entries(database) == []


def test_an_admin_finds_the_page_in_the_menu(admin: httpx.Client) -> None:
    assert f'href="{PAGE}"' in admin.get("/admin/").text


def test_signed_out_the_page_asks_to_sign_in(browser: httpx.Client) -> None:
    response = browser.get(PAGE)
    assert response.status_code == 302 and "/admin/login" in response.headers["location"]


def test_the_audit_trail_reads_the_change_and_links_the_page(
    admin: httpx.Client, database: Database
) -> None:
    form = shown(admin)
    post_form(
        admin,
        form.action,
        form.with_changes(name="The Ledger", **{"nav-0-label": "About", "nav-0-url": "/about"}),
    )
    trail = admin.get("/admin/audit-entry/list")
    assert trail.status_code == 200
    assert f'href="{PAGE}"' in trail.text and "Site settings (The Ledger)" in trail.text
    assert "navigation links" in trail.text and "About (/about)" in trail.text
    assert f"“{DEFAULTS.name}” → “The Ledger”" in trail.text
