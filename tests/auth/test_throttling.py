"""Limits on guessing passwords and minting accounts, attacked the way attackers do:
from one client across many accounts, from many clients at one account, all at once.

A server that trusts 127.0.0.1 as its reverse proxy lets each test speak as any client
address through ``X-Forwarded-For``.
"""

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from cms.asgi import build_app
from tests.conftest import DEFAULT_PASSWORD, LiveServer, UserFactory, make_settings

PER_ACCOUNT_AND_CLIENT = 5
PER_CLIENT = 12
PER_ACCOUNT = 20
SIGNUPS_PER_CLIENT = 3


@pytest.fixture(scope="module")
def proxied(database_url: str) -> Iterator[LiveServer]:
    settings = make_settings(
        database_url,
        trusted_proxies="127.0.0.1",
        login_max_failures=PER_ACCOUNT_AND_CLIENT,
        login_max_failures_per_client=PER_CLIENT,
        login_max_failures_per_account=PER_ACCOUNT,
        signup_max_per_client=SIGNUPS_PER_CLIENT,
    )
    with LiveServer(build_app(settings)) as server:
        yield server


@pytest.fixture
def client(proxied: LiveServer, database: object) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=proxied.url, timeout=60) as http:
        yield http


def attempt(client: httpx.Client, email: str, password: str, address: str) -> httpx.Response:
    return client.post(
        "/auth/token",
        data={"username": email, "password": password},
        headers={"X-Forwarded-For": address},
    )


def test_a_lockout_from_one_client_leaves_the_account_open_to_others(
    client: httpx.Client, make_user: UserFactory
) -> None:
    victim = make_user()
    for _ in range(PER_ACCOUNT_AND_CLIENT):
        assert attempt(client, victim.email, "wrong guess", "203.0.113.7").status_code == 401
    locked = attempt(client, victim.email, DEFAULT_PASSWORD, "203.0.113.7")
    assert locked.status_code == 429
    assert 1 <= int(locked.headers["retry-after"]) <= 300
    # The real user, somewhere else, signs in as usual.
    assert attempt(client, victim.email, DEFAULT_PASSWORD, "198.51.100.20").status_code == 200


def test_one_client_spraying_guesses_over_many_accounts_is_stopped(
    client: httpx.Client, make_user: UserFactory
) -> None:
    accounts = [make_user() for _ in range(6)]
    codes = Counter(
        attempt(client, user.email, "wrong guess", "203.0.113.8").status_code
        for _ in range(4)
        for user in accounts
    )
    assert codes == {401: PER_CLIENT, 429: 24 - PER_CLIENT}
    # Only that client is stopped.
    assert attempt(client, accounts[0].email, DEFAULT_PASSWORD, "198.51.100.21").status_code == 200


def test_many_clients_at_one_account_meet_the_accounts_ceiling(
    client: httpx.Client, make_user: UserFactory
) -> None:
    victim = make_user()
    codes = Counter(
        attempt(client, victim.email, "wrong guess", f"203.0.113.{n}").status_code
        for n in range(100, 100 + PER_ACCOUNT + 5)
    )
    assert codes == {401: PER_ACCOUNT, 429: 5}


def test_a_success_forgives_that_clients_failures(
    client: httpx.Client, make_user: UserFactory
) -> None:
    user = make_user()
    for _ in range(2):
        for _ in range(PER_ACCOUNT_AND_CLIENT - 1):
            assert attempt(client, user.email, "typo", "192.0.2.50").status_code == 401
        assert attempt(client, user.email, DEFAULT_PASSWORD, "192.0.2.50").status_code == 200


def test_refusals_never_tell_whether_an_email_has_an_account(
    client: httpx.Client, make_user: UserFactory
) -> None:
    real = make_user()
    answers = {}
    for email in (real.email, "nobody-here@example.com"):
        for _ in range(PER_ACCOUNT_AND_CLIENT):
            attempt(client, email, "wrong guess", "192.0.2.60")
        locked = attempt(client, email, "wrong guess", "192.0.2.60")
        answers[email] = (locked.status_code, locked.json())
    assert answers[real.email] == answers["nobody-here@example.com"]
    assert answers[real.email][0] == 429


def test_simultaneous_wrong_guesses_are_each_counted_and_none_fails(
    proxied: LiveServer, make_user: UserFactory, database: object
) -> None:
    """30 guesses released at once: exactly the limit is checked, the rest refused, and
    no request fails on a deadlock (InnoDB once answered 14 of 30 with 503)."""
    victim = make_user()

    def guess(_: int) -> int:
        with httpx.Client(base_url=proxied.url, timeout=60) as http:
            return attempt(http, victim.email, "wrong guess", "203.0.113.250").status_code

    with ThreadPoolExecutor(30) as pool:
        codes = Counter(pool.map(guess, range(30)))
    assert codes == {401: PER_ACCOUNT_AND_CLIENT, 429: 30 - PER_ACCOUNT_AND_CLIENT}


def test_one_client_cannot_mint_accounts_by_the_thousand(client: httpx.Client) -> None:
    def sign_up(number: int, address: str) -> httpx.Response:
        return client.post(
            "/users/",
            json={"email": f"bulk{number}.{address}@example.com", "password": "long enough"},
            headers={"X-Forwarded-For": address},
        )

    codes = [sign_up(n, "203.0.113.9").status_code for n in range(SIGNUPS_PER_CLIENT + 2)]
    assert codes == [201] * SIGNUPS_PER_CLIENT + [429, 429]
    refused = sign_up(99, "203.0.113.9")
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
    assert sign_up(100, "198.51.100.30").status_code == 201


def test_a_token_of_ones_own_does_not_lift_the_sign_up_limit(
    client: httpx.Client, make_user: UserFactory
) -> None:
    member = make_user()
    token = attempt(client, member.email, DEFAULT_PASSWORD, "203.0.113.77").json()["access_token"]

    def sign_up(number: int) -> int:
        return client.post(
            "/users/",
            json={"email": f"minted{number}@example.com", "password": "long enough"},
            headers={"X-Forwarded-For": "203.0.113.77", "Authorization": f"Bearer {token}"},
        ).status_code

    codes = [sign_up(n) for n in range(SIGNUPS_PER_CLIENT + 2)]
    assert codes == [201] * SIGNUPS_PER_CLIENT + [429, 429]


def test_an_ipv6_client_is_counted_by_its_64_network(
    client: httpx.Client, make_user: UserFactory
) -> None:
    """A subscriber usually holds a whole /64: each of its addresses is the same client."""
    victim = make_user()
    codes = [
        attempt(client, victim.email, "wrong", f"2001:db8:1:2::{number:x}").status_code
        for number in range(1, PER_ACCOUNT_AND_CLIENT + 3)
    ]
    assert codes == [401] * PER_ACCOUNT_AND_CLIENT + [429, 429]
    # Another /64 is another client.
    assert attempt(client, victim.email, DEFAULT_PASSWORD, "2001:db8:1:3::1").status_code == 200


def test_the_current_password_cannot_be_guessed_through_a_token(
    client: httpx.Client, make_user: UserFactory
) -> None:
    """A stolen token (or an unattended browser) is not a way to guess the password."""
    owner = make_user()
    token = attempt(client, owner.email, DEFAULT_PASSWORD, "203.0.113.88").json()["access_token"]

    def change(current: str) -> httpx.Response:
        return client.patch(
            f"/users/{owner.id}",
            json={"password": "a brand new one", "current_password": current},
            headers={"X-Forwarded-For": "203.0.113.88", "Authorization": f"Bearer {token}"},
        )

    codes = [change(f"guess {n}").status_code for n in range(PER_ACCOUNT_AND_CLIENT + 1)]
    assert codes == [422] * PER_ACCOUNT_AND_CLIENT + [429]
    # Even the right one waits now: the limit is on checking, not on being wrong.
    assert change(DEFAULT_PASSWORD).status_code == 429


def test_forwarded_for_is_ignored_unless_a_proxy_is_trusted(
    api: httpx.Client, make_user: UserFactory
) -> None:
    """Without CMS_TRUSTED_PROXIES anyone could claim any address and dodge the limits."""
    user = make_user()
    for n in range(5):  # the default test server allows 5 per account and client
        response = api.post(
            "/auth/token",
            data={"username": user.email, "password": "wrong"},
            headers={"X-Forwarded-For": f"10.0.0.{n}"},
        )
        assert response.status_code == 401
    spoofed = api.post(
        "/auth/token",
        data={"username": user.email, "password": DEFAULT_PASSWORD},
        headers={"X-Forwarded-For": "10.9.9.9"},
    )
    assert spoofed.status_code == 429
