"""The back office's mailed-link pages over HTTP: invitations (invite, refuse a taken
address, revoke, accept once), a reset form that answers alike for every address, and
changing one's email (a link to the new address, a notice to the old, nothing changes
until confirmed). Mail goes through a real SMTP server on loopback."""

import httpx
from sqlalchemy import select

from cms.audit.models import AuditEntry
from cms.db import Database
from cms.mail.worker import MailWorker
from cms.roles import Role
from cms.users.models import User
from tests.admin.browser_forms import form_on, post_form
from tests.admin.conftest import admin_login, signed_in
from tests.conftest import DEFAULT_PASSWORD, UserFactory
from tests.mail_server import SmtpServer, deliver, link_in, mail_worker, smtp, text_of

__all__ = ["mail_worker", "smtp"]  # fixtures
CHOSEN = "one passphrase"


def audit_actions(database: Database) -> list[str]:
    with database.reading() as session:
        return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all())


def invite(browser: httpx.Client, email: str, role: str = "author") -> httpx.Response:
    form = form_on(browser.get("/admin/invitations"), "/admin/invitations/add")
    return post_form(browser, form.action, form.with_changes(email=email, role=role))


def test_an_invitation_is_sent_listed_accepted_once_and_makes_the_account(
    browser: httpx.Client,
    make_user: UserFactory,
    smtp: SmtpServer,
    mail_worker: MailWorker,
    database: Database,
    live_server: object,
) -> None:
    admin = make_user(role=Role.ADMIN, name="Ada Admin")
    signed_in(browser, admin)
    assert invite(browser, "Colleague@Example.com", "editor").status_code == 302
    listing = browser.get("/admin/invitations")
    assert "colleague@example.com" in listing.text and "Invitation sent" in listing.text
    with database.reading() as session:
        assert session.scalar(select(User).where(User.email == "colleague@example.com")) is None

    deliver(mail_worker)
    [message] = smtp.inbox.to("colleague@example.com")
    assert message["Subject"] == "You are invited to the CMS"
    assert "Ada Admin invited you" in text_of(message) and "an editor" in text_of(message)
    link = link_in(message)

    with httpx.Client(base_url=browser.base_url, timeout=30) as invitee:
        page = invitee.get(link)
        assert page.status_code == 200 and "colleague@example.com" in page.text
        form = form_on(page, "/admin/invitation")
        mismatch = post_form(
            invitee,
            form.action,
            form.with_changes(name="Cleo", password="one passphrase", password_again="other"),
        )
        assert mismatch.status_code == 400 and "differ" in mismatch.text
        weak = post_form(
            invitee,
            form.action,
            form.with_changes(name="Cleo", password="short", password_again="short"),
        )
        assert weak.status_code == 400 and "invalid-feedback" in weak.text
        done = post_form(
            invitee,
            form.action,
            form.with_changes(
                name="Cleo", password="one passphrase", password_again="one passphrase"
            ),
        )
        assert done.status_code == 200 and "is ready" in done.text
        again = post_form(
            invitee,
            form.action,
            form.with_changes(
                name="Eve", password="eve passphrase", password_again="eve passphrase"
            ),
        )
        assert again.status_code == 400 and "no longer works" in again.text
        assert admin_login(invitee, "colleague@example.com", CHOSEN).status_code == 302

    with database.reading() as session:
        made = session.scalar(select(User).where(User.email == "colleague@example.com"))
    assert made is not None and made.name == "Cleo" and made.role is Role.EDITOR
    assert "colleague@example.com" not in browser.get("/admin/invitations").text.split("Pending")[1]
    assert {"invitation_sent", "invitation_accepted"} <= set(audit_actions(database))


def test_a_registered_address_cannot_be_invited_and_a_revoked_invitation_is_dead(
    browser: httpx.Client,
    make_user: UserFactory,
    smtp: SmtpServer,
    mail_worker: MailWorker,
    database: Database,
) -> None:
    admin = make_user(role=Role.ADMIN)
    taken = make_user(email="taken@example.com")
    signed_in(browser, admin)
    invite(browser, taken.email)
    assert "already has an account" in browser.get("/admin/invitations").text

    invite(browser, "maybe@example.com")
    deliver(mail_worker)
    link = link_in(smtp.inbox.to("maybe@example.com")[0])
    listing = browser.get("/admin/invitations")
    revoke = form_on(listing, "/admin/invitations/revoke")
    assert post_form(browser, revoke.action, revoke.fields).status_code == 302
    assert "is revoked" in browser.get("/admin/invitations").text
    with httpx.Client(base_url=browser.base_url, timeout=30) as invitee:
        page = invitee.get(link)
    assert page.status_code == 400 and "no longer works" in page.text
    assert {"invitation_sent", "invitation_revoked"} <= set(audit_actions(database))


def test_the_forgot_password_form_answers_alike_for_every_address(
    browser: httpx.Client, make_user: UserFactory, smtp: SmtpServer, mail_worker: MailWorker
) -> None:
    user = make_user()
    login_page = browser.get("/admin/login")
    assert 'href="/admin/password-reset"' in login_page.text

    def ask(email: str) -> httpx.Response:
        form = form_on(browser.get("/admin/password-reset"), "/admin/password-reset")
        return post_form(browser, form.action, form.with_changes(email=email))

    known, unknown = ask(user.email), ask("stranger@example.com")
    assert known.status_code == unknown.status_code == 200
    assert known.text.replace(user.email, "X") == unknown.text.replace("stranger@example.com", "X")
    deliver(mail_worker)
    assert [m["To"] for m in smtp.inbox.messages] == [user.email]
    assert ask("not an address").status_code == 400


def test_a_new_email_is_confirmed_from_the_link_and_the_old_address_is_told(
    browser: httpx.Client,
    make_user: UserFactory,
    smtp: SmtpServer,
    mail_worker: MailWorker,
    database: Database,
) -> None:
    user = make_user(email="old@example.com")
    make_user(email="someone@example.com")
    signed_in(browser, user)

    def ask(new: str, password: str = DEFAULT_PASSWORD) -> str:
        form = form_on(browser.get("/admin/account"), "/admin/account/email")
        post_form(browser, form.action, form.with_changes(new_email=new, current_password=password))
        return browser.get("/admin/account").text

    assert "Current password is incorrect" in ask("new@example.com", "a wrong guess")
    assert "already has an account" in ask("someone@example.com")
    assert "on its way to new@example.com" in ask("new@example.com")
    deliver(mail_worker)
    [notice] = smtp.inbox.to("old@example.com")
    assert notice["Subject"] == "Your email address is about to change"
    assert "new@example.com" in text_of(notice)
    [confirmation] = smtp.inbox.to("new@example.com")
    with database.reading() as session:
        assert session.get(User, user.id).email == "old@example.com"  # type: ignore[union-attr]

    with httpx.Client(base_url=browser.base_url, timeout=30) as mailbox:
        link = link_in(confirmation)
        form = form_on(mailbox.get(link), "/admin/account/email/confirm")
        done = post_form(mailbox, form.action, form.fields)
        assert done.status_code == 200 and "now new@example.com" in done.text
        again = post_form(mailbox, form.action, form.fields)
        assert again.status_code == 400 and "no longer works" in again.text
    with database.reading() as session:
        assert session.get(User, user.id).email == "new@example.com"  # type: ignore[union-attr]
    assert {"email_change_requested", "email_change_confirmed"} <= set(audit_actions(database))


def test_a_reset_signs_out_every_back_office_session_of_the_account(
    browser: httpx.Client,
    make_user: UserFactory,
    smtp: SmtpServer,
    mail_worker: MailWorker,
) -> None:
    user = make_user()
    signed_in(browser, user)
    assert browser.get("/admin/account").status_code == 200
    with httpx.Client(base_url=browser.base_url, timeout=30) as other:
        form = form_on(other.get("/admin/password-reset"), "/admin/password-reset")
        post_form(other, form.action, form.with_changes(email=user.email))
        deliver(mail_worker)
        page = other.get(link_in(smtp.inbox.to(user.email)[0]))
        form = form_on(page, "/admin/password-reset/confirm")
        done = post_form(
            other, form.action, form.with_changes(password=CHOSEN, password_again=CHOSEN)
        )
        assert done.status_code == 200 and "Your password is changed" in done.text
    signed_out = browser.get("/admin/account")
    assert signed_out.status_code == 302 and "/admin/login" in signed_out.headers["location"]
    assert admin_login(browser, user.email, CHOSEN).status_code == 302
