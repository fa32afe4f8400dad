"""The API through a MariaDB outage: while the database is gone every request gets a clean
503 with Retry-After (never a 500, never a hang), service comes back by itself when the
database does, and nothing that was acknowledged is lost.

The tests run their own MariaDB server (its own data directory, port and socket) so it can
crash and restart it; the machine's server is never touched. It does not depend on
``CMS_TEST_BACKEND``, and runs in both passes so that a machine whose shared MariaDB is
down (and whose MariaDB pass is therefore skipped) still runs it.
"""

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, select, text

from cms import migrations
from cms.articles.models import Article
from cms.asgi import build_app
from cms.db import Database
from tests.conftest import LiveServer, make_settings

MARIADBD = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
INSTALL_DB = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
WRITERS = 4
READERS = 4
# A request slower than this counts as hung; far above any healthy or refused request.
CLIENT_TIMEOUT_SECONDS = 20
OUTAGE_SECONDS = 3
# Requests a writer may see fail after the database is back before one succeeds.
MAX_FAILURES_AFTER_RECOVERY = 3
STARTUP_SECONDS = 60


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class OwnMariaDB:
    """A throwaway MariaDB server that the test may crash and restart."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.datadir = base / "data"
        self.log = base / "mariadbd.log"
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def install(self) -> None:
        assert INSTALL_DB is not None
        result = subprocess.run(
            [
                INSTALL_DB,
                "--no-defaults",
                f"--datadir={self.datadir}",
                f"--user={_user()}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{INSTALL_DB} failed:\n{result.stdout}\n{result.stderr}")

    def start(self) -> None:
        """Start on the data directory (crash recovery included) and wait until it answers."""
        self.process = subprocess.Popen(
            [
                MARIADBD,
                "--no-defaults",
                f"--datadir={self.datadir}",
                f"--socket={self.base / 'mariadbd.sock'}",
                f"--pid-file={self.base / 'mariadbd.pid'}",
                f"--log-error={self.log}",
                f"--port={self.port}",
                "--bind-address=127.0.0.1",
                f"--user={_user()}",
                # No accounts to set up: anyone who reaches this loopback port is root.
                "--skip-grant-tables",
                "--skip-name-resolve",
                "--skip-log-bin",
                "--performance-schema=OFF",
                "--innodb-buffer-pool-size=16M",
                "--innodb-log-file-size=16M",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + STARTUP_SECONDS
        while not self.answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"mariadbd did not start:\n{self._log_tail()}")
            time.sleep(0.05)

    def stop(self, how: signal.Signals) -> None:
        """Send ``how`` and wait for the server to be gone."""
        assert self.process is not None
        self.process.send_signal(how)
        try:
            self.process.wait(timeout=STARTUP_SECONDS)
        except subprocess.TimeoutExpired:
            self.kill()
            raise RuntimeError(f"mariadbd ignored {how.name}:\n{self._log_tail()}") from None

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=STARTUP_SECONDS)

    def answers(self) -> bool:
        engine = create_engine(self.url(""), connect_args={"connect_timeout": 1})
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return True
        except Exception:
            return False
        finally:
            engine.dispose()

    def url(self, database: str) -> str:
        return f"mysql+mysqldb://root@127.0.0.1:{self.port}/{database}"

    def _log_tail(self) -> str:
        lines = self.log.read_text(errors="replace").splitlines() if self.log.exists() else []
        return "\n".join(lines[-20:])


def _user() -> str:
    # mariadbd refuses to run as root unless told to.
    return "root" if os.geteuid() == 0 else os.environ.get("USER", "mysql")


@pytest.fixture(scope="module")
def own_mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnMariaDB]:
    missing = [
        name
        for name, path in [("mariadbd", MARIADBD), ("mariadb-install-db", INSTALL_DB)]
        if path is None or not os.access(path, os.X_OK)
    ]
    if missing:
        message = f"the outage test needs MariaDB's server programs; missing: {missing}"
        if os.environ.get("CMS_REQUIRE_MARIADB") == "1":
            pytest.fail(message)
        pytest.skip(message)
    server = OwnMariaDB(tmp_path_factory.mktemp("own-mariadb"))
    try:
        server.install()
        server.start()
        yield server
    finally:
        server.kill()


@dataclass(frozen=True)
class Outcome:
    """One request and how it ended: a status, or the transport error the client saw."""

    worker: str
    started: float
    ended: float
    status: int | None = None
    error: str | None = None
    retry_after: str | None = None
    article: dict[str, object] | None = None


@dataclass
class Load:
    """Writers creating articles and readers listing them, until told to stop."""

    base_url: str
    token: str
    outcomes: list[Outcome] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for number in range(WRITERS):
            self.threads.append(threading.Thread(target=self._write, args=(f"w{number}",)))
        for number in range(READERS):
            self.threads.append(threading.Thread(target=self._read, args=(f"r{number}",)))
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=CLIENT_TIMEOUT_SECONDS * 2)
        assert not any(thread.is_alive() for thread in self.threads), "a load thread hung"

    def _write(self, worker: str) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(base_url=self.base_url, timeout=CLIENT_TIMEOUT_SECONDS) as client:
            for number in range(1_000_000):
                if self.stopping.is_set():
                    return
                title = f"{worker} article {number}"
                # Bodies of some size keep transactions in flight when the server dies.
                body = f"Written by {worker}, number {number} ✍️\n\n" + "All work. " * 2_000
                payload = {"title": title, "body": body}
                self._record(
                    worker, partial(client.post, "/articles/", json=payload, headers=headers)
                )
                time.sleep(0.005)

    def _read(self, worker: str) -> None:
        with httpx.Client(base_url=self.base_url, timeout=CLIENT_TIMEOUT_SECONDS) as client:
            while not self.stopping.is_set():
                self._record(worker, partial(client.get, "/articles/", params={"limit": 5}))
                time.sleep(0.005)

    def _record(self, worker: str, send: Callable[[], httpx.Response]) -> None:
        started = time.monotonic()
        try:
            response = send()
        except httpx.TransportError as exc:
            self.outcomes.append(Outcome(worker, started, time.monotonic(), error=repr(exc)))
            return
        self.outcomes.append(
            Outcome(
                worker,
                started,
                time.monotonic(),
                status=response.status_code,
                retry_after=response.headers.get("Retry-After"),
                article=response.json() if response.status_code == 201 else None,
            )
        )

    def first_success_after(self, moment: float) -> float:
        """When the first write started after ``moment`` was acknowledged (waits for it)."""
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            done = [o.ended for o in list(self.outcomes) if o.started >= moment and o.status == 201]
            if done:
                return min(done)
            time.sleep(0.05)
        raise AssertionError(
            f"no write succeeded within {STARTUP_SECONDS} s of the database's return"
        )


@dataclass(frozen=True)
class Outage:
    how: str
    down: float  # the signal was sent
    gone: float  # the server process had exited
    restarting: float  # the server was being started again
    back: float  # the restarted server answered
    recovered: float  # the first write started after ``back`` was acknowledged


def ride_out(server: OwnMariaDB, load: Load, how: signal.Signals) -> Outage:
    down = time.monotonic()
    server.stop(how)
    gone = time.monotonic()
    time.sleep(OUTAGE_SECONDS)
    restarting = time.monotonic()
    server.start()
    back = time.monotonic()
    recovered = load.first_success_after(back)
    # Let the load run healthy for a while before anything else happens.
    time.sleep(1)
    return Outage(how.name, down, gone, restarting, back, recovered)


def test_the_api_rides_out_a_database_crash_and_a_restart(own_mariadb: OwnMariaDB) -> None:
    engine = create_engine(own_mariadb.url(""))
    with engine.connect() as connection:
        connection.execute(
            text("CREATE DATABASE cms CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        )
    engine.dispose()
    url = own_mariadb.url("cms")
    migrations.upgrade(url)
    server = LiveServer(build_app(make_settings(url)))
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=CLIENT_TIMEOUT_SECONDS) as api:
            credentials = {"email": "writer@example.com", "password": "a long password"}
            assert api.post("/users/", json=credentials).status_code == 201
            token = api.post(
                "/auth/token",
                data={"username": credentials["email"], "password": credentials["password"]},
            ).json()["access_token"]
        load = Load(server.url, token)
        load.start()
        try:
            load.first_success_after(time.monotonic())
            outages = [ride_out(own_mariadb, load, how) for how in (signal.SIGKILL, signal.SIGTERM)]
        finally:
            load.stop()
    finally:
        server.stop()
    outcomes = load.outcomes

    for outage in outages:
        in_flight = [o for o in outcomes if o.started < outage.down < o.ended]
        print(
            f"{outage.how}: database gone {outage.back - outage.down:.1f} s "
            f"(process exited {outage.gone - outage.down:.2f} s after the signal); first "
            f"write acknowledged {outage.recovered - outage.back:.2f} s after it was back; "
            f"{len(in_flight)} requests in flight at the signal answered "
            f"{sorted(str(o.status or o.error) for o in in_flight)}"
        )
    print(
        f"{len(outcomes)} requests: "
        + ", ".join(
            f"{sum(1 for o in outcomes if o.status == code)} x {code}" for code in (200, 201, 503)
        )
        + f", {sum(1 for o in outcomes if o.error)} transport errors"
    )
    # The CMS itself stayed up, so every request got an HTTP answer: no client timeout (a
    # hang) and no reset connection. And the only answers are success, or 503 with
    # Retry-After: never a 500.
    unanswered = [o for o in outcomes if o.status is None]
    assert not unanswered, unanswered[:3]
    unexpected = [o for o in outcomes if o.status not in {200, 201, 503}]
    assert not unexpected, unexpected[:3]
    assert all(o.retry_after for o in outcomes if o.status == 503)
    for outage in outages:
        # The outage was felt: requests made while the server was gone got 503s...
        during = [o for o in outcomes if outage.gone <= o.started and o.ended <= outage.restarting]
        assert during and all(o.status == 503 for o in during), outage
        # ...and service came back without restarting the CMS, within a few attempts.
        for worker in {o.worker for o in outcomes if o.worker.startswith("w")}:
            after = sorted(
                (o for o in outcomes if o.worker == worker and o.started >= outage.back),
                key=lambda o: o.started,
            )
            failures = next((n for n, o in enumerate(after) if o.status == 201), len(after))
            assert failures <= MAX_FAILURES_AFTER_RECOVERY, (worker, outage)
    # Nothing acknowledged was lost, and it reads back as it was acknowledged.
    acknowledged = {o.article["id"]: o.article for o in outcomes if o.article is not None}
    engine = create_engine(url)
    with engine.connect() as connection:
        stored = {
            row.id: row
            for row in connection.execute(select(Article.id, Article.title, Article.body))
        }
    engine.dispose()
    missing = [article for id_, article in acknowledged.items() if id_ not in stored]
    assert not missing, missing[:3]
    for id_, article in acknowledged.items():
        assert (stored[id_].title, stored[id_].body) == (article["title"], article["body"])
    assert len(acknowledged) > 3 * WRITERS


def test_a_read_whose_connection_dies_before_it_ends_still_answers(
    own_mariadb: OwnMariaDB,
) -> None:
    """The database going away between a request's last read and the end of its read
    transaction must not throw away the answer (the API would reset the connection)."""
    database = Database(own_mariadb.url(""))
    try:
        with database.reading() as session:
            answer = session.scalar(text("SELECT 42"))
            doomed = session.scalar(text("SELECT CONNECTION_ID()"))
            with database.engine.connect() as other:
                other.execute(text(f"KILL {int(doomed)}"))
        assert answer == 42
        with database.reading() as session:
            assert session.scalar(text("SELECT 1")) == 1
    finally:
        database.dispose()
