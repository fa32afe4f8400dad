"""Reads from a replica, writes read back at once: against a real MariaDB primary and
replica that this module starts itself (two ``mariadbd`` on free loopback ports, their
own data directories, GTID replication).

Runs on the MariaDB pass where ``/usr/sbin/mariadbd`` exists. What it measured (stale
reads per scenario, fallback times, the time to return to a restarted replica) is
printed at the end of the module (``-s`` shows it) and recorded as test properties.
"""

from __future__ import annotations

import base64
import ctypes
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import MySQLdb
import pytest
from fastapi import FastAPI
from sqlalchemy import Delete, Engine, Insert, Update, select, text
from sqlalchemy.orm import Session

from cms import migrations
from cms.articles.models import Tag
from cms.asgi import build_app
from cms.db import Database
from cms.replicas import CONSISTENCY_HEADER, ROUTE, ReadRoute, is_valid_position, sign_position
from tests.admin.conftest import admin_login
from tests.conftest import (
    BACKEND,
    DEFAULT_PASSWORD,
    TEST_SECRET_KEY,
    LiveServer,
    _free_port,
    make_settings,
)

MARIADBD = Path("/usr/sbin/mariadbd")
INSTALL_DB = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")

pytestmark = [
    pytest.mark.skipif(
        BACKEND != "mariadb",
        reason="replication needs MariaDB: runs on the MariaDB pass (CMS_TEST_BACKEND=mariadb)",
    ),
]
MISSING_SERVER = "needs /usr/sbin/mariadbd and mariadb-install-db to start its own servers"

APP_PASSWORD = "app-password"
READER_PASSWORD = "reader-password"
REPLICATION_PASSWORD = "replication-password"
ROUNDS = 1000
WORKERS = 2
MEASURED: dict[str, object] = {}


def _die_with_parent() -> None:
    """In the child, before mariadbd starts: the kernel kills it if pytest itself dies
    (SIGKILL, a crash), where no finalizer runs."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class Server:
    """One ``mariadbd`` of our own, in its own process group."""

    def __init__(self, name: str, datadir: Path, server_id: int) -> None:
        self.name = name
        self.datadir = datadir
        self.server_id = server_id
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log = datadir.parent / f"{name}.err"

    def start(self) -> None:
        command = [
            str(MARIADBD),
            "--no-defaults",
            f"--datadir={self.datadir}",
            f"--port={self.port}",
            "--bind-address=127.0.0.1",
            f"--socket={self.datadir.parent / (self.name + '.sock')}",
            f"--pid-file={self.datadir.parent / (self.name + '.pid')}",
            f"--log-error={self.log}",
            f"--server-id={self.server_id}",
            "--log-bin=mysql-bin",
            "--log-slave-updates",
            "--gtid-strict-mode=1",
            "--skip-name-resolve",
            "--innodb-buffer-pool-size=32M",
            "--innodb-log-file-size=8M",
            "--max-connections=300",
        ]
        if os.geteuid() == 0:
            command.append("--user=root")
        self.process = subprocess.Popen(
            command,
            start_new_session=True,
            preexec_fn=_die_with_parent,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                self.query("SELECT 1")
                return
            except MySQLdb.OperationalError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{self.name} did not start: {self.log.read_text()[-2000:]}"
                    ) from None
                time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL the whole process group: nothing of it outlives the test."""
        if self.process is None:
            return
        if self.process.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process = None

    def query(self, statement: str, *args: object) -> list[tuple[Any, ...]]:
        connection = MySQLdb.connect(
            host="127.0.0.1", port=self.port, user="root", passwd="", connect_timeout=2
        )
        try:
            cursor = connection.cursor()
            cursor.execute(statement, args or None)
            rows = list(cursor.fetchall() or ())
            connection.commit()
            return rows
        finally:
            connection.close()

    def counter(self, name: str) -> int:
        rows = self.query("SHOW GLOBAL STATUS LIKE %s", name)
        return int(rows[0][1])

    def url(self, user: str, password: str) -> str:
        return f"mysql+mysqldb://{user}:{password}@127.0.0.1:{self.port}/cms"


@dataclass
class Cluster:
    primary: Server
    replica: Server

    @property
    def primary_url(self) -> str:
        return self.primary.url("app", APP_PASSWORD)

    @property
    def replica_url(self) -> str:
        return self.replica.url("reader", READER_PASSWORD)

    def caught_up(self) -> None:
        position = self.primary.query("SELECT @@gtid_binlog_pos")[0][0]
        reached = self.replica.query("SELECT MASTER_GTID_WAIT(%s, 30)", position)[0][0]
        assert reached == 0, "the replica did not catch up"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if not MARIADBD.exists() or INSTALL_DB is None:
        if os.environ.get("CMS_REQUIRE_MARIADB") == "1":  # CI: this test must run
            pytest.fail(MISSING_SERVER)
        pytest.skip(MISSING_SERVER)
    root = tmp_path_factory.mktemp("replication")
    subprocess.run(
        [
            INSTALL_DB,
            "--no-defaults",
            f"--datadir={root / 'primary'}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            "--innodb-log-file-size=8M",
            "--innodb-buffer-pool-size=32M",
            *(["--user=root"] if os.geteuid() == 0 else []),
        ],
        check=True,
        capture_output=True,
    )
    # The replica starts as a copy of the empty primary and replays its binary log.
    shutil.copytree(root / "primary", root / "replica", symlinks=True)
    primary = Server("primary", root / "primary", 1)
    replica = Server("replica", root / "replica", 2)
    try:
        primary.start()
        replica.start()
        for statement in (
            "CREATE DATABASE cms CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
            f"CREATE USER 'repl'@'127.0.0.1' IDENTIFIED BY '{REPLICATION_PASSWORD}'",
            "GRANT REPLICATION SLAVE ON *.* TO 'repl'@'127.0.0.1'",
            f"CREATE USER 'app'@'127.0.0.1' IDENTIFIED BY '{APP_PASSWORD}'",
            "GRANT ALL ON cms.* TO 'app'@'127.0.0.1'",
            # What the app uses on the replica: it may read, and ask how far behind the
            # replica is, and nothing else.
            f"CREATE USER 'reader'@'127.0.0.1' IDENTIFIED BY '{READER_PASSWORD}'",
            "GRANT SELECT ON cms.* TO 'reader'@'127.0.0.1'",
            "GRANT SLAVE MONITOR ON *.* TO 'reader'@'127.0.0.1'",
        ):
            primary.query(statement)
        replica.query(
            "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=%s, MASTER_USER='repl', "
            "MASTER_PASSWORD=%s, MASTER_USE_GTID=slave_pos",
            primary.port,
            REPLICATION_PASSWORD,
        )
        replica.query("START SLAVE")
        built = Cluster(primary, replica)
        migrations.upgrade(built.primary_url)
        built.caught_up()
        yield built
    finally:
        replica.kill()
        primary.kill()
        shutil.rmtree(root, ignore_errors=True)
        report = "\n".join(f"  {key}: {value}" for key, value in MEASURED.items())
        print(f"\nreplica test measurements:\n{report}")


@dataclass
class Site:
    """The app on the primary and its replica, served over HTTP, with one author."""

    app: FastAPI
    server: LiveServer
    headers: dict[str, str]
    email: str
    database: Database = field(init=False)

    def __post_init__(self) -> None:
        self.database = self.app.state.database

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.server.url, timeout=30)


@contextmanager
def serving(cluster: Cluster, **overrides: object) -> Iterator[Site]:
    values: dict[str, object] = {
        "database_replica_urls": [cluster.replica_url],
        "consistency_wait_seconds": 0.5,
        "replica_check_seconds": 0.2,
        **overrides,
    }
    settings = make_settings(cluster.primary_url, **values)
    app = build_app(settings)
    with LiveServer(app) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        email = f"writer-{time.monotonic_ns()}@example.com"
        client.post("/users/", json={"email": email, "password": DEFAULT_PASSWORD})
        token = client.post(
            "/auth/token", data={"username": email, "password": DEFAULT_PASSWORD}
        ).json()["access_token"]
        yield Site(app, server, {"Authorization": f"Bearer {token}"}, email)


@pytest.fixture(scope="module")
def site(cluster: Cluster) -> Iterator[Site]:
    with serving(cluster) as running:
        yield running


def publish(client: httpx.Client, site: Site, title: str) -> tuple[int, str]:
    response = client.post(
        "/articles/",
        json={"title": title, "body": "b", "status": "published"},
        headers=site.headers,
    )
    assert response.status_code == 201, response.text
    return response.json()["id"], response.headers[CONSISTENCY_HEADER]


@dataclass
class Rounds:
    stale: int = 0
    errors: list[str] = field(default_factory=list)
    read_seconds: list[float] = field(default_factory=list)
    done: int = 0
    # Stale reads by the phase of the run they happened in (see ``between``).
    stale_in: dict[str, int] = field(default_factory=dict)


def write_then_read(
    site: Site,
    rounds: int,
    *,
    path: str,
    workers: int = WORKERS,
    between: Callable[[Rounds], str] | None = None,
) -> Rounds:
    """``rounds`` times, over ``workers`` threads: rename one's own published article,
    then read it back (``path``: ``token``, anonymously with the write's consistency
    token; ``signed-in``, as its author without one; ``anonymous``, neither).
    ``between(result)`` runs after each round, under the lock, and names the phase the
    run is in."""
    result = Rounds()
    lock = threading.Lock()
    phase = [between(result) if between is not None else "all"]

    def worker(number: int, count: int) -> None:
        with site.client() as client:
            article_id, _ = publish(client, site, f"worker {number}")
            for step in range(count):
                title = f"worker {number} round {step}"
                written = client.patch(
                    f"/articles/{article_id}", json={"title": title}, headers=site.headers
                )
                if written.status_code != 200:
                    with lock:
                        result.errors.append(f"write {written.status_code}")
                    continue
                headers = {}
                if path == "token":
                    headers[CONSISTENCY_HEADER] = written.headers[CONSISTENCY_HEADER]
                elif path == "signed-in":
                    headers = dict(site.headers)
                started = time.monotonic()
                read = client.get(f"/articles/{article_id}", headers=headers)
                elapsed = time.monotonic() - started
                with lock:
                    result.read_seconds.append(elapsed)
                    result.stale_in.setdefault(phase[0], 0)
                    # A published article missing (404) or with an older title: stale.
                    if read.status_code == 404 or (
                        read.status_code == 200 and read.json()["title"] != title
                    ):
                        result.stale += 1
                        result.stale_in[phase[0]] += 1
                    elif read.status_code != 200:
                        result.errors.append(f"read {read.status_code}")
                    result.done += 1
                    if between is not None:
                        phase[0] = between(result)

    threads = [threading.Thread(target=worker, args=(n, rounds // workers)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return result


def test_anonymous_reads_reach_the_replica_and_writes_never_do(
    cluster: Cluster, site: Site
) -> None:
    with site.client() as client:
        article_id, _ = publish(client, site, "counted")
        cluster.caught_up()
        replica_before = cluster.replica.counter("Com_select")
        primary_before = cluster.primary.counter("Com_select")
        for _ in range(50):
            assert client.get(f"/articles/{article_id}").status_code == 200
            assert client.get("/articles/").status_code == 200
        replica_reads = cluster.replica.counter("Com_select") - replica_before
        primary_reads = cluster.primary.counter("Com_select") - primary_before
        # A signed-in read (credentials are checked where they are revoked) and a write
        # use the primary.
        primary_before = cluster.primary.counter("Com_select")
        assert client.get(f"/articles/{article_id}", headers=site.headers).status_code == 200
        signed_in_reads = cluster.primary.counter("Com_select") - primary_before
        inserts_before = cluster.primary.counter("Com_insert")
        publish(client, site, "written")
        written = cluster.primary.counter("Com_insert") - inserts_before
    MEASURED["anonymous reads: SELECTs on replica / primary"] = f"{replica_reads} / {primary_reads}"
    assert replica_reads >= 100
    assert primary_reads == 0
    assert signed_in_reads >= 1
    assert written >= 1
    # The replica's user may only read: a write sent there would have failed, and every
    # write above succeeded.
    engine = Database(cluster.replica_url).engine
    try:
        with pytest.raises(Exception, match="command denied"), engine.begin() as connection:
            connection.execute(text("INSERT INTO tags (name, slug) VALUES ('x', 'x')"))
    finally:
        engine.dispose()
    ready = httpx.get(f"{site.server.url}/readyz").json()
    assert ready["status"] == "ok"
    assert ready["replicas"][0]["state"] == "ok"
    assert ready["replicas"][0]["lag_seconds"] == 0


@pytest.mark.parametrize(("path", "rounds"), [("token", ROUNDS), ("signed-in", ROUNDS // 10)])
def test_writes_read_back_at_once(cluster: Cluster, site: Site, path: str, rounds: int) -> None:
    """Both ways a writer reads its write back: any reader given the write's token
    (from a replica), and the writer itself without one (signed in: the primary).

    The replica's SQL thread is stopped for the middle third of the rounds: reads with
    the token wait on it and then read the primary, until the health check notices and
    they go to the primary at once; once it runs again they return to the replica."""
    state = {"phase": "replicating"}

    def between(result: Rounds) -> str:
        if result.done == rounds // 3:
            cluster.replica.query("STOP SLAVE SQL_THREAD")
            state["phase"] = "SQL thread stopped"
        elif result.done == 2 * rounds // 3:
            cluster.replica.query("START SLAVE SQL_THREAD")
            state["phase"] = "restarted"
        return state["phase"]

    started = time.monotonic()
    try:
        result = write_then_read(site, rounds, path=path, between=between)
    finally:
        if state["phase"] == "SQL thread stopped":
            cluster.replica.query("START SLAVE SQL_THREAD")
    cluster.caught_up()
    MEASURED[f"{rounds} write-then-read rounds ({path}): stale"] = result.stale
    MEASURED[f"{rounds} rounds ({path}): stale by phase"] = result.stale_in
    MEASURED[f"{rounds} rounds ({path}): seconds"] = round(time.monotonic() - started, 1)
    reads = sorted(result.read_seconds)
    MEASURED[f"{rounds} rounds ({path}): read p50/p99 ms"] = (
        f"{reads[len(reads) // 2] * 1000:.1f}/{reads[int(len(reads) * 0.99)] * 1000:.1f}"
    )
    assert result.errors == []
    assert result.stale == 0


def test_without_a_token_an_anonymous_read_may_lag(cluster: Cluster, site: Site) -> None:
    """What the token is for: the same rounds, anonymously without it (counted, not
    asserted: a replica a millisecond behind is not wrong)."""
    result = write_then_read(site, 100, path="anonymous")
    MEASURED["100 rounds (anonymous, no token): stale"] = result.stale
    assert result.errors == []


def test_a_stopped_replica_falls_back_to_the_primary_within_the_budget(cluster: Cluster) -> None:
    # Health checks far apart: the replica still looks well, so each read with a token
    # waits on it for the budget and then reads the primary.
    with serving(cluster, replica_check_seconds=60) as site:
        with site.client() as client:
            publish(client, site, "warm up")
            cluster.caught_up()
            # The one health check until long after this test: the replica is well.
            assert client.get("/readyz").json()["replicas"][0]["state"] == "ok"
        cluster.replica.query("STOP SLAVE SQL_THREAD")
        try:
            result = write_then_read(site, 6, path="token", workers=1)
            tokenless = write_then_read(site, 6, path="anonymous", workers=1)
        finally:
            cluster.replica.query("START SLAVE SQL_THREAD")
    cluster.caught_up()
    MEASURED["SQL thread stopped, token: stale"] = result.stale
    MEASURED["SQL thread stopped, token: read seconds (min-max)"] = (
        f"{min(result.read_seconds):.3f}-{max(result.read_seconds):.3f}"
    )
    MEASURED["SQL thread stopped, no token: stale of 6"] = tokenless.stale
    assert result.errors == [] and tokenless.errors == []
    assert result.stale == 0
    # Without the token the replica answered, and it had not applied the writes.
    assert tokenless.stale == 6


def test_a_replica_that_stops_replicating_is_skipped(cluster: Cluster, site: Site) -> None:
    cluster.replica.query("STOP SLAVE SQL_THREAD")
    try:
        state = _wait_for(lambda: _replica_state(site), lambda s: s == "not replicating")
        assert state == "not replicating"
        up = f'cms_db_replica_up{{replica="127.0.0.1:{cluster.replica.port}/cms"}}'
        assert _wait_for(lambda: _metric(site, up), lambda v: v == "0.0") == "0.0"
        # Now every read is the primary's, with a token or without.
        result = write_then_read(site, 50, path="anonymous")
        token = write_then_read(site, 50, path="token")
    finally:
        cluster.replica.query("START SLAVE SQL_THREAD")
    MEASURED["SQL thread stopped and noticed: stale (no token, token)"] = (
        f"{result.stale}, {token.stale}"
    )
    assert result.errors == [] and token.errors == []
    assert result.stale == 0 and token.stale == 0
    assert _wait_for(lambda: _replica_state(site), lambda s: s == "ok") == "ok"
    assert _wait_for(lambda: _metric(site, up), lambda v: v == "1.0") == "1.0"


def test_a_killed_replica_leaves_reads_to_the_primary_and_gets_them_back(
    cluster: Cluster, site: Site
) -> None:
    with site.client() as client:
        article_id, _ = publish(client, site, "survives")
        cluster.caught_up()
        assert client.get(f"/articles/{article_id}").status_code == 200
        cluster.replica.kill()
        try:
            answers = [client.get(f"/articles/{article_id}").status_code for _ in range(100)]
            answers += [client.get("/articles/").status_code for _ in range(20)]
            assert answers == [200] * 120
            ready = client.get("/readyz")
            assert ready.status_code == 200
            assert ready.json()["replicas"][0]["state"] == "down"
            # Written while it is down; it catches up when it comes back.
            publish(client, site, "while down")
        finally:
            restarted = time.monotonic()
            cluster.replica.start()
        # Reads go back to it once a check finds it well again.
        deadline = time.monotonic() + 30
        returned = None
        while time.monotonic() < deadline:
            before = cluster.replica.counter("Com_select")
            assert client.get(f"/articles/{article_id}").status_code == 200
            if cluster.replica.counter("Com_select") > before:
                returned = time.monotonic() - restarted
                break
            time.sleep(0.02)
    MEASURED["killed replica: 5xx answers"] = sum(code >= 500 for code in answers)
    MEASURED["restarted replica: seconds until reads return to it"] = (
        None if returned is None else round(returned, 2)
    )
    assert returned is not None, "reads did not return to the restarted replica"
    cluster.caught_up()


def test_a_write_transaction_stays_on_the_primary_unlike_a_per_statement_router(
    cluster: Cluster, site: Site
) -> None:
    """The common recipe routes each statement (writes and flushes to the primary, any
    SELECT to a replica); ours binds the unit of work once, to the primary."""
    database = site.database
    replica_engine = database.replicas.replicas[0].sessions  # type: ignore[union-attr]

    class PerStatementRouter(Session):
        def get_bind(self, mapper: Any = None, clause: Any = None, **kw: Any) -> Engine:
            if self._flushing or isinstance(clause, (Insert, Update, Delete)):
                return database.engine
            return replica_engine

    slug = f"router-{time.monotonic_ns()}"
    for_update = select(Tag).where(Tag.slug == slug).with_for_update()
    # The recipe: FOR UPDATE goes to the replica, and the session's own flushed row
    # is missing from its next SELECT (the replica has not got it, uncommitted).
    with PerStatementRouter() as naive:
        replica_before = cluster.replica.counter("Com_select")
        naive.execute(for_update)  # no lock on the primary: it ran on the replica
        naive_locks_on_replica = cluster.replica.counter("Com_select") - replica_before
        naive.add(Tag(name=slug, slug=slug))
        naive.flush()
        assert naive.scalars(select(Tag).where(Tag.slug == slug)).first() is None
        naive.rollback()
    assert naive_locks_on_replica >= 1
    # Ours, inside a request that may read from replicas: one primary connection for the
    # whole transaction, FOR UPDATE included, and the flushed row is there.
    seen: dict[str, object] = {}

    class Discard(Exception):
        """Roll the unit of work back: nothing of this test is kept."""

    def work(uow: Any) -> None:
        session = uow.session
        seen["before"] = session.execute(text("SELECT @@server_id")).scalar_one()
        session.add(Tag(name=slug, slug=slug))
        session.flush()
        seen["found"] = session.scalars(for_update).first() is not None
        seen["after"] = session.execute(text("SELECT @@server_id")).scalar_one()
        raise Discard

    route = ROUTE.set(ReadRoute(replica=True))
    try:
        # A read of this request, before any write, is the replica's.
        server = database.read(lambda c: c.execute(text("SELECT @@server_id")).scalar_one())
        replica_before = cluster.replica.counter("Com_select")
        with pytest.raises(Discard):
            database.run(work)
        ours_on_replica = cluster.replica.counter("Com_select") - replica_before
    finally:
        ROUTE.reset(route)
    assert server == 2
    assert ours_on_replica == 0
    assert seen == {"before": 1, "found": True, "after": 1}


def test_a_forged_token_is_refused(site: Site) -> None:
    with site.client() as client:
        forged = sign_position("0-1-999999999", "another-key-" + "y" * 40)
        response = client.get("/articles/", headers={CONSISTENCY_HEADER: forged})
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["header", "x-consistency-token"]
        injected = client.get(
            "/articles/", headers={CONSISTENCY_HEADER: "0-1-1', 0); DROP TABLE tags; --"}
        )
        assert injected.status_code == 422
        genuine = sign_position("0-1-1", TEST_SECRET_KEY)
        assert client.get("/articles/", headers={CONSISTENCY_HEADER: genuine}).status_code == 200


def _replica_state(site: Site) -> str:
    return str(httpx.get(f"{site.server.url}/readyz").json()["replicas"][0]["state"])


def _metric(site: Site, series: str) -> str:
    """The value of one series on /metrics (empty when it is not there)."""
    for line in httpx.get(f"{site.server.url}/metrics").text.splitlines():
        if line.startswith(series + " "):
            return line.split()[-1]
    return ""


def _wait_for(get: Callable[[], str], done: Callable[[str], bool], seconds: float = 20) -> str:
    deadline = time.monotonic() + seconds
    value = get()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(0.05)
        value = get()
    return value


def test_the_back_office_reads_its_own_writes_from_the_signed_session(cluster: Cluster) -> None:
    """The back office keeps its last write's position in the signed session: its pages
    read from the replica once it has that write, from the primary when it lags."""
    with serving(cluster, replica_check_seconds=60) as site:
        with site.client() as api:
            publish(api, site, "Before the stop")
            cluster.caught_up()
            assert api.get("/readyz").json()["replicas"][0]["state"] == "ok"
        with site.client() as browser:
            # Signing in writes (a staff session): the position goes into the cookie.
            assert admin_login(browser, site.email).status_code == 302
            assert is_valid_position(_session(browser).get("gtid"))
            before = cluster.replica.counter("Com_select")
            page = browser.get("/admin/article/list")
            assert page.status_code == 200 and "Before the stop" in page.text
            assert cluster.replica.counter("Com_select") > before
        cluster.replica.query("STOP SLAVE SQL_THREAD")
        try:
            with site.client() as api:
                publish(api, site, "Behind the replica")
            with site.client() as browser:
                assert admin_login(browser, site.email).status_code == 302
                started = time.monotonic()
                page = browser.get("/admin/article/list")
                MEASURED["back office, SQL thread stopped: list page seconds"] = round(
                    time.monotonic() - started, 3
                )
                assert page.status_code == 200
                assert "Behind the replica" in page.text
        finally:
            cluster.replica.query("START SLAVE SQL_THREAD")
    cluster.caught_up()


def _session(client: httpx.Client) -> dict[str, Any]:
    """The back office's session as its signed cookie carries it."""
    cookie = client.cookies["cms_admin"]
    payload = cookie.split(".")[0]
    decoded: dict[str, Any] = json.loads(base64.b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded
