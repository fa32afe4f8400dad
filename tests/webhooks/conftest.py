"""A webhook receiver on loopback that records what it is sent and answers as told, and
a dispatcher wired to the test database."""

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cms.db import Database, utcnow
from cms.roles import Role
from cms.webhooks import service
from cms.webhooks.dispatcher import Dispatcher
from tests.conftest import TEST_SECRET_KEY, UserFactory


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.time)  # when it arrived (wall clock)


@dataclass
class Receiver:
    """Records each POST; answers with the next of ``answers`` (then 200 for ever)."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    answers: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self) -> tuple[int, dict[str, str]]:
        with self.lock:
            return self.answers.pop(0) if self.answers else (200, {})

    def record(self, item: Received) -> None:
        with self.lock:
            self.received.append(item)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as state:
        yield state


@contextmanager
def receiving() -> Iterator[Receiver]:
    """A :class:`Receiver` served on a loopback port while the block runs."""
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            state.record(Received(self.path, dict(self.headers.items()), body))
            status, headers = state.answer()
            payload = b"ok" if status < 300 else b"no"
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *_args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        # Two dispatchers connect 16 at a time; the default backlog of 5 would refuse some.
        request_queue_size = 128

    server = Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


class ScaledClock:
    """UTC time that runs ``scale`` times faster than the wall clock, from now."""

    def __init__(self, scale: float) -> None:
        self.start = utcnow()
        self.began = time.monotonic()
        self.scale = scale
        self.offset = timedelta()

    def __call__(self) -> datetime:
        elapsed = (time.monotonic() - self.began) * self.scale
        return self.start + timedelta(seconds=elapsed) + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


DispatcherFactory = Callable[..., Dispatcher]


@pytest.fixture
def make_dispatcher(database: Database) -> Iterator[DispatcherFactory]:
    made: list[Dispatcher] = []

    def factory(**options: object) -> Dispatcher:
        values: dict[str, object] = {
            "site_key": TEST_SECRET_KEY,
            "allow_private": True,
            "timeout": 5.0,
            **options,
        }
        db = values.pop("database", database)
        dispatcher = Dispatcher(db, **values)  # type: ignore[arg-type]
        made.append(dispatcher)
        return dispatcher

    yield factory
    for dispatcher in made:
        dispatcher.close()


EndpointFactory = Callable[..., service.NewEndpoint]


@pytest.fixture
def add_endpoint(database: Database, make_user: UserFactory) -> EndpointFactory:
    admin = make_user(role=Role.ADMIN)

    def factory(url: str, *events: str) -> service.NewEndpoint:
        added: service.NewEndpoint = database.run(
            service.AddEndpoint(
                url=url, events=events, site_key=TEST_SECRET_KEY, allow_private=True
            ),
            actor=admin,
        )
        return added

    return factory


def drain(dispatcher: Dispatcher, until: Callable[[], bool], *, seconds: float = 30) -> None:
    """Run rounds until ``until()`` holds (failing after ``seconds``)."""
    deadline = time.monotonic() + seconds
    while not until():
        if time.monotonic() > deadline:
            raise AssertionError("the dispatcher did not get there in time")
        if not dispatcher.run_once():
            time.sleep(0.002)
