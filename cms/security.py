"""Password hashing and access tokens: the only module that touches either.

Hashes: argon2id at OWASP's recommended parameters (19 MiB, 2 passes, 1 lane). bcrypt
hashes from older systems still verify and are replaced by argon2id on the next
successful login (``verify_password`` returns the new hash).
"""

from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import jwt
from passlib.context import CryptContext

from cms.fields import PASSWORD_MAX_LENGTH, Password, validated

# OWASP's recommendation for argon2id: 19 MiB, 2 passes, 1 lane.
ARGON2_PARAMETERS = {"memory_cost": 19 * 1024, "time_cost": 2, "parallelism": 1}


def _context(memory_cost: int, time_cost: int, parallelism: int) -> CryptContext:
    return CryptContext(
        schemes=["argon2", "bcrypt"],
        deprecated="auto",
        argon2__type="ID",
        argon2__memory_cost=memory_cost,
        argon2__time_cost=time_cost,
        argon2__parallelism=parallelism,
    )


password_context = _context(**ARGON2_PARAMETERS)


# argon2id at its minimum cost (8 KiB, 1 pass): for the test suite only.
CHEAP_ARGON2_PARAMETERS = {"memory_cost": 8, "time_cost": 1, "parallelism": 1}


def configure_hashing(parameters: dict[str, int]) -> None:
    """Hash new passwords with these argon2id parameters in this process.

    Only the test suite calls this (with :data:`CHEAP_ARGON2_PARAMETERS`), to keep
    thousands of hashes fast; the production parameters have tests of their own.
    """
    global password_context
    password_context = _context(**parameters)
    dummy_hash.cache_clear()


@cache
def dummy_hash() -> str:
    """Verified against when the email is unknown, so that answer takes as long as a wrong
    password and response time does not reveal which emails have accounts. Made on first
    use, not at import."""
    return str(password_context.hash("dummy password that no account has"))


TOKEN_ALGORITHM = "HS256"  # noqa: S105 (an algorithm name, not a secret)


def hash_password(password: str) -> str:
    """The argon2id hash of ``password``, refused (:class:`InvalidInput`) unless it is
    acceptable as a new password."""
    return str(password_context.hash(validated(Password, "password", password)))


def verify_password(password: str, hashed: str | None) -> tuple[bool, str | None]:
    """Check ``password`` against ``hashed``.

    Returns ``(matches, new_hash)``; ``new_hash`` is set when the stored hash uses an
    older scheme or weaker parameters and should be replaced. A missing hash is checked
    against a dummy so the call costs the same either way. Never raises on bad input:
    an over-long password against a bcrypt hash (bcrypt's 72-byte limit) simply fails.
    """
    if len(password) > PASSWORD_MAX_LENGTH or "\x00" in password:
        password_context.verify("not the password", dummy_hash())
        return False, None
    try:
        matches, new_hash = password_context.verify_and_update(password, hashed or dummy_hash())
    except (ValueError, TypeError):
        return False, None
    if hashed is None:
        return False, None
    return bool(matches), new_hash


def create_access_token(
    *, user_id: int, session_version: int, secret_key: str, expires_in: timedelta
) -> str:
    """A signed bearer token naming the user and the credentials it was issued for."""
    now = datetime.now(UTC)
    claims = {
        "sub": str(user_id),
        "ver": session_version,
        "iat": now,
        "exp": now + expires_in,
    }
    return jwt.encode(claims, secret_key, algorithm=TOKEN_ALGORITHM)


def decode_access_token(token: str, *, secret_key: str) -> tuple[int, int] | None:
    """``(user_id, session_version)`` from a valid, unexpired token; ``None`` otherwise."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret_key,
            algorithms=[TOKEN_ALGORITHM],
            options={"require": ["sub", "exp", "ver"]},
        )
        return int(claims["sub"]), int(claims["ver"])
    except (jwt.InvalidTokenError, ValueError, TypeError):
        return None
