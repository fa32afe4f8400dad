"""Mailed links in a real Chromium: a forgotten password reset end to end, and an
invitation accepted, with every message received by a real SMTP server on loopback."""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from cms.mail.worker import MailWorker
from cms.roles import Role
from tests.admin.test_browser import chromium, page, sign_in, site
from tests.conftest import UserFactory
from tests.mail_server import SmtpServer, deliver, link_in, mail_worker, smtp

pytestmark = pytest.mark.browser
__all__ = ["chromium", "mail_worker", "page", "site", "smtp"]  # fixtures

NEW_PASSWORD = "remembered at last"


@pytest.fixture
def second_page(chromium: Browser, site: str) -> Iterator[Page]:
    """Another browser (its own cookies): the invitee's."""
    context = chromium.new_context(base_url=site, viewport={"width": 1366, "height": 768})
    other = context.new_page()
    other.set_default_timeout(15_000)
    yield other
    context.close()


def test_a_forgotten_password_is_reset_from_the_sign_in_page(
    page: Page, make_user: UserFactory, smtp: SmtpServer, mail_worker: MailWorker
) -> None:
    user = make_user(email="forgetful@example.com", role=Role.EDITOR)
    page.goto("/admin/login")
    page.click("text=Forgot password?")
    page.fill("input[name=email]", user.email)
    page.click("button[type=submit]")
    expect(page.locator(".cms-reset-sent")).to_contain_text(user.email)

    deliver(mail_worker)
    [message] = smtp.inbox.to(user.email)
    page.goto(link_in(message))
    page.fill("input[name=password]", NEW_PASSWORD)
    page.fill("input[name=password_again]", NEW_PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator(".cms-reset-done")).to_be_visible()

    page.click("text=Sign in")
    page.fill("input[name=username]", user.email)
    page.fill("input[name=password]", "correct horse battery")  # the old one
    page.click("button[type=submit]")
    expect(page.locator(".alert-danger")).to_contain_text("Incorrect email or password")
    sign_in(page, user.email, NEW_PASSWORD)
    expect(page.locator(".cms-account")).to_contain_text(user.name)


def test_an_invited_colleague_sets_their_name_and_password_and_signs_in(
    page: Page,
    second_page: Page,
    make_user: UserFactory,
    smtp: SmtpServer,
    mail_worker: MailWorker,
) -> None:
    admin = make_user(role=Role.ADMIN)
    sign_in(page, admin.email)
    page.click("text=Invitations")
    page.fill("input[name=email]", "newcomer@example.com")
    page.select_option("select[name=role]", "editor")
    page.click("text=Send invitation")
    expect(page.locator(".cms-invitations")).to_contain_text("newcomer@example.com")

    deliver(mail_worker)
    [message] = smtp.inbox.to("newcomer@example.com")
    assert admin.name in str(message.get_body(preferencelist=("plain",)))
    invitee = second_page
    invitee.goto(link_in(message))
    expect(invitee.locator("body")).to_contain_text("newcomer@example.com")
    invitee.fill("input[name=name]", "Nora Newcomer")
    invitee.fill("input[name=password]", NEW_PASSWORD)
    invitee.fill("input[name=password_again]", NEW_PASSWORD)
    invitee.click("button[type=submit]")
    expect(invitee.locator(".cms-invitation-done")).to_be_visible()
    invitee.click("text=Sign in")
    sign_in(invitee, "newcomer@example.com", NEW_PASSWORD)
    expect(invitee.locator(".cms-account")).to_contain_text("Nora Newcomer")
    expect(invitee.locator(".cms-role")).to_contain_text("editor")

    # No longer pending.
    page.reload()
    expect(page.locator(".cms-invitations")).not_to_contain_text("newcomer@example.com")
