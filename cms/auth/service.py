"""Signing in: password checks, throttling, and the bearer tokens that prove a login."""

import ipaddress
import logging
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from cms import metrics, security
from cms.actors import Origin
from cms.audit import service as audit
from cms.auth import throttle
from cms.auth.throttle import Limit
from cms.config import Settings
from cms.db import Database, UnitOfWork, utcnow
from cms.errors import AuthenticationFailed, TooManyAttempts
from cms.fields import EMAIL_MAX_LENGTH
from cms.twofactor import service as twofactor
from cms.users.models import User
from cms.users.service import get_user_by_email, login_key

logger = logging.getLogger(__name__)

LOGIN_FAILED = "Incorrect email or password"
TOO_MANY = "Too many attempts; try again later"
TOO_MANY_LOGINS = "Too many failed logins; try again later"
CODE_NEEDED = (
    "This account signs in with two factors: send the 6-digit code from its app "
    "(or a recovery code) as the otp field with the password"
)
WRONG_CODE = "Incorrect two-factor code"
TOO_MANY_CODES = "Too many wrong two-factor codes; try again later"
PASSKEY_ONLY = (
    "This site requires two-factor sign-in for this account, and its second factor is a "
    "passkey, which a token request cannot carry: set up an authenticator app in the "
    "back office, or use an API key"
)
ENROL_FIRST = (
    "This site requires two-factor sign-in for this account: set it up by signing in "
    "to the back office first"
)


def login_limits(settings: Settings, login: str, address: str | None) -> list[Limit]:
    """The limits one sign-in attempt counts against.

    Per account *and* client address, so an attacker elsewhere cannot lock a user out;
    per address, so one client cannot spray guesses across many accounts; and a
    per-account ceiling far above what one client can reach, against many clients.
    """
    window = timedelta(seconds=settings.login_lockout_seconds)
    client = client_key(address)
    limits = [
        Limit("login-account-client", f"{login}\0{client}", settings.login_max_failures, window),
        Limit("login-client", client, settings.login_max_failures_per_client, window),
    ]
    if settings.login_max_failures_per_account:
        limits.append(
            Limit("login-account", login, settings.login_max_failures_per_account, window)
        )
    return limits


def signup_limits(settings: Settings, address: str | None) -> list[Limit]:
    """The limit on accounts one client address may create."""
    window = timedelta(seconds=settings.signup_window_seconds)
    return [Limit("signup-client", client_key(address), settings.signup_max_per_client, window)]


def password_reset_limits(settings: Settings, email: str, address: str | None) -> list[Limit]:
    """The limits on asking for a password reset: per address asked for (whether or not
    it has an account, so the answer reveals nothing) and per client."""
    window = timedelta(seconds=settings.password_reset_window_seconds)
    return [
        Limit("reset-address", login_key(email), settings.password_reset_max_per_address, window),
        Limit("reset-client", client_key(address), settings.password_reset_max_per_client, window),
    ]


def password_check_limits(settings: Settings, user_id: int, address: str | None) -> list[Limit]:
    """The limit on "current password" checks (changing one's own password): a stolen
    token or an unattended browser must not become a way to guess the password."""
    window = timedelta(seconds=settings.login_lockout_seconds)
    key = f"{user_id}\0{client_key(address)}"
    return [Limit("password-check", key, settings.login_max_failures, window)]


def second_factor_limits(settings: Settings, user_id: int, address: str | None) -> list[Limit]:
    """The limits on two-factor codes for one account: per client, and for the account
    from everywhere at the same low bound, since whoever gets here knows the password.
    With 3 of 10**6 codes valid at a time, 10 guesses per window give an attacker one
    chance in 33,000 per window, and every wrong code is in the audit trail."""
    window = timedelta(seconds=settings.login_lockout_seconds)
    return [
        Limit(
            "otp-account-client",
            f"{user_id}\0{client_key(address)}",
            settings.login_max_failures,
            window,
        ),
        Limit("otp-account", str(user_id), settings.login_max_failures, window),
    ]


def client_key(address: str | None) -> str:
    """Whom a per-client limit counts: an IPv4 address, or an IPv6 address's /64 (one
    subscriber is usually given a whole /64, so counting single addresses would give each
    client 2**64 fresh allowances)."""
    if not address:
        return "unknown"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


def count_attempt(
    database: Database, limits: list[Limit], origin: Origin, *, refusal: str = TOO_MANY
) -> None:
    """Count one attempt in its own transaction; :class:`TooManyAttempts` (with
    ``refusal`` as its message) if a limit is exhausted."""
    now = utcnow()
    tally = database.run(lambda uow: throttle.take(uow.session, limits, now), origin=origin)
    if tally.new_window:
        # Counters whose window ran out would pile up: sweep them when a new one starts.
        longest = max(limit.window for limit in limits)
        try:
            database.run(lambda uow: throttle.forget_expired(uow.session, now, longest))
        except OperationalError:
            logger.warning("could not sweep expired rate-limit counters", exc_info=True)
    if tally.wait is not None:
        raise TooManyAttempts(refusal, retry_after=tally.wait)


def sign_in(
    database: Database, *, email: str, password: str, origin: Origin, settings: Settings
) -> User:
    """The active user with these credentials.

    Raises :class:`TooManyAttempts` (without checking the password) when a limit is
    exhausted, else :class:`AuthenticationFailed` for a wrong email, wrong password or
    inactive user alike. The attempt is counted in its own transaction before the
    password is checked, so a burst of simultaneous guesses is counted guess by guess;
    unknown emails cost one hash verification too, so timing reveals nothing. A hash in
    an outdated scheme is replaced on success.
    """
    # No account has a longer email; the key is cut so any input is counted.
    login = login_key(email)[:EMAIL_MAX_LENGTH]
    limits = login_limits(settings, login, origin.address)
    try:
        count_attempt(database, limits, origin, refusal=TOO_MANY_LOGINS)
    except TooManyAttempts:
        metrics.LOGIN_LOCKOUTS.labels(origin.surface).inc()
        raise
    # The slow part (argon2, ~50 ms) runs outside any transaction: it holds no locks.
    # Sign-in reads the primary: a password just changed counts at once.
    with database.reading(primary=True) as session:
        user = get_user_by_email(session, login)
    matches, new_hash = security.verify_password(
        password, user.hashed_password if user is not None else None
    )
    if user is None or not matches or not user.is_active:
        metrics.LOGIN_FAILURES.labels(origin.surface).inc()
        database.run(
            lambda uow: audit.record(
                uow,
                action="login_failed",
                object_type="user",
                object_id=user.id if user is not None else None,
                object_repr=login[:255],
            ),
            origin=origin,
        )
        raise AuthenticationFailed(LOGIN_FAILED)

    def settle(uow: UnitOfWork) -> None:
        # This client knows the password: its own failures for this account are forgiven;
        # the wider counters only lose this attempt.
        own, *wider = limits
        throttle.reset(uow.session, [own])
        throttle.give_back(uow.session, wider)
        if new_hash is not None:
            # Same password, stronger hash: existing tokens stay valid. Only if the hash
            # is still the one we checked: a password change meanwhile must not be undone.
            uow.session.execute(
                update(User)
                .where(User.id == user.id, User.hashed_password == user.hashed_password)
                .values(hashed_password=new_hash)
                .execution_options(synchronize_session=False)
            )
        complete = twofactor.next_step(uow.session, user) is None
        audit.record(
            uow,
            action="login" if complete else "password_accepted",
            object_type="user",
            object_id=user.id,
            object_repr=user.email,
        )

    database.run(settle, actor=user, origin=origin)
    return user


def verify_second_factor(
    database: Database, *, user: User, code: str, origin: Origin, settings: Settings
) -> twofactor.Method:
    """Finish a sign-in whose password was right: ``code`` is a current TOTP code (or an
    unused recovery code) of ``user``'s, accepted once.

    Throttled like passwords (:func:`second_factor_limits`, counted before the check):
    :class:`TooManyAttempts`; a wrong code is :class:`AuthenticationFailed` and an audit
    entry ``two_factor_failed``; the right one records ``login``."""
    limits = second_factor_limits(settings, user.id, origin.address)
    try:
        count_attempt(database, limits, origin, refusal=TOO_MANY_CODES)
    except TooManyAttempts:
        metrics.LOGIN_LOCKOUTS.labels(origin.surface).inc()
        raise

    def check(uow: UnitOfWork) -> twofactor.Method | None:
        method = twofactor.accept_code(uow, user_id=user.id, code=code, site_key=settings.secret)
        if method is None:
            audit.record(
                uow,
                action="two_factor_failed",
                object_type="user",
                object_id=user.id,
                object_repr=user.email,
            )
            return None
        own, *wider = limits
        throttle.reset(uow.session, [own])
        throttle.give_back(uow.session, wider)
        audit.record(
            uow,
            action="login",
            object_type="user",
            object_id=user.id,
            object_repr=user.email,
            changes={"second_factor": (None, method)},
        )
        return method

    method = database.run(check, actor=user, origin=origin)
    if method is None:
        metrics.LOGIN_FAILURES.labels(origin.surface).inc()
        raise AuthenticationFailed(WRONG_CODE)
    return method


def sign_in_for_token(
    database: Database,
    *,
    email: str,
    password: str,
    otp: str | None,
    origin: Origin,
    settings: Settings,
) -> User:
    """:func:`sign_in`, then the second factor where the account has one: a missing
    ``otp`` is :class:`AuthenticationFailed` with :data:`CODE_NEEDED`, so a client knows
    to ask for it. An account the policy requires a second factor of, without one, gets
    no token until it has set one up in the back office."""
    user = sign_in(database, email=email, password=password, origin=origin, settings=settings)
    with database.reading() as session:
        step = twofactor.next_step(session, user)
    if step == "enrol":
        raise AuthenticationFailed(ENROL_FIRST)
    if step == "passkey":
        raise AuthenticationFailed(PASSKEY_ONLY)
    if step == "code":
        if not otp or not otp.strip():
            raise AuthenticationFailed(CODE_NEEDED)
        verify_second_factor(database, user=user, code=otp, origin=origin, settings=settings)
    return user


def issue_access_token(user: User, *, settings: Settings) -> tuple[str, int]:
    """A bearer token for ``user`` and its lifetime in seconds."""
    expires_in = timedelta(minutes=settings.access_token_expire_minutes)
    token = security.create_access_token(
        user_id=user.id,
        session_version=user.session_version,
        secret_key=settings.secret,
        expires_in=expires_in,
    )
    return token, int(expires_in.total_seconds())


def user_for_credentials(session: Session, user_id: int, session_version: int) -> User | None:
    """The active user these credentials were issued to, unless revoked since."""
    user = session.get(User, user_id)
    if user is None or not user.is_active or user.session_version != session_version:
        return None
    return user
