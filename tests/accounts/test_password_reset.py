"""Password reset over the API, with the mail received by a real SMTP server on loopback."""

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update

from cms.accounts.models import AccountLink
from cms.accounts.router import RESET_ACCEPTED
from cms.asgi import build_app
from cms.audit.models import AuditEntry
from cms.db import Database, utcnow
from cms.mail.models import MailStatus, QueuedMail
from cms.mail.worker import MailWorker
from tests.conftest import DEFAULT_PASSWORD, LiveServer, UserFactory, make_settings
from tests.mail_server import (
    SmtpServer,
    deliver,
    html_of,
    link_in,
    text_of,
    token_in,
)

NEW_PASSWORD = "a brand new passphrase"


def ask(api: httpx.Client, email: str, **headers: str) -> httpx.Response:
    return api.post("/auth/password-reset", json={"email": email}, headers=headers)


def confirm(api: httpx.Client, token: str, password: str = NEW_PASSWORD) -> httpx.Response:
    return api.post("/auth/password-reset/confirm", json={"token": token, "password": password})


def token_for(api: httpx.Client, email: str, password: str) -> httpx.Response:
    return api.post("/auth/token", data={"username": email, "password": password})


def test_a_reset_link_arrives_by_smtp_and_sets_a_new_password(
    api: httpx.Client,
    make_user: UserFactory,
    login: object,
    smtp: SmtpServer,
    mail_worker: MailWorker,
    database: Database,
) -> None:
    user = make_user(email="forgetful@example.com")
    old_token = token_for(api, user.email, DEFAULT_PASSWORD).json()["access_token"]

    answer = ask(api, "Forgetful@Example.com")
    assert answer.status_code == 202
    assert answer.json() == {"detail": RESET_ACCEPTED}
    assert smtp.inbox.messages == []  # nothing is sent inside the request
    assert deliver(mail_worker) == 1

    [message] = smtp.inbox.to("forgetful@example.com")
    assert message["Subject"] == "Reset your password"
    assert message["From"] == "Site <site@example.com>"
    assert smtp.inbox.envelopes[0][1] == ["forgetful@example.com"]
    text = text_of(message)
    assert "because a password reset was asked for this address" in text
    assert DEFAULT_PASSWORD not in text and DEFAULT_PASSWORD not in html_of(message)
    assert link_in(message) in html_of(message).replace("&amp;", "&")
    assert link_in(message).startswith(api.base_url.join("/admin/password-reset/confirm").__str__())

    assert confirm(api, token_in(message)).status_code == 204
    assert token_for(api, user.email, DEFAULT_PASSWORD).status_code == 401
    assert token_for(api, user.email, NEW_PASSWORD).status_code == 200
    # Every token from before is dead.
    stale = api.get("/users/me", headers={"Authorization": f"Bearer {old_token}"})
    assert stale.status_code == 401
    # Single use.
    again = confirm(api, token_in(message), "yet another passphrase")
    assert again.status_code == 400 and "no longer works" in again.json()["detail"]
    # The owner is told, and the trail has both ends.
    deliver(mail_worker)
    assert [m["Subject"] for m in smtp.inbox.to(user.email)][-1] == "Your password was changed"
    with database.reading() as session:
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert "password_reset_requested" in actions and "password_reset" in actions


def test_an_unknown_address_gets_the_same_answer_and_no_mail(
    api: httpx.Client,
    make_user: UserFactory,
    smtp: SmtpServer,
    mail_worker: MailWorker,
    database: Database,
) -> None:
    make_user(email="known@example.com")
    known, unknown = ask(api, "known@example.com"), ask(api, "nobody@example.com")
    assert (known.status_code, known.content) == (unknown.status_code, unknown.content)
    assert known.headers.keys() == unknown.headers.keys()
    deliver(mail_worker)
    assert [m["To"] for m in smtp.inbox.messages] == ["known@example.com"]
    with database.reading() as session:
        statuses = session.execute(
            select(QueuedMail.to_address, QueuedMail.status).order_by(QueuedMail.id)
        ).all()
    assert statuses == [
        ("known@example.com", MailStatus.SENT),
        ("nobody@example.com", MailStatus.SKIPPED),
    ]


def test_a_newer_link_or_a_changed_password_kills_the_earlier_link(
    api: httpx.Client,
    make_user: UserFactory,
    login: object,
    smtp: SmtpServer,
    mail_worker: MailWorker,
) -> None:
    user = make_user()
    ask(api, user.email)
    ask(api, user.email)
    deliver(mail_worker)
    first, second = (token_in(m) for m in smtp.inbox.to(user.email))
    assert confirm(api, first).status_code == 400
    # Changing the password another way kills the newer one too.
    headers = {
        "Authorization": "Bearer "
        + token_for(api, user.email, DEFAULT_PASSWORD).json()["access_token"]
    }
    changed = api.patch(
        f"/users/{user.id}",
        json={"password": "changed the usual way", "current_password": DEFAULT_PASSWORD},
        headers=headers,
    )
    assert changed.status_code == 200, changed.text
    assert confirm(api, second).status_code == 400
    assert token_for(api, user.email, "changed the usual way").status_code == 200


def test_an_expired_or_forged_link_and_a_weak_password_are_refused(
    api: httpx.Client,
    make_user: UserFactory,
    smtp: SmtpServer,
    mail_worker: MailWorker,
    database: Database,
) -> None:
    user = make_user()
    ask(api, user.email)
    deliver(mail_worker)
    token = token_in(smtp.inbox.to(user.email)[0])

    weak = confirm(api, token, "short")
    assert weak.status_code == 422
    assert weak.json()["detail"][0]["loc"] == ["body", "password"]
    forged = confirm(api, token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"))
    assert forged.status_code == 400
    with database.transaction() as session:
        session.execute(update(AccountLink).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert confirm(api, token).status_code == 400
    assert token_for(api, user.email, DEFAULT_PASSWORD).status_code == 200


def test_the_request_succeeds_while_the_mail_server_is_down_and_the_mail_follows(
    api: httpx.Client,
    make_user: UserFactory,
    smtp: SmtpServer,
    mail_worker: MailWorker,
    database: Database,
) -> None:
    user = make_user()
    smtp.stop()
    assert ask(api, user.email).status_code == 202
    assert mail_worker.run_once() == 1  # tried, and failed
    with database.reading() as session:
        row = session.scalars(select(QueuedMail)).one()
    assert row.status == MailStatus.PENDING and row.attempts == 1
    assert "Connection" in row.last_error or "refused" in row.last_error.lower()
    assert smtp.inbox.messages == []

    smtp.start()
    deliver(mail_worker)
    [message] = smtp.inbox.to(user.email)
    assert confirm(api, token_in(message)).status_code == 204


PER_ADDRESS = 2
PER_CLIENT = 4


@pytest.fixture(scope="module")
def limited(database_url: str) -> Iterator[LiveServer]:
    settings = make_settings(
        database_url,
        trusted_proxies="127.0.0.1",
        password_reset_max_per_address=PER_ADDRESS,
        password_reset_max_per_client=PER_CLIENT,
    )
    with LiveServer(build_app(settings)) as server:
        yield server


def test_requests_are_limited_per_address_and_per_client(
    limited: LiveServer, database: Database
) -> None:
    with httpx.Client(base_url=limited.url, timeout=30) as client:
        for _ in range(PER_ADDRESS):
            assert (
                ask(client, "target@example.com", **{"X-Forwarded-For": "198.51.100.1"}).status_code
                == 202
            )
        # The address is spent, from any client; another address is not.
        refused = ask(client, "target@example.com", **{"X-Forwarded-For": "198.51.100.2"})
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 3600
        assert (
            ask(client, "other@example.com", **{"X-Forwarded-For": "198.51.100.2"}).status_code
            == 202
        )
        # One client spraying addresses runs out too.
        answers = [
            ask(client, f"spray{n}@example.com", **{"X-Forwarded-For": "198.51.100.3"}).status_code
            for n in range(PER_CLIENT + 1)
        ]
        assert answers == [202] * PER_CLIENT + [429]
