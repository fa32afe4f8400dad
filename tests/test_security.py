"""The password hashing hook and tokens, below every surface."""

from collections.abc import Iterator
from datetime import timedelta

import bcrypt
import pytest
from passlib.context import CryptContext

from cms import security
from cms.errors import InvalidInput
from cms.users.models import User


@pytest.fixture(autouse=True)
def _production_hashing() -> Iterator[None]:
    """These tests pin the parameters a real installation hashes with."""
    security.configure_hashing(security.ARGON2_PARAMETERS)
    yield
    security.configure_hashing(security.CHEAP_ARGON2_PARAMETERS)


def test_hash_is_argon2id_at_owasp_parameters() -> None:
    hashed = security.hash_password("a reasonable password")
    assert hashed.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert security.verify_password("a reasonable password", hashed) == (True, None)
    assert security.verify_password("another password", hashed) == (False, None)


def test_setting_a_password_on_the_model_stores_only_a_hash_and_revokes_tokens() -> None:
    user = User(email="a@example.com", session_version=3)
    user.set_password("pässwörd🙂 with emoji")
    assert user.hashed_password.startswith("$argon2id$")
    assert "pässwörd" not in user.hashed_password
    assert user.session_version == 4
    assert security.verify_password("pässwörd🙂 with emoji", user.hashed_password)[0]


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("", "at least 8"),
        ("1234567", "at least 8"),
        ("x" * 257, "at most 256"),
        ("nul\x00byte-password", "NUL"),
    ],
)
def test_unacceptable_passwords_are_refused_with_a_reason(password: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as raised:
        security.hash_password(password)
    assert raised.value.field == "password"


def test_passwords_beyond_bcrypts_72_bytes_are_hashed_whole() -> None:
    password = "ü" * 128  # 256 bytes of UTF-8
    hashed = security.hash_password(password)
    assert security.verify_password(password, hashed)[0]
    assert not security.verify_password(password[:-1], hashed)[0]


def test_bcrypt_hashes_verify_and_ask_for_an_upgrade() -> None:
    legacy = bcrypt.hashpw(b"old password", bcrypt.gensalt(rounds=4)).decode()
    matches, new_hash = security.verify_password("old password", legacy)
    assert matches
    assert new_hash is not None and new_hash.startswith("$argon2id$")
    assert security.verify_password("wrong", legacy) == (False, None)


def test_weaker_argon2_parameters_ask_for_an_upgrade() -> None:
    weak = CryptContext(schemes=["argon2"], argon2__memory_cost=1024, argon2__time_cost=1)
    matches, new_hash = security.verify_password("some password", weak.hash("some password"))
    assert matches and new_hash is not None and "m=19456" in new_hash


def test_a_missing_hash_still_runs_a_verification(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unknown emails cost as much as wrong passwords: the dummy hash is checked."""
    calls: list[str] = []
    original = security.password_context.verify_and_update

    def counting(secret: str, hashed: str) -> tuple[bool, str | None]:
        calls.append(hashed)
        return original(secret, hashed)  # type: ignore[no-any-return]

    monkeypatch.setattr(security.password_context, "verify_and_update", counting)
    assert security.verify_password("whatever password", None) == (False, None)
    assert calls == [security.dummy_hash()]


def test_over_long_password_against_bcrypt_is_false_not_an_error() -> None:
    legacy = bcrypt.hashpw(b"old password", bcrypt.gensalt(rounds=4)).decode()
    assert security.verify_password("x" * 200, legacy) == (False, None)
    assert security.verify_password("x" * 10_000, legacy) == (False, None)


def test_tokens_round_trip_and_reject_tampering_and_expiry() -> None:
    token = security.create_access_token(
        user_id=7, session_version=2, secret_key="k" * 40, expires_in=timedelta(minutes=5)
    )
    assert security.decode_access_token(token, secret_key="k" * 40) == (7, 2)
    assert security.decode_access_token(token, secret_key="other" * 10) is None
    assert security.decode_access_token(token[:-2] + "xx", secret_key="k" * 40) is None
    expired = security.create_access_token(
        user_id=7, session_version=2, secret_key="k" * 40, expires_in=timedelta(seconds=-1)
    )
    assert security.decode_access_token(expired, secret_key="k" * 40) is None
