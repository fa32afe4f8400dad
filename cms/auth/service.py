"""Signing in: password checks, throttling, and the bearer tokens that prove a login."""

import math
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cms import security
from cms.auth.models import LoginThrottle
from cms.config import Settings
from cms.db import utcnow
from cms.errors import AuthenticationFailed, TooManyAttempts
from cms.users.models import EMAIL_MAX_LENGTH, User
from cms.users.service import get_user_by_email, login_key

LOGIN_FAILED = "Incorrect email or password"


def authenticate(session: Session, *, email: str, password: str, settings: Settings) -> User:
    """The active user with these credentials.

    Raises :class:`AuthenticationFailed` (recording the failure in ``session``; the
    caller must still commit it) or :class:`TooManyAttempts` while the login is locked.
    Unknown emails cost one hash verification too, so timing reveals nothing.
    A hash in an outdated scheme is replaced on success.
    """
    # No account has a longer email; the key is cut to the column so any input is counted.
    login = login_key(email)[:EMAIL_MAX_LENGTH]
    now = utcnow()
    throttle = session.get(LoginThrottle, login, with_for_update=True)
    if throttle is not None and throttle.locked_until is not None and throttle.locked_until > now:
        raise TooManyAttempts(
            "Too many failed logins; try again later",
            retry_after=max(1, math.ceil((throttle.locked_until - now).total_seconds())),
        )
    user = get_user_by_email(session, login)
    matches, new_hash = security.verify_password(
        password, user.hashed_password if user is not None else None
    )
    if user is None or not matches or not user.is_active:
        _record_failure(session, login=login, throttle=throttle, now=now, settings=settings)
        raise AuthenticationFailed(LOGIN_FAILED)
    if throttle is not None:
        session.execute(delete(LoginThrottle).where(LoginThrottle.login == login))
    if new_hash is not None:
        # Same password, stronger hash: existing tokens stay valid. Only if the hash is
        # still the one we checked: a password change meanwhile must not be undone.
        session.execute(
            update(User)
            .where(User.id == user.id, User.hashed_password == user.hashed_password)
            .values(hashed_password=new_hash)
            .execution_options(synchronize_session=False)
        )
    session.flush()
    return user


def _record_failure(
    session: Session,
    *,
    login: str,
    throttle: LoginThrottle | None,
    now: datetime,
    settings: Settings,
) -> None:
    window = timedelta(seconds=settings.login_lockout_seconds)
    if throttle is None:
        # Rows for every name ever tried would pile up: drop those whose window and lock
        # have both run out before adding another.
        session.execute(
            delete(LoginThrottle).where(
                LoginThrottle.window_started_at < now - window,
                or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until < now),
            )
        )
        try:
            with session.begin_nested():
                throttle = LoginThrottle(login=login, failures=0, window_started_at=now)
                session.add(throttle)
        except IntegrityError:
            # A concurrent failure created the row first; count on top of it.
            throttle = session.get(
                LoginThrottle, login, with_for_update=True, populate_existing=True
            )
            assert throttle is not None
    if now - throttle.window_started_at > window:
        throttle.failures = 0
        throttle.window_started_at = now
        throttle.locked_until = None
    throttle.failures += 1
    if throttle.failures >= settings.login_max_failures:
        throttle.locked_until = now + window
    session.flush()


def issue_access_token(user: User, *, settings: Settings) -> tuple[str, int]:
    """A bearer token for ``user`` and its lifetime in seconds."""
    expires_in = timedelta(minutes=settings.access_token_expire_minutes)
    token = security.create_access_token(
        user_id=user.id,
        session_version=user.session_version,
        secret_key=settings.secret_key.get_secret_value(),
        expires_in=expires_in,
    )
    return token, int(expires_in.total_seconds())


def user_for_token(session: Session, token: str, *, settings: Settings) -> User | None:
    """The active user a token was issued to, unless revoked since; else ``None``."""
    claims = security.decode_access_token(token, secret_key=settings.secret_key.get_secret_value())
    if claims is None:
        return None
    user_id, session_version = claims
    user = session.get(User, user_id)
    if user is None or not user.is_active or user.session_version != session_version:
        return None
    return user
