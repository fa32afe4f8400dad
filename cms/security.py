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

from cms.errors import InvalidInput

PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 256

password_context = CryptContext(
    schemes=["argon2", "bcrypt"],
    deprecated="auto",
    argon2__type="ID",
    argon2__memory_cost=19 * 1024,
    argon2__time_cost=2,
    argon2__parallelism=1,
)


@cache
def dummy_hash() -> str:
    """Verified against when the email is unknown, so that answer takes as long as a wrong
    password and response time does not reveal which emails have accounts. Made on first
    use, not at import."""
    return str(password_context.hash("dummy password that no account has"))


TOKEN_ALGORITHM = "HS256"  # noqa: S105 (an algorithm name, not a secret)


def validate_password(password: str) -> None:
    """Raise :class:`InvalidInput` unless ``password`` is acceptable as a new password."""
    if len(password) < PASSWORD_MIN_LENGTH:
        raise InvalidInput(
            "password", f"Password must be at least {PASSWORD_MIN_LENGTH} characters long"
        )
    if len(password) > PASSWORD_MAX_LENGTH:
        raise InvalidInput(
            "password", f"Password must be at most {PASSWORD_MAX_LENGTH} characters long"
        )
    if "\x00" in password:
        raise InvalidInput("password", "Password must not contain NUL characters")


def hash_password(password: str) -> str:
    """The argon2id hash of a validated ``password``."""
    validate_password(password)
    return str(password_context.hash(password))


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
