"""``POST /auth/token`` for accounts with two-factor sign-in: the code is required too."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pyotp
from sqlalchemy import select

from cms.audit.models import AuditEntry
from cms.db import Database
from cms.roles import Role
from cms.twofactor import service as twofactor
from cms.twofactor.models import RecoveryCode, TwoFactorCredential
from tests.conftest import DEFAULT_PASSWORD, LiveServer, UserFactory
from tests.twofactor.conftest import ORIGIN, Enrol


def token(api: httpx.Client, email: str, otp: str | None = None) -> httpx.Response:
    data = {"username": email, "password": DEFAULT_PASSWORD}
    if otp is not None:
        data["otp"] = otp
    return api.post("/auth/token", data=data)


def actions(database: Database, user_id: int) -> list[str]:
    with database.sessionmaker() as session:
        return list(
            session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.object_type == "user", AuditEntry.object_id == user_id)
                .order_by(AuditEntry.id)
            )
        )


def test_a_user_without_two_factor_gets_a_token_with_the_password_alone(
    api: httpx.Client, make_user: UserFactory
) -> None:
    user = make_user()
    assert token(api, user.email).status_code == 200


def test_a_token_needs_the_code_and_says_so_when_it_is_missing(
    api: httpx.Client, make_user: UserFactory, enrol: Enrol, database: Database
) -> None:
    enrolled = enrol(make_user())
    missing = token(api, enrolled.user.email)
    assert missing.status_code == 401
    assert "two factors" in missing.json()["detail"] and "otp" in missing.json()["detail"]

    wrong = token(api, enrolled.user.email, otp="000000" if enrolled.code() != "000000" else "1")
    assert wrong.status_code == 401
    assert wrong.json()["detail"] == "Incorrect two-factor code"

    right = token(api, enrolled.user.email, otp=enrolled.code())
    assert right.status_code == 200, right.text
    me = api.get("/users/me", headers={"Authorization": f"Bearer {right.json()['access_token']}"})
    assert me.status_code == 200 and me.json()["id"] == enrolled.user.id
    # Nothing counts as a sign-in until the code: each password is only "accepted".
    assert actions(database, enrolled.user.id) == [
        "two_factor_enrol",
        "password_accepted",
        "password_accepted",
        "two_factor_failed",
        "password_accepted",
        "login",
    ]


def test_a_wrong_password_is_refused_before_any_code_is_looked_at(
    api: httpx.Client, make_user: UserFactory, enrol: Enrol
) -> None:
    enrolled = enrol(make_user())
    response = api.post(
        "/auth/token",
        data={"username": enrolled.user.email, "password": "not it", "otp": enrolled.code()},
    )
    assert response.status_code == 401
    assert response.json()["detail"] == "Incorrect email or password"
    # The code was not spent: it still works with the right password.
    assert token(api, enrolled.user.email, otp=enrolled.code()).status_code == 200


def test_a_code_works_once(api: httpx.Client, make_user: UserFactory, enrol: Enrol) -> None:
    enrolled = enrol(make_user())
    code = enrolled.code()
    assert token(api, enrolled.user.email, otp=code).status_code == 200
    again = token(api, enrolled.user.email, otp=code)
    assert again.status_code == 401
    # The code the enrolment was confirmed with is spent too.
    current = pyotp.TOTP(enrolled.secret).at(time.time(), counter_offset=-1)
    assert token(api, enrolled.user.email, otp=current).status_code == 401


def test_a_recovery_code_works_once_and_is_audited(
    api: httpx.Client, make_user: UserFactory, enrol: Enrol, database: Database
) -> None:
    enrolled = enrol(make_user())
    first, second = enrolled.recovery_codes[:2]
    assert token(api, enrolled.user.email, otp=first.upper()).status_code == 200
    assert token(api, enrolled.user.email, otp=first).status_code == 401
    assert token(api, enrolled.user.email, otp=second.replace("-", " ")).status_code == 200
    with database.sessionmaker() as session:
        assert twofactor.remaining_recovery_codes(session, enrolled.user.id) == 8
    assert actions(database, enrolled.user.id).count("recovery_code_used") == 2


def test_wrong_codes_are_throttled_like_passwords(
    api: httpx.Client, make_user: UserFactory, enrol: Enrol
) -> None:
    enrolled = enrol(make_user())
    right = enrolled.code()
    wrong = "123456" if right != "123456" else "654321"
    answers = [token(api, enrolled.user.email, otp=wrong).status_code for _ in range(6)]
    assert answers == [401] * 5 + [429]
    refused = token(api, enrolled.user.email, otp=right)
    assert refused.status_code == 429 and "Retry-After" in refused.headers


def test_the_policy_refuses_tokens_to_staff_who_have_not_set_up_a_second_factor(
    api: httpx.Client, make_user: UserFactory, database: Database, enrol: Enrol
) -> None:
    admin = make_user(role=Role.ADMIN)
    editor = make_user(role=Role.EDITOR)
    author = make_user()
    database.run(twofactor.SetTwoFactorPolicy(required_for="staff"), actor=admin, origin=ORIGIN)
    refused = token(api, editor.email)
    assert refused.status_code == 401 and "back office" in refused.json()["detail"]
    assert token(api, author.email).status_code == 200  # authors are not staff
    enrolled = enrol(editor)
    assert token(api, editor.email, otp=enrolled.code()).status_code == 200


def test_the_secret_is_stored_sealed_not_in_base32(
    make_user: UserFactory, enrol: Enrol, database: Database
) -> None:
    enrolled = enrol(make_user())
    with database.sessionmaker() as session:
        stored = session.get(TwoFactorCredential, enrolled.user.id)
        digests = session.scalars(
            select(RecoveryCode.digest).where(RecoveryCode.user_id == enrolled.user.id)
        ).all()
    assert stored is not None and stored.secret is not None
    assert enrolled.secret not in stored.secret and stored.secret.startswith("v1:")
    assert len(digests) == 10
    for code in enrolled.recovery_codes:
        assert all(code not in digest and code.replace("-", "") not in digest for digest in digests)


def test_one_code_sent_in_several_requests_at_once_gets_one_token(
    live_server: LiveServer, make_user: UserFactory, enrol: Enrol
) -> None:
    enrolled = enrol(make_user())
    code = enrolled.code()
    data = {"username": enrolled.user.email, "password": DEFAULT_PASSWORD, "otp": code}
    start = threading.Barrier(4)

    def attempt(_: int) -> int:
        with httpx.Client(base_url=live_server.url, timeout=30) as client:
            start.wait()
            return client.post("/auth/token", data=data).status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = sorted(pool.map(attempt, range(4)))
    assert answers == [200, 401, 401, 401]
