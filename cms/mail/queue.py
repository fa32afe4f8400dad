"""Putting mail in the queue, inside the unit of work of the change it tells of.

Nothing is sent here and nothing waits on a mail server: the row commits with the change
(or not at all), and the worker (:mod:`cms.mail.worker`) sends it afterwards. Each kind
of message has a *composer*, registered with :func:`composer`, that writes it when it is
sent; :func:`send_notice` queues a message whose text is given now.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from typing import Any

from cms.config import Settings
from cms.db import UnitOfWork, utcnow
from cms.mail.models import MailStatus, QueuedMail
from cms.mail.transport import Letter

# What a composer is given: the worker's unit of work (it may write, e.g. the link it
# sends), the queued row, its data, and the settings. ``None``: nothing to send.
Composer = Callable[[UnitOfWork, QueuedMail, dict[str, Any], Settings], Letter | None]
COMPOSERS: dict[str, Composer] = {}

NOTICE = "notice"

# Set when this process commits mail, so a worker in the same process sends it at once.
_committed = threading.Event()


def wait_for_mail(timeout: float) -> bool:
    """Block until this process commits mail or ``timeout`` seconds pass."""
    woken = _committed.wait(timeout)
    _committed.clear()
    return woken


def composer(kind: str) -> Callable[[Composer], Composer]:
    """Register the function that writes messages of ``kind``."""

    def register(function: Composer) -> Composer:
        COMPOSERS[kind] = function
        return function

    return register


def enqueue(uow: UnitOfWork, kind: str, *, to: str, data: Mapping[str, Any]) -> QueuedMail:
    """Queue a message of ``kind`` to ``to`` in ``uow``'s transaction; sent after the
    commit. ``data`` is what its composer needs (JSON; never a password)."""
    now = utcnow()
    row = QueuedMail(
        kind=kind,
        to_address=to,
        data=json.dumps(dict(data), ensure_ascii=False, separators=(",", ":")),
        status=MailStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        last_error="",
    )
    uow.session.add(row)
    uow.after_commit(_committed.set)
    return row


def send_notice(uow: UnitOfWork, *, to: str, subject: str, text: str, reason: str) -> QueuedMail:
    """Queue a plain message (no link) in ``uow``'s transaction; sent after the commit.

    ``text`` is paragraphs separated by blank lines; ``reason`` finishes the sentence
    "This message was sent … because …" (e.g. "an admin reset two-factor sign-in on
    your account"). Never put a password or a secret in either."""
    return enqueue(uow, NOTICE, to=to, data={"subject": subject, "text": text, "reason": reason})


@composer(NOTICE)
def _notice(
    _uow: UnitOfWork, _row: QueuedMail, data: dict[str, Any], _settings: Settings
) -> Letter:
    return Letter(subject=str(data["subject"]), text=str(data["text"]), reason=str(data["reason"]))
