"""``cms serve`` as a real process: graceful shutdown, the workers' shared metrics, the
log it writes."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from cms.articles.models import Article
from cms.cli import GRACEFUL_SHUTDOWN_SECONDS
from cms.db import Database
from cms.security import create_access_token
from cms.serving import VARIABLE, shared_metrics_directory
from tests.conftest import TEST_SECRET_KEY, HeldUpload, UserFactory

STARTUP_SECONDS = 60


@dataclass
class Served:
    process: "subprocess.Popen[bytes]"
    url: str
    port: int
    log: Path

    def stop(self, timeout: float) -> int:
        """SIGTERM, then the exit status (failing if it takes longer than ``timeout``)."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)


@pytest.fixture
def serve_env(database: Database, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "CMS_DATABASE_URL": database.url,
        "CMS_ENVIRONMENT": "test",
        "CMS_SECRET_KEY": TEST_SECRET_KEY,
        # Where `cms serve` makes its metrics directory, to see that it is gone after.
        "TMPDIR": str(tmp_path),
    }


@contextmanager
def serving(env: dict[str, str], log: Path, *options: str) -> Iterator[Served]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "cms.cli", "serve", "--port", str(port), *options]
    with log.open("wb") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    served = Served(process, f"http://127.0.0.1:{port}", port, log)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                if httpx.get(f"{served.url}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"no answer in {STARTUP_SECONDS} s"
            time.sleep(0.1)
        yield served
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def refuses_connections(port: int, within: float) -> bool:
    """Whether connecting to ``port`` is refused, at the latest ``within`` seconds from now."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except ConnectionRefusedError:
            return True
        time.sleep(0.02)
    return False


def bearer(user_id: int, session_version: int) -> dict[str, str]:
    token = create_access_token(
        user_id=user_id,
        session_version=session_version,
        secret_key=TEST_SECRET_KEY,
        expires_in=timedelta(minutes=10),
    )
    return {"Authorization": f"Bearer {token}"}


def test_sigterm_lets_the_request_in_flight_finish_and_refuses_new_ones(
    serve_env: dict[str, str], tmp_path: Path, make_user: UserFactory, database: Database
) -> None:
    author = make_user()
    headers = bearer(author.id, author.session_version)
    body = json.dumps({"title": "Written during shutdown"}).encode()
    with serving(serve_env, tmp_path / "serve.log") as served:
        httpx.get(f"{served.url}/articles/", params={"token": "leak-me-not"})
        upload = HeldUpload(served.url, "/articles/", body, headers)
        upload.start()  # the application is now serving it, waiting for the body
        served.process.send_signal(signal.SIGTERM)
        try:
            assert refuses_connections(served.port, within=GRACEFUL_SHUTDOWN_SECONDS)
            status, response = upload.finish()
        finally:
            upload.close()
        assert status == 201, response
        assert served.process.wait(timeout=GRACEFUL_SHUTDOWN_SECONDS) == 0
    with database.sessionmaker() as session:
        titles = list(session.scalars(select(Article.title)))
    assert titles == ["Written during shutdown"]
    log = served.log.read_text()
    assert log.count("cms.access") == 3, log  # /healthz, /articles/ and the upload
    assert "POST /articles/ 201" in log
    assert "leak-me-not" not in log and "Traceback" not in log


def test_a_request_still_running_when_the_grace_period_ends_gets_a_503(
    serve_env: dict[str, str], tmp_path: Path, make_user: UserFactory, database: Database
) -> None:
    author = make_user()
    headers = bearer(author.id, author.session_version)
    body = json.dumps({"title": "Never sent"}).encode()
    with serving(serve_env, tmp_path / "serve.log", "--graceful-timeout", "1") as served:
        upload = HeldUpload(served.url, "/articles/", body, headers)
        upload.start()
        try:
            assert served.stop(timeout=30) == 0
            reply = upload.sock.recv(65536)
        finally:
            upload.close()
    assert reply.startswith(b"HTTP/1.1 503"), reply
    assert b"retry-after: 5" in reply.lower()
    with database.sessionmaker() as session:
        assert list(session.scalars(select(Article.title))) == []
    log = served.log.read_text()
    assert "POST /articles/ 503" in log and "Traceback" not in log


def test_workers_share_their_metrics_and_the_directory_goes_with_them(
    serve_env: dict[str, str], tmp_path: Path
) -> None:
    with serving(serve_env, tmp_path / "serve.log", "--workers", "2") as served:
        # New connections, so that the kernel may hand them to either worker.
        for _ in range(20):
            assert httpx.get(f"{served.url}/healthz").status_code == 200
        for _ in range(5):
            response = httpx.get(f"{served.url}/metrics")
            samples = {
                (sample.name, frozenset(sample.labels.items())): sample.value
                for family in text_string_to_metric_families(response.text)
                for sample in family.samples
            }
            labels = frozenset({"method": "GET", "route": "/healthz", "status": "200"}.items())
            # 20, plus the one that saw the server up: whichever worker answers.
            assert samples[("cms_http_requests_total", labels)] == 21
        assert [path.name for path in tmp_path.glob("cms-metrics-*")] != []
        assert served.stop(timeout=GRACEFUL_SHUTDOWN_SECONDS + 10) == 0
    assert list(tmp_path.glob("cms-metrics-*")) == []


def test_a_metrics_directory_given_by_the_operator_is_emptied_and_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    given = tmp_path / "metrics"
    given.mkdir()
    (given / "counter_123.db").write_bytes(b"stale")
    (given / "notes.txt").write_text("not ours")
    monkeypatch.setenv(VARIABLE, str(given))
    with shared_metrics_directory(1) as directory:
        assert directory == str(given)
        assert sorted(path.name for path in given.iterdir()) == ["notes.txt"]
    assert given.is_dir()


def test_one_worker_needs_no_metrics_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(VARIABLE, raising=False)
    with shared_metrics_directory(1) as directory:
        assert directory is None
        assert VARIABLE not in os.environ
