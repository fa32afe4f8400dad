"""The dispatcher: turns due outbox events into deliveries and delivers them.

Each round (:meth:`Dispatcher.run_once`) is three kinds of short transaction with the
POSTs between them, never inside one:

1. *Fan out*: the events whose time has come (a scheduled article's publication among
   them) become one delivery per enabled endpoint that listens for their type.
2. *Claim*: due deliveries are taken with a lease: their next attempt is moved a lease
   ahead and the dispatcher's token written on them. On MariaDB/MySQL the rows are read
   ``FOR UPDATE SKIP LOCKED``, so dispatchers running side by side take different
   rows without waiting on each other; SQLite has one writer at a time. A dispatcher
   killed after claiming leaves the delivery due again when the lease runs out, and the
   retry carries the same ``webhook-id``.
3. *Record*: each outcome is written by the lease holder only (a dispatcher whose lease
   ran out and was taken over records nothing), with the attempt in the delivery log.

A 2xx is delivered; a 410 disables the endpoint; anything else (or no answer within
the timeout) is retried on :data:`RETRY_DELAYS` with jitter, or later if the receiver
asks with ``Retry-After``; after the last retry the endpoint is disabled and says why.
"""

from __future__ import annotations

import email.utils
import logging
import random
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import Connection, delete, exists, select, update

from cms.config import Settings
from cms.db import Database, utcnow
from cms.errors import ConfigurationError, InvalidInput
from cms.rounds import run_rounds
from cms.webhooks import outbox, service, signing, targets
from cms.webhooks.models import (
    RESPONSE_KEPT,
    DeliveryStatus,
    OutboxEvent,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]

# Seconds before each retry: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 20 h; ten
# attempts over about three days, so a receiver down for a weekend still gets it all.
RETRY_DELAYS: tuple[float, ...] = (5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 72000)
JITTER = 0.2
# A receiver may ask for a later retry, not one later than this.
LONGEST_RETRY_AFTER = 86_400
USER_AGENT = "cms-webhooks/1"
# Events, their deliveries and the delivery log are kept this long once nothing is left
# to send, then pruned (a batch at a time, by an idle dispatcher, at most hourly).
RETENTION = timedelta(days=30)
PRUNE_EVERY_SECONDS = 3600
PRUNE_BATCH = 500


@dataclass(frozen=True)
class Claimed:
    """A delivery this dispatcher holds the lease on, with what it needs to send it."""

    delivery_id: int
    lease: str
    attempt: int
    endpoint_id: int
    url: str
    sealed_secret: str
    # The secret before a rotation, while it still signs too.
    sealed_previous: str | None
    message_id: str
    body: str


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    duration_ms: int
    error: str = ""
    response: str = ""
    retry_after: float | None = None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class Dispatcher:
    """Delivers the outbox. Any number may run at once, in any number of processes."""

    def __init__(
        self,
        database: Database,
        *,
        site_key: str,
        allow_private: bool = False,
        timeout: float = 10.0,
        clock: Clock = utcnow,
        batch: int = 50,
        concurrency: int = 8,
        delays: Sequence[float] = RETRY_DELAYS,
        lease_seconds: float | None = None,
    ) -> None:
        self.database = database
        self.site_key = site_key
        self.allow_private = allow_private
        self.timeout = timeout
        self.clock = clock
        self.batch = batch
        self.delays = tuple(delays)
        # Longer than any attempt can take, so a live holder never loses its lease.
        self.lease = timedelta(seconds=lease_seconds or max(60.0, 3 * timeout))
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="webhook")
        self._client = httpx.Client(
            # A proxy from the environment would connect to whatever the name resolves
            # to there, past the address check.
            trust_env=False,
            follow_redirects=False,
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(max_connections=concurrency * 4),
        )

    @classmethod
    def from_settings(cls, database: Database, settings: Settings) -> Dispatcher:
        return cls(
            database,
            site_key=settings.secret,
            allow_private=settings.webhooks_allow_private_targets,
            timeout=settings.webhooks_timeout_seconds,
        )

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._client.close()

    def __enter__(self) -> Dispatcher:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # The rounds

    def run(self, stop: threading.Event, *, poll_seconds: float = 1.0) -> None:
        """Deliver until ``stop`` is set, waiting at most ``poll_seconds`` between rounds
        that found nothing (less when this process commits an event)."""
        run_rounds(
            stop,
            run_once=self.run_once,
            prune=self.prune,
            wait=outbox.wait_for_events,
            poll_seconds=poll_seconds,
            prune_every=PRUNE_EVERY_SECONDS,
            logger=logger,
            what="webhook dispatch",
        )

    def run_once(self) -> int:
        """One round: fan out, claim, deliver, record. How many events and deliveries
        it handled (0: there was nothing to do)."""
        events_due, deliveries_due = self._due()
        fanned = self.fan_out() if events_due else 0
        claimed = self.claim() if deliveries_due or fanned else []
        outcomes = list(self._pool.map(self.send, claimed))
        for item, outcome in zip(claimed, outcomes, strict=True):
            self.record(item, outcome)
        return fanned + len(claimed)

    def _due(self) -> tuple[bool, bool]:
        """Whether any event or delivery is due, asked without a lock: an idle dispatcher
        polling every second must not take SQLite's write lock every second."""
        now = self.clock()

        def ask(connection: Connection) -> tuple[bool, bool]:
            event = connection.execute(
                select(OutboxEvent.id)
                .where(OutboxEvent.fanned_out.is_(False), OutboxEvent.due_at <= now)
                .limit(1)
            ).first()
            delivery = connection.execute(
                select(WebhookDelivery.id)
                .where(
                    WebhookDelivery.status == DeliveryStatus.PENDING,
                    WebhookDelivery.next_attempt_at <= now,
                )
                .limit(1)
            ).first()
            return event is not None, delivery is not None

        return self.database.read(ask)

    def prune(self, retention: timedelta = RETENTION) -> int:
        """Delete events older than ``retention`` with nothing left to deliver, with
        their deliveries and attempts; how many events (one batch)."""
        cutoff = self.clock() - retention
        with self.database.unit_of_work() as uow:
            session = uow.session
            pending = exists().where(
                WebhookDelivery.event_id == OutboxEvent.id,
                WebhookDelivery.status == DeliveryStatus.PENDING,
            )
            ids = session.scalars(
                select(OutboxEvent.id)
                .where(OutboxEvent.fanned_out.is_(True), OutboxEvent.created_at < cutoff, ~pending)
                .order_by(OutboxEvent.id)
                .limit(PRUNE_BATCH)
            ).all()
            if not ids:
                return 0
            deliveries = select(WebhookDelivery.id).where(WebhookDelivery.event_id.in_(ids))
            for statement in (
                delete(WebhookAttempt).where(
                    WebhookAttempt.delivery_id.in_(session.scalars(deliveries).all())
                ),
                delete(WebhookDelivery).where(WebhookDelivery.event_id.in_(ids)),
                delete(OutboxEvent).where(OutboxEvent.id.in_(ids)),
            ):
                session.execute(statement.execution_options(synchronize_session=False))
            return len(ids)

    def fan_out(self) -> int:
        """Make the deliveries of the events whose time has come; how many events."""
        now = self.clock()
        with self.database.unit_of_work() as uow:
            session = uow.session
            events = session.scalars(
                select(OutboxEvent)
                .where(OutboxEvent.fanned_out.is_(False), OutboxEvent.due_at <= now)
                .order_by(OutboxEvent.due_at, OutboxEvent.id)
                .limit(self.batch)
                .with_for_update(skip_locked=True)
            ).all()
            if not events:
                return 0
            endpoints = session.scalars(
                select(WebhookEndpoint).where(WebhookEndpoint.enabled.is_(True))
            ).all()
            for event in events:
                for endpoint in endpoints:
                    if event.endpoint_id is not None:
                        wanted = event.endpoint_id == endpoint.id
                    else:
                        wanted = service.receives(endpoint, event.type)
                    if wanted:
                        session.add(
                            WebhookDelivery(
                                event_id=event.id,
                                endpoint_id=endpoint.id,
                                status=DeliveryStatus.PENDING,
                                attempts=0,
                                next_attempt_at=now,
                                created_at=now,
                                last_error="",
                            )
                        )
                event.fanned_out = True
            return len(events)

    def claim(self) -> list[Claimed]:
        """Take a lease on the deliveries that are due."""
        now = self.clock()
        lease = secrets.token_hex(16)
        with self.database.unit_of_work() as uow:
            session = uow.session
            deliveries = session.scalars(
                select(WebhookDelivery)
                .where(
                    WebhookDelivery.status == DeliveryStatus.PENDING,
                    WebhookDelivery.next_attempt_at <= now,
                )
                .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
                .limit(self.batch)
                .with_for_update(skip_locked=True)
            ).all()
            if not deliveries:
                return []
            ids = [delivery.id for delivery in deliveries]
            session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id.in_(ids))
                .values(lease=lease, next_attempt_at=now + self.lease)
                .execution_options(synchronize_session=False)
            )
            rows = session.execute(
                select(
                    WebhookDelivery.id,
                    WebhookDelivery.attempts,
                    WebhookEndpoint.id,
                    WebhookEndpoint.url,
                    WebhookEndpoint.secret,
                    WebhookEndpoint.previous_secret,
                    WebhookEndpoint.previous_expires_at,
                    OutboxEvent.message_id,
                    OutboxEvent.body,
                )
                .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                .join(OutboxEvent, OutboxEvent.id == WebhookDelivery.event_id)
                .where(WebhookDelivery.id.in_(ids))
                .order_by(WebhookDelivery.id)
            ).all()
        return [
            Claimed(
                delivery_id=delivery_id,
                lease=lease,
                attempt=attempts + 1,
                endpoint_id=endpoint_id,
                url=url,
                sealed_secret=sealed,
                sealed_previous=previous if until is not None and until > now else None,
                message_id=message_id,
                body=body,
            )
            for (
                delivery_id,
                attempts,
                endpoint_id,
                url,
                sealed,
                previous,
                until,
                message_id,
                body,
            ) in rows
        ]

    def send(self, claimed: Claimed) -> Outcome:
        """POST one claimed delivery, to the address its URL was checked against."""
        started = time.monotonic()

        def failed(error: str) -> Outcome:
            return Outcome(None, _elapsed_ms(started), error=error[:255])

        try:
            in_force = [signing.unseal(claimed.sealed_secret, self.site_key)]
            if claimed.sealed_previous is not None:
                in_force.append(signing.unseal(claimed.sealed_previous, self.site_key))
            target = targets.resolve(claimed.url, allow_private=self.allow_private)
        except (InvalidInput, ConfigurationError) as exc:
            return failed(str(exc))
        body = claimed.body.encode()
        timestamp = int(self.clock().timestamp())
        headers = {
            "Host": target.host_header,
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "webhook-id": claimed.message_id,
            "webhook-timestamp": str(timestamp),
            # Space-separated: every secret still in force signs.
            "webhook-signature": " ".join(
                signing.sign(secret, claimed.message_id, timestamp, body) for secret in in_force
            ),
        }
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        try:
            with self._client.stream(
                "POST", target.connect_url, content=body, headers=headers, extensions=extensions
            ) as response:
                kept = b""
                for chunk in response.iter_bytes():
                    kept += chunk
                    if len(kept) >= RESPONSE_KEPT:
                        break
                return Outcome(
                    response.status_code,
                    _elapsed_ms(started),
                    response=kept[:RESPONSE_KEPT].decode("utf-8", "replace"),
                    retry_after=_retry_after(response.headers.get("retry-after"), self.clock()),
                )
        except httpx.TimeoutException:
            return failed(f"no answer within {self.timeout:g} s")
        except httpx.HTTPError as exc:
            return failed(f"{type(exc).__name__}: {exc}")

    def record(self, claimed: Claimed, outcome: Outcome) -> None:
        """Write what came of an attempt, if this dispatcher still holds its lease."""
        now = self.clock()
        values: dict[str, object] = {
            "attempts": claimed.attempt,
            "lease": None,
            "last_status_code": outcome.status_code,
            "last_error": outcome.error,
        }
        disable_reason = None
        if outcome.delivered:
            values.update(status=DeliveryStatus.DELIVERED, delivered_at=now)
        elif outcome.status_code == 410:
            values.update(status=DeliveryStatus.FAILED)
            disable_reason = "The receiver answered 410 Gone"
        elif claimed.attempt > len(self.delays):
            values.update(status=DeliveryStatus.FAILED)
            last = outcome.error or f"HTTP {outcome.status_code}"
            disable_reason = f"{claimed.attempt} attempts failed; the last: {last}"
        else:
            delay = self.delays[claimed.attempt - 1] * random.uniform(1 - JITTER, 1 + JITTER)  # noqa: S311
            if outcome.retry_after is not None:
                delay = max(delay, min(outcome.retry_after, LONGEST_RETRY_AFTER))
            values.update(next_attempt_at=now + timedelta(seconds=delay))
        with self.database.unit_of_work() as uow:
            session = uow.session
            held = session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id == claimed.delivery_id,
                    WebhookDelivery.lease == claimed.lease,
                )
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if held.rowcount != 1:  # type: ignore[attr-defined]
                logger.warning("lost the lease on webhook delivery %s", claimed.delivery_id)
                return
            session.add(
                WebhookAttempt(
                    delivery_id=claimed.delivery_id,
                    number=claimed.attempt,
                    at=now,
                    status_code=outcome.status_code,
                    duration_ms=outcome.duration_ms,
                    error=outcome.error,
                    response=outcome.response,
                )
            )
            if disable_reason is not None:
                service.disable(session, claimed.endpoint_id, disable_reason)


def _elapsed_ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def _retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (a number or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())
