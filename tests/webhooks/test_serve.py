"""`cms serve` delivers webhooks by itself: a real server process, a real receiver."""

import json
import os
import socket
import statistics
import subprocess
import sys
import time
from datetime import datetime

import httpx

from cms.db import Database
from cms.roles import Role
from tests.conftest import DEFAULT_PASSWORD, TEST_SECRET_KEY, UserFactory
from tests.webhooks.conftest import EndpointFactory, Receiver


def test_serve_runs_a_dispatcher_that_delivers_each_publication(
    database: Database,
    receiver: Receiver,
    add_endpoint: EndpointFactory,
    make_user: UserFactory,
) -> None:
    add_endpoint(receiver.url, "article.published")
    editor = make_user(role=Role.EDITOR)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "CMS_DATABASE_URL": database.url,
        "CMS_ENVIRONMENT": "test",
        "CMS_SECRET_KEY": TEST_SECRET_KEY,
        "CMS_WEBHOOKS_ALLOW_PRIVATE_TARGETS": "true",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "cms.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    count = 50
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "cms serve did not start"
            time.sleep(0.1)
        with httpx.Client(base_url=base, timeout=30) as client:
            token = client.post(
                "/auth/token", data={"username": editor.email, "password": DEFAULT_PASSWORD}
            ).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            for number in range(count):
                created = client.post(
                    "/articles/",
                    json={"title": f"Number {number}", "status": "published"},
                    headers=headers,
                )
                assert created.status_code == 201, created.text
                time.sleep(0.02)  # one at a time, as editors publish
        deadline = time.monotonic() + 60
        while len(receiver.received) < count:
            assert time.monotonic() < deadline, f"{len(receiver.received)} of {count} arrived"
            time.sleep(0.05)
    finally:
        process.terminate()
        _, errors = process.communicate(timeout=30)
    assert process.returncode == 0, errors.decode()
    assert b"Traceback" not in errors, errors.decode()
    slugs = sorted(json.loads(item.body)["data"]["slug"] for item in receiver.received)
    assert slugs == sorted(f"number-{number}" for number in range(count))
    # The figure for the notes (not asserted: the machine's load decides it). The event's
    # timestamp is taken inside the transaction, just before its commit.
    delays = sorted(
        (item.at - datetime.fromisoformat(json.loads(item.body)["timestamp"]).timestamp()) * 1000
        for item in receiver.received
    )
    p99 = delays[min(len(delays) - 1, round(0.99 * len(delays)))]
    print(f"\ncommit->delivery ms: p50 {statistics.median(delays):.1f} p99 {p99:.1f}")
