"""Two-factor sign-in in the back office, over HTTP with the forms the pages show: the
second step of signing in, enrolment on *Your account*, the policy walking staff through
enrolment, an admin's reset, and a pending sign-in that cannot be stretched or forged."""

import base64
import json
import re
import time
from typing import Any

import httpx
import pyotp
import pytest
from itsdangerous import TimestampSigner
from sqlalchemy import select

from admin.auth import PENDING_ATTEMPTS, PENDING_KEY, SESSION_COOKIE
from cms.audit.models import AuditEntry
from cms.db import Database
from cms.mail.worker import MailWorker
from cms.roles import Role
from cms.twofactor import service as twofactor
from cms.twofactor.models import TwoFactorCredential
from cms.users.models import User
from tests.admin.browser_forms import csrf_token_on, form_on, post_form
from tests.admin.conftest import admin_login, signed_in
from tests.conftest import DEFAULT_PASSWORD, TEST_SECRET_KEY, UserFactory
from tests.mail_server import SmtpServer, deliver, text_of
from tests.twofactor.conftest import ORIGIN, Enrol


def actions(database: Database, user_id: int) -> list[str]:
    with database.sessionmaker() as session:
        return list(
            session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.object_id == user_id, AuditEntry.object_type == "user")
                .order_by(AuditEntry.id)
            )
        )


def signed_in_to_back_office(browser: httpx.Client) -> bool:
    return browser.get("/admin/").status_code == 200


def enter_code(browser: httpx.Client, page: httpx.Response, code: str) -> httpx.Response:
    form = form_on(page, "/admin/login/code")
    return post_form(browser, form.action, form.with_changes(code=code))


def test_the_password_alone_does_not_sign_in_an_enrolled_user(
    browser: httpx.Client, make_user: UserFactory, enrol: Enrol, database: Database
) -> None:
    enrolled = enrol(make_user(role=Role.EDITOR))
    answer = admin_login(browser, enrolled.user.email)
    assert answer.status_code == 302 and answer.headers["location"].endswith("/admin/login/code")
    assert not signed_in_to_back_office(browser)  # nothing but the code page yet
    page = browser.get("/admin/login/code")
    assert page.status_code == 200 and 'name="code"' in page.text

    wrong = enter_code(browser, page, "000000" if enrolled.code() != "000000" else "111111")
    assert wrong.status_code == 400 and "not right" in wrong.text
    assert not signed_in_to_back_office(browser)

    done = enter_code(browser, browser.get("/admin/login/code"), enrolled.code())
    assert done.status_code == 302 and done.headers["location"].endswith("/admin/")
    assert signed_in_to_back_office(browser)
    assert actions(database, enrolled.user.id)[-3:] == [
        "password_accepted",
        "two_factor_failed",
        "login",
    ]


def test_a_recovery_code_signs_in_once(
    browser: httpx.Client, make_user: UserFactory, enrol: Enrol
) -> None:
    enrolled = enrol(make_user(role=Role.EDITOR))
    recovery = enrolled.recovery_codes[0]
    admin_login(browser, enrolled.user.email)
    done = enter_code(browser, browser.get("/admin/login/code"), recovery)
    assert done.status_code == 302
    assert "9 left" in browser.get("/admin/").text
    browser.cookies.clear()
    admin_login(browser, enrolled.user.email)
    again = enter_code(browser, browser.get("/admin/login/code"), recovery)
    assert again.status_code == 400
    assert not signed_in_to_back_office(browser)


def test_a_pending_sign_in_allows_a_few_codes_then_asks_for_the_password_again(
    browser: httpx.Client, make_user: UserFactory, enrol: Enrol
) -> None:
    enrolled = enrol(make_user(role=Role.EDITOR))
    admin_login(browser, enrolled.user.email)
    wrong = "000000" if enrolled.code() != "000000" else "111111"
    for _ in range(PENDING_ATTEMPTS - 1):
        assert enter_code(browser, browser.get("/admin/login/code"), wrong).status_code == 400
    last = enter_code(browser, browser.get("/admin/login/code"), wrong)
    assert last.status_code == 400 and "sign in with your password again" in last.text
    # The right code is too late: this pending sign-in is over.
    gone = browser.get("/admin/login/code")
    assert gone.status_code == 302 and gone.headers["location"].endswith("/admin/login")


def forged_session(session: dict[str, Any], key: str = TEST_SECRET_KEY) -> str:
    """A session cookie as Starlette's SessionMiddleware signs one."""
    data = base64.b64encode(json.dumps(session).encode())
    return TimestampSigner(key).sign(data).decode()


def pending_state(user: User, **changes: Any) -> dict[str, Any]:
    state = {
        "user": user.id,
        "version": user.session_version,
        "step": "code",
        "until": time.time() + 300,
        "tries": 0,
    }
    return {PENDING_KEY: {**state, **changes}, "csrf": "forged-csrf-token"}


def post_code_with(browser: httpx.Client, cookie: str, code: str) -> httpx.Response:
    browser.cookies.clear()
    browser.cookies.set(SESSION_COOKIE, cookie, path="/admin")
    return browser.post(
        "/admin/login/code",
        data={"code": code, "csrf_token": "forged-csrf-token"},
    )


def test_a_pending_sign_in_expires_and_cannot_be_forged_or_outlive_a_password_change(
    browser: httpx.Client, make_user: UserFactory, enrol: Enrol, database: Database
) -> None:
    enrolled = enrol(make_user(role=Role.EDITOR))
    user = enrolled.user
    unused = iter(enrolled.recovery_codes)

    def left() -> int:
        with database.sessionmaker() as session:
            return twofactor.remaining_recovery_codes(session, user.id)

    # As the server writes it: works (the control for the cases below).
    genuine = post_code_with(browser, forged_session(pending_state(user)), next(unused))
    assert genuine.status_code == 302, genuine.text
    assert signed_in_to_back_office(browser) and left() == 9

    def refused(cookie: str) -> None:
        # A recovery code that would work: refused before it is even looked at.
        answer = post_code_with(browser, cookie, next(unused))
        assert answer.status_code in (400, 403), answer.text
        assert not signed_in_to_back_office(browser)
        assert left() == 9

    refused(forged_session(pending_state(user, until=time.time() - 1)))  # expired
    refused(forged_session(pending_state(user), key="not the site's key at all, long"))
    refused(forged_session(pending_state(user, tries=PENDING_ATTEMPTS)))
    refused(forged_session(pending_state(user, step="enrol")))
    refused(forged_session(pending_state(user, until="tomorrow")))
    with database.transaction() as session:
        row = session.get(User, user.id)
        assert row is not None
        row.session_version += 1  # a password change since the password step
    refused(forged_session(pending_state(user)))


def test_enrolment_on_your_account_shows_the_secret_and_needs_a_code_first(
    browser: httpx.Client, make_user: UserFactory, database: Database
) -> None:
    user = make_user(role=Role.EDITOR)
    signed_in(browser, user)
    account = browser.get("/admin/account")
    assert "Off: a password alone" in account.text
    begin = form_on(account, "/admin/account/two-factor/begin")
    opened = post_form(browser, begin.action, begin.fields)
    assert opened.status_code == 302
    page = browser.get("/admin/account/two-factor")
    assert page.status_code == 200
    qr = re.search(r'<div class="cms-qr mb-3">(<svg.*?</svg>)</div>', page.text, re.S)
    assert qr is not None and "script" not in qr.group(1)  # drawn inline, no script
    match = re.search(r'data-secret="([A-Z2-7]+)"', page.text)
    assert match is not None
    secret = match.group(1)
    with database.sessionmaker() as session:
        assert not twofactor.has_second_factor(user.id, session)  # not before a code

    confirm = form_on(page, "/admin/account/two-factor/confirm")
    bad = post_form(browser, confirm.action, confirm.with_changes(code="12345"))
    assert bad.status_code == 400 and "not right" in bad.text
    shown = post_form(browser, confirm.action, confirm.with_changes(code=pyotp.TOTP(secret).now()))
    assert shown.status_code == 200, shown.text
    codes = re.findall(r"\b[a-z2-9]{5}-[a-z2-9]{5}\b", shown.text)
    assert len(set(codes)) == 10
    with database.sessionmaker() as session:
        assert twofactor.has_second_factor(user.id, session)
        stored = session.get(TwoFactorCredential, user.id)
        assert stored is not None and stored.secret is not None
        assert secret not in stored.secret
    assert "two_factor_enrol" in actions(database, user.id)
    assert "On: you sign in" in browser.get("/admin/account").text


def test_turning_it_off_needs_a_code_or_the_password(
    browser: httpx.Client, make_user: UserFactory, enrol: Enrol, database: Database
) -> None:
    enrolled = enrol(make_user(role=Role.EDITOR))
    signed_in(browser, enrolled.user)  # the password step
    enter_code(browser, browser.get("/admin/login/code"), enrolled.code())
    account = browser.get("/admin/account")
    off = form_on(account, "/admin/account/two-factor/disable")
    post_form(browser, off.action, off.with_changes(code="000000", password="a guess"))
    with database.sessionmaker() as session:
        assert twofactor.has_second_factor(enrolled.user.id, session)
    assert "Two-factor sign-in is still on" in browser.get("/admin/account").text
    post_form(browser, off.action, off.with_changes(code="", password=DEFAULT_PASSWORD))
    with database.sessionmaker() as session:
        assert not twofactor.has_second_factor(enrolled.user.id, session)
    assert "two_factor_disable" in actions(database, enrolled.user.id)


def test_new_recovery_codes_replace_the_old_ones(
    browser: httpx.Client, make_user: UserFactory, enrol: Enrol, api: httpx.Client
) -> None:
    enrolled = enrol(make_user(role=Role.EDITOR))
    admin_login(browser, enrolled.user.email)
    enter_code(browser, browser.get("/admin/login/code"), enrolled.code())
    form = form_on(browser.get("/admin/account"), "/admin/account/two-factor/recovery-codes")
    shown = post_form(browser, form.action, form.with_changes(password=DEFAULT_PASSWORD))
    assert shown.status_code == 200
    fresh = re.findall(r"\b[a-z2-9]{5}-[a-z2-9]{5}\b", shown.text)
    assert len(set(fresh)) == 10 and not set(fresh) & set(enrolled.recovery_codes)

    def token(otp: str) -> int:
        data = {"username": enrolled.user.email, "password": DEFAULT_PASSWORD, "otp": otp}
        return api.post("/auth/token", data=data).status_code

    assert token(enrolled.recovery_codes[0]) == 401
    assert token(fresh[0]) == 200


def test_the_policy_walks_staff_through_enrolment_before_anything_else(
    browser: httpx.Client, make_user: UserFactory, database: Database
) -> None:
    admin = make_user(role=Role.ADMIN)
    signed_in(browser, admin)
    policy_page = browser.get("/admin/two-factor")
    form = form_on(policy_page, "/admin/two-factor")
    assert set(form.options["required_for"]) == {"nobody", "staff", "everyone"}
    saved = post_form(browser, form.action, form.with_changes(required_for="staff"))
    assert saved.status_code == 302
    bad = post_form(browser, form.action, form.with_changes(required_for="some"))
    assert bad.status_code == 400 and "Choose one of" in bad.text
    with database.sessionmaker() as session:
        policy = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "two_factor_policy")
        ).one()
    assert json.loads(policy.changes) == {"required_for": ["nobody", "staff"]}
    trail = browser.get("/admin/audit-entry/list")
    assert trail.status_code == 200 and "two_factor_policy" in trail.text
    shown = " ".join(re.sub(r"<[^>]+>", " ", trail.text).split())
    assert "“nobody” → “staff”" in shown

    editor = make_user(role=Role.EDITOR)
    browser.cookies.clear()
    answer = admin_login(browser, editor.email)
    assert answer.status_code == 302 and answer.headers["location"].endswith("/admin/login/enrol")
    for elsewhere in ("/admin/", "/admin/account", "/admin/article/list"):
        assert browser.get(elsewhere).status_code in (302, 303, 401, 403), elsewhere
    page = browser.get("/admin/login/enrol")
    assert page.status_code == 200 and "<svg" in page.text
    assert browser.get("/admin/login/enrol").text.count("data-secret") == 1
    secret = re.search(r'data-secret="([A-Z2-7]+)"', page.text)
    assert secret is not None
    # The same secret on a reload: the app scanned a moment ago still matches.
    assert secret.group(1) in browser.get("/admin/login/enrol").text
    form = form_on(page, "/admin/login/enrol")
    enrolled = post_form(
        browser, form.action, form.with_changes(code=pyotp.TOTP(secret.group(1)).now())
    )
    assert enrolled.status_code == 200 and "recovery codes" in enrolled.text
    assert signed_in_to_back_office(browser)
    assert actions(database, editor.id) == ["password_accepted", "two_factor_enrol", "login"]

    # An author is not staff: the policy "staff" leaves them be.
    author = make_user()
    browser.cookies.clear()
    assert admin_login(browser, author.email).headers["location"].endswith("/admin/")


def test_only_admins_set_the_policy(browser: httpx.Client, make_user: UserFactory) -> None:
    signed_in(browser, make_user(role=Role.EDITOR))
    assert browser.get("/admin/two-factor").status_code == 403
    token = csrf_token_on(browser.get("/admin/"))
    refused = browser.post(
        "/admin/two-factor", data={"required_for": "nobody", "csrf_token": token}
    )
    assert refused.status_code == 403


def test_an_admin_resets_a_lost_phone_and_the_user_is_signed_out_and_told(
    browser: httpx.Client,
    make_user: UserFactory,
    enrol: Enrol,
    database: Database,
    smtp: SmtpServer,
    mail_worker: MailWorker,
) -> None:
    enrolled = enrol(make_user(role=Role.EDITOR, name="Eddie Editor"))
    with httpx.Client(base_url=str(browser.base_url), timeout=30) as theirs:
        admin_login(theirs, enrolled.user.email)
        enter_code(theirs, theirs.get("/admin/login/code"), enrolled.code())
        assert signed_in_to_back_office(theirs)

        admin = make_user(role=Role.ADMIN)
        signed_in(browser, admin)
        details = browser.get(f"/admin/user/details/{enrolled.user.id}")
        assert f"/admin/two-factor/user/{enrolled.user.id}" in details.text
        page = browser.get(f"/admin/two-factor/user/{enrolled.user.id}")
        assert "signs in with a TOTP app;" in page.text
        assert "10 recovery codes left" in page.text
        form = form_on(page, "/reset")
        reset = post_form(browser, form.action, form.fields)
        assert reset.status_code == 302
        assert not signed_in_to_back_office(theirs)  # their session ended
    with database.sessionmaker() as session:
        assert not twofactor.has_second_factor(enrolled.user.id, session)
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "two_factor_reset")
        ).one()
    assert entry.actor_id == admin.id and entry.object_id == enrolled.user.id
    assert deliver(mail_worker) == 1
    [notice] = smtp.inbox.to(enrolled.user.email)
    assert notice["Subject"] == "Two-factor sign-in was reset on your account"
    assert "switched off two-factor sign-in" in text_of(notice)
    assert admin.display_name in text_of(notice)
    browser.cookies.clear()
    assert admin_login(browser, enrolled.user.email).headers["location"].endswith("/admin/")


def test_an_admin_resets_from_the_user_page_not_their_own(
    browser: httpx.Client, make_user: UserFactory, enrol: Enrol, database: Database
) -> None:
    admin = make_user(role=Role.ADMIN)
    signed_in(browser, admin)
    assert browser.get(f"/admin/two-factor/user/{admin.id}").status_code == 403
    editor = make_user(role=Role.EDITOR)
    signed_in(browser, editor)
    assert browser.get(f"/admin/two-factor/user/{admin.id}").status_code in (403, 404)
    other = enrol(make_user())
    with pytest.raises(Exception, match="Only an admin"):
        database.run(twofactor.ResetTwoFactor(user_id=other.user.id), actor=editor, origin=ORIGIN)


def test_guessing_codes_to_turn_it_off_is_throttled(
    browser: httpx.Client, make_user: UserFactory, enrol: Enrol, database: Database
) -> None:
    """A session left open must not become a way to guess a code (or the password)."""
    enrolled = enrol(make_user(role=Role.EDITOR))
    admin_login(browser, enrolled.user.email)
    enter_code(browser, browser.get("/admin/login/code"), enrolled.code())
    wrong = "000000" if enrolled.code(0) != "000000" else "111111"
    for _ in range(5):
        off = form_on(browser.get("/admin/account"), "/admin/account/two-factor/disable")
        post_form(browser, off.action, off.with_changes(code=wrong))
    off = form_on(browser.get("/admin/account"), "/admin/account/two-factor/disable")
    post_form(browser, off.action, off.with_changes(code="", password=DEFAULT_PASSWORD))
    assert "Too many attempts" in browser.get("/admin/account").text
    with database.sessionmaker() as session:
        assert twofactor.has_second_factor(enrolled.user.id, session)
