"""Two-factor helpers: enrol a user through the service as the account page does, and
compute their codes the way an authenticator app would."""

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pyotp
import pytest

from cms.actors import Origin
from cms.config import Settings
from cms.db import Database
from cms.twofactor import service as twofactor
from cms.users.models import User
from tests.conftest import LiveServer
from tests.mail_server import mail_worker, smtp  # noqa: F401 (fixtures)

ORIGIN = Origin(surface="admin", address="127.0.0.1")


@dataclass
class Enrolled:
    user: User
    secret: str
    recovery_codes: list[str]

    def code(self, steps_ahead: int = 1) -> str:
        """A code the server accepts once: the next step's (within the allowed drift, and
        later than the step the last accepted code was of)."""
        return pyotp.TOTP(self.secret).at(time.time(), counter_offset=steps_ahead)


Enrol = Callable[[User], Enrolled]


@pytest.fixture
def enrol(database: Database, settings: Settings) -> Enrol:
    def enrolled(user: User) -> Enrolled:
        secret = database.run(
            twofactor.BeginEnrolment(site_key=settings.secret), actor=user, origin=ORIGIN
        )
        codes = database.run(
            twofactor.ConfirmEnrolment(code=pyotp.TOTP(secret).now(), site_key=settings.secret),
            actor=user,
            origin=ORIGIN,
        )
        return Enrolled(user, secret, codes)

    return enrolled


@pytest.fixture
def browser(live_server: LiveServer, database: Database) -> Iterator[httpx.Client]:
    """A cookie-keeping HTTP client, like a browser without JavaScript."""
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        yield client
