"""The mail component: settings, the message's shape, the transports (a real SMTP
server on loopback, and the development folder), and the worker's retries."""

import email
import email.policy
import ipaddress
import logging
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import ValidationError
from sqlalchemy import delete, select

from cms.config import Settings, SmtpServer
from cms.db import Database, utcnow
from cms.mail import queue
from cms.mail.models import MailStatus, QueuedMail
from cms.mail.transport import (
    FolderTransport,
    Letter,
    MailFailed,
    SmtpTransport,
    build_message,
)
from cms.mail.worker import MailWorker
from tests.conftest import TEST_SECRET_KEY, make_settings
from tests.mail_server import Inbox, free_port, html_of, text_of

LETTER = Letter(
    subject="Hello",
    text="First paragraph.\n\nSecond <one> & more.",
    reason="a test asked for it",
    link="https://example.com/admin/x?token=abc",
    link_label="Open it",
)


def settings_with(**values: object) -> Settings:
    return Settings(_env_file=None, secret_key=TEST_SECRET_KEY, **values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://mail.example.com", "must start with smtp://"),
        ("smtp://", "names no host"),
        ("smtp://mail.example.com:99999", "port"),
        ("smtp://mail.example.com?tls=yes", "unknown parameter 'tls'"),
        ("smtp://mail.example.com?starttls=maybe", "required, opportunistic or off"),
        ("smtps://mail.example.com?starttls=off", "TLS already"),
        ("smtp://user@mail.example.com", "both a user and a password"),
        ("smtp://mail.example.com?timeout=0", "timeout"),
    ],
)
def test_a_bad_smtp_url_is_refused_saying_what_is_wrong(url: str, problem: str) -> None:
    with pytest.raises(ValidationError, match="CMS_SMTP_URL") as raised:
        settings_with(smtp_url=url)
    assert problem in str(raised.value)


def test_an_smtp_url_gives_host_port_security_and_decoded_credentials() -> None:
    server = SmtpServer.parse("smtp://me%40example.com:p%40ss%3Aword@mail.example.com")
    assert (server.host, server.port, server.implicit_tls, server.starttls) == (
        "mail.example.com",
        587,
        False,
        "required",
    )
    assert (server.username, server.password) == ("me@example.com", "p@ss:word")
    assert "p@ss" not in repr(server)
    implicit = SmtpServer.parse("smtps://mail.example.com")
    assert (implicit.port, implicit.implicit_tls) == (465, True)
    assert settings_with().smtp_server is None


def test_the_from_address_and_production_links_are_checked() -> None:
    with pytest.raises(ValidationError, match="CMS_MAIL_FROM"):
        settings_with(mail_from="not an address")
    with pytest.raises(ValidationError, match="CMS_SITE_URL must be set"):
        settings_with(environment="production", smtp_url="smtp://mail.example.com")
    settings_with(
        environment="production", smtp_url="smtp://mail.example.com", site_url="https://x.org"
    )


def test_a_message_is_text_and_html_and_says_who_sent_it_and_why() -> None:
    message = build_message(LETTER, to="ann@example.com", sender="Site <s@example.com>", site="X")
    assert message.get_content_type() == "multipart/alternative"
    text, html = text_of(message), html_of(message)
    assert "Second <one> & more." in text
    assert "Open it: https://example.com/admin/x?token=abc" in text
    assert "sent by X to ann@example.com because a test asked for it" in text
    assert "Second &lt;one&gt; &amp; more." in html and 'href="https://example.com/admin/x' in html
    assert message["Message-ID"].endswith("@example.com>")
    assert message["Auto-Submitted"] == "auto-generated"


class Accounts:
    """aiosmtpd's authenticator: one user, one password."""

    def __call__(
        self, _server: Any, _session: Any, _envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            b"mailer",
            b"s3cret:pw",
        )
        return AuthResult(success=ok, handled=False)


@pytest.fixture
def authenticated_smtp() -> Iterator[tuple[int, Inbox]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=Accounts(),
        # Loopback only, and no certificate to offer: AUTH over plain text.
        auth_require_tls=False,
    )
    controller.start()
    yield port, inbox
    controller.stop()


def test_smtp_signs_in_with_the_urls_credentials(authenticated_smtp: tuple[int, Inbox]) -> None:
    port, inbox = authenticated_smtp
    message = build_message(LETTER, to="ann@example.com", sender="s@example.com", site="X")
    wrong = SmtpServer.parse(f"smtp://mailer:guess@127.0.0.1:{port}?starttls=off")
    with pytest.raises(MailFailed, match="Authentication"):
        SmtpTransport(wrong).send(message)
    right = SmtpServer.parse(f"smtp://mailer:s3cret%3Apw@127.0.0.1:{port}?starttls=off")
    SmtpTransport(right).send(message)
    assert [m["Subject"] for m in inbox.messages] == ["Hello"]


def test_required_starttls_sends_nothing_to_a_server_without_it(
    authenticated_smtp: tuple[int, Inbox],
) -> None:
    port, inbox = authenticated_smtp
    message = build_message(LETTER, to="ann@example.com", sender="s@example.com", site="X")
    with pytest.raises(MailFailed, match="offers no STARTTLS"):
        SmtpTransport(SmtpServer.parse(f"smtp://mailer:x@127.0.0.1:{port}")).send(message)
    assert inbox.messages == []


def test_without_smtp_a_message_is_logged_and_saved_as_eml(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    message = build_message(LETTER, to="ann@example.com", sender="s@example.com", site="X")
    with caplog.at_level(logging.INFO, logger="cms.mail.transport"):
        FolderTransport(tmp_path / "mail").send(message)
    [saved] = (tmp_path / "mail").glob("*.eml")
    parsed = email.message_from_bytes(saved.read_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage) and parsed["Subject"] == "Hello"
    assert str(saved) in caplog.text and "Subject: Hello" in caplog.text
    readable = saved.with_suffix(".txt").read_text()
    assert "https://example.com/admin/x?token=abc" in readable


class Flaky:
    """A transport that fails a number of times, then accepts."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.sent: list[EmailMessage] = []

    def send(self, message: EmailMessage) -> None:
        if self.failures:
            self.failures -= 1
            raise MailFailed("451 try again later")
        self.sent.append(message)


def _notice(database: Database) -> None:
    database.run(
        lambda uow: queue.send_notice(
            uow, to="ann@example.com", subject="Note", text="Hi.", reason="a test"
        )
    )


def _row(database: Database) -> QueuedMail:
    with database.reading() as session:
        return session.scalars(select(QueuedMail)).one()


def test_a_failed_send_is_retried_and_given_up_after_the_last_delay(
    database: Database, database_url: str
) -> None:
    settings = make_settings(database_url)
    _notice(database)
    flaky = Flaky(failures=1)
    worker = MailWorker(database, settings, transport=flaky, delays=(0, 0))
    assert worker.run_once() == 1
    assert (_row(database).status, _row(database).attempts) == (MailStatus.PENDING, 1)
    assert _row(database).last_error == "451 try again later"
    worker.run_once()
    assert _row(database).status == MailStatus.SENT and len(flaky.sent) == 1

    _clear(database)
    _notice(database)
    hopeless = MailWorker(database, settings, transport=Flaky(failures=99), delays=(0, 0))
    for _ in range(5):
        hopeless.run_once()
    assert (_row(database).status, _row(database).attempts) == (MailStatus.FAILED, 3)


def test_a_notice_that_rolls_back_is_never_sent(database: Database, database_url: str) -> None:
    def fails(uow: Any) -> None:
        queue.send_notice(uow, to="ann@example.com", subject="Note", text="Hi.", reason="x")
        raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        database.run(fails)
    flaky = Flaky(failures=0)
    assert MailWorker(database, make_settings(database_url), transport=flaky).run_once() == 0
    assert flaky.sent == []


def _clear(database: Database) -> None:
    with database.transaction() as session:
        session.execute(delete(QueuedMail))


def test_finished_mail_is_pruned_after_the_retention_and_pending_mail_never(
    database: Database, database_url: str
) -> None:
    settings = make_settings(database_url)
    _notice(database)
    MailWorker(database, settings, transport=Flaky(failures=0)).run_once()
    _notice(database)  # still pending
    worker = MailWorker(database, settings, transport=Flaky(failures=0))
    assert worker.prune() == 0
    later = MailWorker(
        database,
        settings,
        transport=Flaky(failures=0),
        clock=lambda: utcnow() + timedelta(days=31),
    )
    assert later.prune() == 1
    with database.reading() as session:
        assert session.scalars(select(QueuedMail.status)).all() == [MailStatus.PENDING]


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    return context


@pytest.mark.parametrize("implicit", [True, False], ids=["smtps", "starttls"])
def test_mail_goes_over_tls_to_a_trusted_server_and_not_to_an_untrusted_one(
    implicit: bool, certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox, port = Inbox(), free_port()
    tls: dict[str, Any] = (
        {"ssl_context": _server_context(certificate)}
        if implicit
        else {"tls_context": _server_context(certificate), "require_starttls": True}
    )
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **tls)
    controller.start()
    try:
        url = f"smtps://127.0.0.1:{port}" if implicit else f"smtp://127.0.0.1:{port}"
        transport = SmtpTransport(SmtpServer.parse(url + "?timeout=5" if not implicit else url))
        message = build_message(LETTER, to="ann@example.com", sender="s@example.com", site="X")
        # The system's certificate store does not know this server: nothing is sent.
        monkeypatch.setenv("SSL_CERT_FILE", str(certificate[1].parent / "nothing.pem"))
        with pytest.raises(MailFailed, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify"):
            transport.send(message)
        monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
        transport.send(message)
    finally:
        controller.stop()
    assert [m["Subject"] for m in inbox.messages] == ["Hello"]
