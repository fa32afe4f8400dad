"""The mail worker: sends what the queue holds, after the commit that put it there.

Each round claims the due messages with a lease (``FOR UPDATE SKIP LOCKED`` on
MariaDB/MySQL, so workers in several processes take different rows), then for each one:
composes it in a short transaction of its own (a composer may write, e.g. the link it
sends), hands it to the transport with no transaction open, and records the outcome if
it still holds the lease. A failure is retried on :data:`RETRY_DELAYS`, with jitter; a
worker that dies mid-send leaves the message due again when its lease runs out.
"""

from __future__ import annotations

import json
import logging
import random
import secrets
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from email.message import EmailMessage
from urllib.parse import urlsplit

from sqlalchemy import Connection, delete, select, update

from cms.config import Settings
from cms.db import Database, UnitOfWork, utcnow
from cms.mail import queue
from cms.mail.models import MailStatus, QueuedMail
from cms.mail.transport import MailFailed, Transport, build_message, transport_for
from cms.rounds import run_rounds

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]

# Seconds before each retry: 10 s, 1 min, 5 min, 30 min, 2 h, 6 h, 12 h: eight attempts
# over about a day, so a mail server down for a night still gets everything.
RETRY_DELAYS: tuple[float, ...] = (10, 60, 300, 1800, 7200, 21600, 43200)
JITTER = 0.2
# Sent, skipped and failed messages are kept this long (what was sent, to whom, and why
# one failed), then pruned a batch at a time by an idle worker, at most hourly.
RETENTION = timedelta(days=30)
PRUNE_EVERY_SECONDS = 3600
PRUNE_BATCH = 500


class MailWorker:
    """Delivers the mail queue. Any number may run at once, in any number of processes."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        *,
        transport: Transport | None = None,
        clock: Clock = utcnow,
        batch: int = 20,
        delays: Sequence[float] = RETRY_DELAYS,
    ) -> None:
        self.database = database
        self.settings = settings
        self.transport = transport or transport_for(settings)
        self.clock = clock
        self.batch = batch
        self.delays = tuple(delays)
        server = settings.smtp_server
        # Longer than any send can take, so a live holder never loses its lease.
        self.lease = timedelta(seconds=max(60.0, 3 * (server.timeout if server else 10)))

    def run(self, stop: threading.Event, *, poll_seconds: float = 1.0) -> None:
        """Send until ``stop`` is set, waiting at most ``poll_seconds`` between idle
        rounds (less when this process commits mail)."""
        run_rounds(
            stop,
            run_once=self.run_once,
            prune=self.prune,
            wait=queue.wait_for_mail,
            poll_seconds=poll_seconds,
            prune_every=PRUNE_EVERY_SECONDS,
            logger=logger,
            what="mail",
        )

    def run_once(self) -> int:
        """One round; how many messages it handled (0: nothing was due)."""
        if not self._due():
            return 0
        lease, ids = self.claim()
        for mail_id in ids:
            self.deliver(mail_id, lease)
        return len(ids)

    def prune(self, retention: timedelta = RETENTION) -> int:
        """Delete finished messages older than ``retention``; how many (one batch)."""
        cutoff = self.clock() - retention
        with self.database.unit_of_work() as uow:
            ids = uow.session.scalars(
                select(QueuedMail.id)
                .where(QueuedMail.status != MailStatus.PENDING, QueuedMail.created_at < cutoff)
                .order_by(QueuedMail.id)
                .limit(PRUNE_BATCH)
            ).all()
            if ids:
                uow.session.execute(
                    delete(QueuedMail)
                    .where(QueuedMail.id.in_(ids))
                    .execution_options(synchronize_session=False)
                )
            return len(ids)

    def _due(self) -> bool:
        now = self.clock()

        def ask(connection: Connection) -> bool:
            return (
                connection.execute(
                    select(QueuedMail.id)
                    .where(
                        QueuedMail.status == MailStatus.PENDING,
                        QueuedMail.next_attempt_at <= now,
                    )
                    .limit(1)
                ).first()
                is not None
            )

        return self.database.read(ask)

    def claim(self) -> tuple[str, list[int]]:
        now = self.clock()
        lease = secrets.token_hex(16)
        with self.database.unit_of_work() as uow:
            ids = list(
                uow.session.scalars(
                    select(QueuedMail.id)
                    .where(
                        QueuedMail.status == MailStatus.PENDING,
                        QueuedMail.next_attempt_at <= now,
                    )
                    .order_by(QueuedMail.next_attempt_at, QueuedMail.id)
                    .limit(self.batch)
                    .with_for_update(skip_locked=True)
                ).all()
            )
            if ids:
                uow.session.execute(
                    update(QueuedMail)
                    .where(QueuedMail.id.in_(ids))
                    .values(lease=lease, next_attempt_at=now + self.lease)
                    .execution_options(synchronize_session=False)
                )
        return lease, ids

    def deliver(self, mail_id: int, lease: str) -> None:
        try:
            message = self.database.run(lambda uow: self._compose(uow, mail_id, lease))
        except Exception as exc:
            logger.exception("could not compose mail %s", mail_id)
            self._record(mail_id, lease, error=f"could not compose: {type(exc).__name__}")
            return
        if message is None:
            return
        try:
            self.transport.send(message)
        except MailFailed as exc:
            logger.warning("mail %s not sent (%s); will retry", mail_id, exc)
            self._record(mail_id, lease, error=str(exc))
            return
        self._record(mail_id, lease, error=None)

    def _compose(self, uow: UnitOfWork, mail_id: int, lease: str) -> EmailMessage | None:
        row = uow.session.get(QueuedMail, mail_id)
        if row is None or row.lease != lease or row.status != MailStatus.PENDING:
            return None
        compose = queue.COMPOSERS.get(row.kind)
        if compose is None:
            raise LookupError(f"no composer for mail of kind {row.kind!r}")
        data = json.loads(row.data)
        letter = compose(uow, row, data, self.settings)
        if letter is None:
            row.status, row.lease, row.sent_at = MailStatus.SKIPPED, None, self.clock()
            return None
        return build_message(
            letter,
            to=row.to_address,
            sender=self.settings.mail_from,
            site=site_name(self.settings, data.get("base")),
        )

    def _record(self, mail_id: int, lease: str, *, error: str | None) -> None:
        now = self.clock()

        def record(uow: UnitOfWork) -> None:
            row = uow.session.get(QueuedMail, mail_id, with_for_update=True)
            if row is None or row.lease != lease:
                logger.warning("lost the lease on mail %s", mail_id)
                return
            row.attempts += 1
            row.lease = None
            if error is None:
                row.status, row.sent_at, row.last_error = MailStatus.SENT, now, ""
                return
            row.last_error = error[:255]
            if row.attempts > len(self.delays):
                row.status = MailStatus.FAILED
                logger.error("mail %s failed %s times; giving up: %s", mail_id, row.attempts, error)
                return
            delay = self.delays[row.attempts - 1] * random.uniform(1 - JITTER, 1 + JITTER)  # noqa: S311
            row.next_attempt_at = now + timedelta(seconds=delay)

        self.database.run(record)


def site_name(settings: Settings, base: str | None) -> str:
    """How a message names who sent it: the site's host name."""
    url = settings.site_url or base or ""
    host = urlsplit(url).hostname
    return f"the CMS at {host}" if host else "the CMS"
