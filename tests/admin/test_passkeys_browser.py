"""Passkeys through the real back office in Chromium, with the DevTools protocol's
virtual authenticator standing in for a phone or a laptop's fingerprint reader: the
options, the authenticator's answers and their verification are the real ones."""

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import CDPSession, Page, expect
from sqlalchemy import select

from cms.audit.models import AuditEntry
from cms.auth.models import Passkey
from cms.db import Database
from cms.roles import Role
from tests.admin.test_browser import chromium, page, sign_in, site
from tests.conftest import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.browser
__all__ = ["chromium", "page", "site"]  # the fixtures this module borrows


@pytest.fixture
def authenticator(page: Page) -> Iterator[tuple[CDPSession, str]]:
    """A platform authenticator with resident keys and a user who always verifies."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    made: dict[str, Any] = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )
    yield cdp, made["authenticatorId"]
    cdp.send("WebAuthn.disable")


def actions_of(database: Database, user_id: int) -> list[str]:
    with database.sessionmaker() as session:
        return list(
            session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.object_id == user_id, AuditEntry.object_type == "user")
                .order_by(AuditEntry.id)
            )
        )


def test_a_passkey_made_on_the_account_page_signs_in_without_a_password(
    page: Page,
    authenticator: tuple[CDPSession, str],
    make_user: UserFactory,
    database: Database,
) -> None:
    cdp, authenticator_id = authenticator
    editor = make_user(role=Role.EDITOR, name="Pat Passkey")
    sign_in(page, editor.email)
    page.goto("/admin/account")
    expect(page.locator(".cms-no-passkeys")).to_be_visible()
    # The cards sit in the page's content, beside the account's other cards.
    content = page.locator(".page-wrapper .row-cards")
    expect(content.locator("#passkeys")).to_be_visible()
    expect(content.locator("#sessions")).to_be_visible()
    assert page.locator(".card").count() == content.locator(".card").count()
    page.fill("#passkey-name", "Work laptop")
    page.fill("#passkey-password", DEFAULT_PASSWORD)
    with page.expect_navigation(url="**/admin/account"):
        page.click("text=Add a passkey")
    expect(page.locator(".cms-passkeys")).to_contain_text("Work laptop")
    with database.sessionmaker() as session:
        stored = session.scalars(select(Passkey).where(Passkey.user_id == editor.id)).one()
    assert stored.name == "Work laptop" and stored.last_used_at is None
    assert "internal" in stored.transports.split()
    credentials = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})
    [credential] = credentials["credentials"]
    assert credential["isResidentCredential"] is True

    # Signed out, the login page signs in with the passkey alone: no email, no password.
    page.click("button:has-text('Sign out')")
    page.wait_for_url("**/admin/login")
    page.click("text=Sign in with a passkey")
    page.wait_for_url("**/admin/")
    expect(page.locator(".cms-account")).to_contain_text("Pat Passkey")

    page.goto("/admin/account")
    expect(page.locator(".cms-passkeys")).not_to_contain_text("never")
    sessions = page.locator(".cms-sessions tbody tr")
    expect(sessions).to_have_count(1)
    expect(sessions.first).to_contain_text("Chrome on Linux")
    expect(sessions.first.locator(".cms-this-session")).to_be_visible()
    with database.sessionmaker() as session:
        used = session.get(Passkey, stored.id)
        assert used is not None and used.last_used_at is not None
        # The virtual authenticator counts its signatures: the stored count follows.
        assert used.sign_count == credential["signCount"] + 1
    assert actions_of(database, editor.id) == ["login", "passkey_added", "logout", "login"]
    with database.sessionmaker() as session:
        last_login = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "login").order_by(AuditEntry.id.desc())
        ).first()
    assert last_login is not None and "Work laptop" in last_login.changes


def test_a_removed_passkey_no_longer_signs_in(
    page: Page,
    authenticator: tuple[CDPSession, str],
    make_user: UserFactory,
    database: Database,
) -> None:
    author = make_user(name="Robin Removed")
    sign_in(page, author.email)
    page.goto("/admin/account")
    page.fill("#passkey-name", "Old phone")
    page.fill("#passkey-password", DEFAULT_PASSWORD)
    with page.expect_navigation(url="**/admin/account"):
        page.click("text=Add a passkey")
    with page.expect_navigation(url="**/admin/account"):
        page.locator(".cms-passkeys").get_by_role("button", name="Remove").click()
    expect(page.locator(".cms-no-passkeys")).to_be_visible()
    page.click("button:has-text('Sign out')")
    page.wait_for_url("**/admin/login")
    page.click("text=Sign in with a passkey")
    expect(page.locator(".cms-passkey-sign-in .cms-passkey-state")).to_contain_text(
        "could not sign you in"
    )
    assert page.url.endswith("/admin/login")
    assert actions_of(database, author.id)[-2:] == ["passkey_removed", "logout"]
    with database.sessionmaker() as session:
        failed = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "login_failed")
        ).one()
    assert failed.object_id is None and "unknown passkey" in failed.changes
