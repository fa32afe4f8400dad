"""A dispatcher process killed with SIGKILL in the middle of a delivery: the delivery is
made later, by another dispatcher, under the same webhook-id."""

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from cms.articles import actions
from cms.articles.changes import ArticleDraft
from cms.articles.models import ArticleStatus
from cms.db import Database
from cms.roles import Role
from cms.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery
from tests.conftest import TEST_SECRET_KEY, UserFactory
from tests.webhooks.conftest import DispatcherFactory, EndpointFactory, ScaledClock, drain


class HeldReceiver:
    """Holds the first request it gets until released (the POST is in flight); answers
    every other one at once."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.first_arrived = threading.Event()
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.ids.append(self.headers["webhook-id"])
                if len(receiver.ids) == 1:
                    receiver.first_arrived.set()
                    receiver.release.wait(30)
                    return  # no answer: the sender is dead by now
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


@pytest.fixture
def held() -> Iterator[HeldReceiver]:
    receiver = HeldReceiver()
    receiver.thread.start()
    yield receiver
    receiver.release.set()
    receiver.server.shutdown()
    receiver.server.server_close()


def test_sigkill_mid_delivery_then_another_dispatcher_delivers_it_once_same_id(
    database: Database,
    held: HeldReceiver,
    add_endpoint: EndpointFactory,
    make_dispatcher: DispatcherFactory,
    make_user: UserFactory,
) -> None:
    add_endpoint(held.url)
    database.run(
        actions.CreateArticle(draft=ArticleDraft(title="Kept", status=ArticleStatus.PUBLISHED)),
        actor=make_user(role=Role.EDITOR),
    )
    env = {
        **os.environ,
        "CMS_DATABASE_URL": database.url,
        "CMS_ENVIRONMENT": "test",
        "CMS_SECRET_KEY": TEST_SECRET_KEY,
        "CMS_WEBHOOKS_ALLOW_PRIVATE_TARGETS": "true",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "cms.cli", "webhooks", "run"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert held.first_arrived.wait(60), "the dispatcher process never sent it"
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    held.release.set()
    [delivery] = _deliveries(database)
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 0

    clock = ScaledClock(1)
    survivor = make_dispatcher(clock=clock)
    assert survivor.run_once() == 0  # the dead one's lease still holds
    clock.advance(survivor.lease.total_seconds() + 1)
    drain(survivor, lambda: len(held.ids) == 2)
    assert held.ids[0] == held.ids[1]
    [delivery] = _deliveries(database)
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 1
    with database.sessionmaker() as session:
        attempts = session.scalars(select(WebhookAttempt.status_code)).all()
    assert attempts == [200]  # the killed attempt left nothing recorded


def _deliveries(database: Database) -> list[WebhookDelivery]:
    with database.sessionmaker() as session:
        return list(session.scalars(select(WebhookDelivery)))
