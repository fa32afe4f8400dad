"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, and a mail
worker of the CMS pointed at it: tests send over the wire and read the messages back."""

from __future__ import annotations

import email
import email.policy
import re
import socket
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from cms.accounts import messages as _registers_composers  # noqa: F401
from cms.config import Settings
from cms.db import Database
from cms.mail.worker import MailWorker
from tests.conftest import make_settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Inbox:
    """aiosmtpd's handler: every message accepted, parsed, kept in order."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self._arrived = threading.Condition()

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self._arrived:
            self.messages.append(parsed)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            self._arrived.notify_all()
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


class SmtpServer:
    """A loopback SMTP server that can be stopped (down) and started again on its port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.inbox = Inbox()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?starttls=off&timeout=5"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


def worker_settings(database_url: str, smtp: SmtpServer, **overrides: object) -> Settings:
    return make_settings(
        database_url, smtp_url=smtp.url, mail_from="Site <site@example.com>", **overrides
    )


@pytest.fixture
def mail_worker(database: Database, database_url: str, smtp: SmtpServer) -> MailWorker:
    """A worker sending through ``smtp``, retrying at once (no waits between attempts)."""
    return MailWorker(database, worker_settings(database_url, smtp), delays=(0,) * 7)


def deliver(worker: MailWorker) -> int:
    """Run the worker until nothing is due; how many messages it handled."""
    handled = 0
    deadline = time.monotonic() + 30
    while (worked := worker.run_once()) and time.monotonic() < deadline:
        handled += worked
    return handled


def text_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def html_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("html",))
    assert body is not None
    return str(body.get_content())


def link_in(message: EmailMessage) -> str:
    found = re.search(r"https?://\S+\?token=[\w.\-]+", text_of(message))
    assert found is not None, text_of(message)
    return found.group()


def token_in(message: EmailMessage) -> str:
    return link_in(message).rpartition("token=")[2]
