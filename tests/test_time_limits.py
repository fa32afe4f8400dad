"""Reads are bounded in time by the database itself; writes and the command line are not."""

import logging
import socket
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Connection, text
from sqlalchemy.exc import OperationalError

from cms.app import create_app
from cms.db import Database, is_statement_timeout
from cms.deps import ReadSession
from tests.conftest import BACKEND, LiveServer, make_settings

LIMIT = 0.3
# Runs far longer than LIMIT on each backend (seconds on SQLite, SLEEP on MariaDB), and
# ends by itself when nothing stops it.
SLOW = {
    "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
    "WHERE x < 5000000) SELECT count(*) FROM c",
    "mariadb": "SELECT SLEEP(3)",
}[BACKEND]
UNSTOPPED = {"sqlite": 5000000, "mariadb": 0}[BACKEND]


@pytest.fixture
def bounded(database_url: str) -> Iterator[Database]:
    database = Database(database_url, read_time_limit=LIMIT)
    yield database
    database.dispose()


def _stopped(run: Callable[[], object]) -> float:
    started = time.monotonic()
    with pytest.raises(OperationalError) as raised:
        run()
    assert is_statement_timeout(raised.value), raised.value
    return time.monotonic() - started


def test_a_read_that_runs_past_the_limit_is_stopped(
    bounded: Database, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="cms.db"):
        took = _stopped(lambda: bounded.read(lambda c: c.execute(text(SLOW)).scalar()))
    # Stopped near the limit, not after the statement's own seconds.
    assert took < 2.5
    # The log says which statement it was.
    assert any(
        "past its time limit" in r.getMessage() and SLOW[:20] in r.getMessage()
        for r in caplog.records
    )


def test_orm_read_sessions_are_bounded_too(bounded: Database) -> None:
    def slow_in_a_session() -> object:
        with bounded.reading() as session:
            return session.execute(text(SLOW)).scalar()

    _stopped(slow_in_a_session)
    with bounded.read_sessionmaker() as session, pytest.raises(OperationalError):
        session.execute(text(SLOW))


def test_the_connection_serves_the_next_read_after_a_stop(bounded: Database) -> None:
    for _ in range(3):
        _stopped(lambda: bounded.read(lambda c: c.execute(text(SLOW)).scalar()))
        assert bounded.read(lambda c: c.execute(text("SELECT 1")).scalar()) == 1


def test_writes_exports_and_an_unlimited_database_are_not_cut_off(
    bounded: Database, database_url: str
) -> None:
    with bounded.unit_of_work() as unit:
        assert unit.session.execute(text(SLOW)).scalar() == UNSTOPPED
    with bounded.reading(bounded=False) as session:
        assert session.execute(text(SLOW)).scalar() == UNSTOPPED
    unlimited = Database(database_url)  # the command line's
    try:
        assert unlimited.read(lambda c: c.execute(text(SLOW)).scalar()) == UNSTOPPED
    finally:
        unlimited.dispose()


def test_only_selects_carry_the_limit(bounded: Database) -> None:
    """A limited connection still runs other statements unchanged (no prefix is added
    to them, which MariaDB would refuse for some)."""

    def work(connection: Connection) -> list[object]:
        connection.execute(text("CREATE TEMPORARY TABLE scratch (n INTEGER)"))
        connection.execute(text("INSERT INTO scratch (n) VALUES (1), (2)"))
        return list(connection.execute(text("SELECT n FROM scratch ORDER BY n")).scalars())

    assert bounded.read(work) == [1, 2]


def _app_with_a_slow_read(database_url: str) -> FastAPI:
    app = create_app(make_settings(database_url, read_statement_timeout=LIMIT))

    @app.get("/slow-core")
    def slow_core() -> object:
        database: Database = app.state.database
        return database.read(lambda c: c.execute(text(SLOW)).scalar())

    @app.get("/slow-orm")
    def slow_orm(session: ReadSession) -> object:
        return session.execute(text(SLOW)).scalar()

    return app


def test_the_api_answers_503_with_retry_after_when_a_read_is_stopped(database_url: str) -> None:
    with (
        LiveServer(_app_with_a_slow_read(database_url)) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        for path in ("/slow-core", "/slow-orm"):
            started = time.monotonic()
            response = client.get(path)
            assert time.monotonic() - started < 2.5
            assert response.status_code == 503, response.text
            assert response.headers["Retry-After"] == "5"
            assert "took too long" in response.json()["detail"]
        # The server goes on answering.
        assert client.get("/articles/").status_code == 200


def test_the_limit_is_a_setting_with_a_clear_error() -> None:
    with pytest.raises(ValueError, match="read_statement_timeout"):
        make_settings("sqlite://", read_statement_timeout=-1)


# The statement of a request whose client leaves, then stops waiting: a full minute on
# its own, unless it is stopped.
LONG = {
    "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
    "WHERE x < 1000000000) SELECT count(*) FROM c",
    "mariadb": "SELECT SLEEP(60)",
}[BACKEND]


def test_a_client_that_leaves_stops_its_running_statement(database_url: str) -> None:
    """The read's statement ends within moments of the client closing its connection,
    long before either the time limit or the statement itself would end it."""
    app = create_app(make_settings(database_url, read_statement_timeout=120))
    ended: list[tuple[float, str]] = []

    @app.get("/long")
    def long_read() -> object:
        database: Database = app.state.database
        try:
            result = database.read(lambda c: c.execute(text(LONG)).scalar())
        except OperationalError as exc:
            ended.append((time.monotonic(), str(exc.orig)))
            raise
        # MariaDB's SLEEP() stopped by KILL QUERY returns 1 instead of failing.
        ended.append((time.monotonic(), f"returned {result}"))
        return result

    with LiveServer(app) as server:
        with socket.create_connection(("127.0.0.1", server.port)) as client:
            client.sendall(b"GET /long HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            time.sleep(0.5)  # the statement is running
        left = time.monotonic()
        deadline = left + 20
        while not ended and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ended, "the statement went on after its client left"
        assert ended[0][0] - left < 10
        assert "interrupted" in ended[0][1] or ended[0][1] == "returned 1", ended
        # The server and its pool go on serving.
        with httpx.Client(base_url=server.url, timeout=30) as api:
            assert api.get("/articles/").status_code == 200


def test_a_client_that_waits_gets_its_answer(database_url: str) -> None:
    """Listening for a disconnect changes nothing for a client that stays."""
    with (
        LiveServer(create_app(make_settings(database_url))) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        for _ in range(20):
            assert client.get("/articles/").status_code == 200
        assert client.get("/feed.xml").status_code == 200
