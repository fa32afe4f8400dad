"""Handing a composed message over: to an SMTP server, or (without one) to the log and a
folder of ``.eml`` files.

SMTP is the standard library's ``smtplib``: the worker that sends is a plain thread, like
the webhook dispatcher, so a synchronous client fits; it speaks STARTTLS and implicit TLS
with the system's certificate store, and adds no dependency to keep up to date.
"""

from __future__ import annotations

import email.utils
import html
import logging
import os
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

from cms.config import Settings, SmtpServer

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Letter:
    """A message as its composer wrote it: the subject, the text (paragraphs separated
    by blank lines), and why this person gets it (said at the end of every message)."""

    subject: str
    text: str
    reason: str
    # A link the message is about, shown as a button in the HTML part.
    link: str | None = None
    link_label: str = ""


class MailFailed(Exception):
    """The message was not accepted; worth trying again later."""


class Transport(Protocol):
    def send(self, message: EmailMessage) -> None: ...


def build_message(letter: Letter, *, to: str, sender: str, site: str) -> EmailMessage:
    """A ``multipart/alternative`` message: plain text, and the same as simple HTML."""
    footer = (
        f"This message was sent by {site} to {to} because {letter.reason}. "
        "If that was not you, you can ignore it: nothing changes until the link is used."
        if letter.link
        else f"This message was sent by {site} to {to} because {letter.reason}."
    )
    message = EmailMessage()
    message["Subject"] = letter.subject
    message["From"] = sender
    message["To"] = to
    message["Date"] = email.utils.formatdate(localtime=False)
    message["Message-ID"] = email.utils.make_msgid(domain=_domain(sender))
    message["Auto-Submitted"] = "auto-generated"
    text = letter.text.strip()
    if letter.link:
        text += f"\n\n{letter.link_label or 'Open'}: {letter.link}"
    message.set_content(f"{text}\n\n-- \n{footer}\n")
    paragraphs = "".join(
        f"<p>{html.escape(part).replace(chr(10), '<br>')}</p>"
        for part in letter.text.strip().split("\n\n")
    )
    if letter.link:
        href = html.escape(letter.link, quote=True)
        paragraphs += (
            f'<p><a href="{href}" style="display:inline-block;padding:8px 16px;'
            f'background:#206bc4;color:#fff;text-decoration:none;border-radius:4px">'
            f"{html.escape(letter.link_label or 'Open')}</a></p>"
            f'<p style="color:#666;font-size:small">Or copy this address: {href}</p>'
        )
    message.add_alternative(
        '<!doctype html><html><body style="font-family:sans-serif;max-width:40em">'
        f'{paragraphs}<hr><p style="color:#666;font-size:small">{html.escape(footer)}</p>'
        "</body></html>",
        subtype="html",
    )
    return message


def _domain(sender: str) -> str:
    address = email.utils.parseaddr(sender)[1]
    return address.rpartition("@")[2] or "localhost"


class SmtpTransport:
    """One connection per message: a few messages an hour need no pool, and a server
    restarted meanwhile is no stale connection to notice."""

    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    def send(self, message: EmailMessage) -> None:
        server = self.server
        context = ssl.create_default_context()
        try:
            client: smtplib.SMTP
            if server.implicit_tls:
                client = smtplib.SMTP_SSL(
                    server.host, server.port, timeout=server.timeout, context=context
                )
            else:
                client = smtplib.SMTP(server.host, server.port, timeout=server.timeout)
            with client:
                client.ehlo()
                if not server.implicit_tls and server.starttls != "off":
                    if client.has_extn("starttls"):
                        client.starttls(context=context)
                        client.ehlo()
                    elif server.starttls == "required":
                        raise MailFailed(
                            f"{server.host} offers no STARTTLS; nothing was sent "
                            "(add ?starttls=opportunistic to CMS_SMTP_URL to send anyway)"
                        )
                if server.username is not None and server.password is not None:
                    client.login(server.username, server.password)
                client.send_message(message)
        except MailFailed:
            raise
        except (smtplib.SMTPException, OSError) as exc:
            raise MailFailed(f"{type(exc).__name__}: {exc}"[:255]) from exc


class FolderTransport:
    """Development without a mail server: each message is logged (its text, so a reset
    link can be followed from the terminal) and saved as an ``.eml`` file."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send(self, message: EmailMessage) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            stamp = email.utils.parsedate_to_datetime(str(message["Date"])).strftime(
                "%Y%m%d-%H%M%S"
            )
            ident = str(message["Message-ID"]).strip("<>").split("@")[0]
            path = self.directory / f"{stamp}-{ident}.eml"
            temporary = path.with_suffix(".tmp")
            temporary.write_bytes(bytes(message))
            os.replace(temporary, path)
        except OSError as exc:
            raise MailFailed(f"could not save the message in {self.directory}: {exc}") from exc
        body = message.get_body(preferencelist=("plain",))
        text = body.get_content() if body is not None else ""
        # The text as it reads, beside the encoded message: links to follow by hand.
        readable = path.with_suffix(".txt")
        try:
            readable.write_text(
                f"To: {message['To']}\nSubject: {message['Subject']}\n\n{text}", encoding="utf-8"
            )
        except OSError as exc:
            raise MailFailed(f"could not save the message in {self.directory}: {exc}") from exc
        # The log's redaction hides the link's token: the .txt file has it.
        logger.info(
            "mail (no CMS_SMTP_URL; saved to %s, its text to %s)\nTo: %s\nSubject: %s\n\n%s",
            path,
            readable.name,
            message["To"],
            message["Subject"],
            text,
        )


def transport_for(settings: Settings) -> Transport:
    server = settings.smtp_server
    if server is None:
        return FolderTransport(settings.mail_dir)
    return SmtpTransport(server)
