"""Passkeys: registering WebAuthn credentials and signing in with them.

The cryptography and the checks the WebAuthn specification asks of a relying party
(challenge, origin, RP ID hash, user presence and verification, the signature over the
authenticator's data) are py_webauthn's. What is decided here:

- **Challenges** are made by ``begin_*``, recorded as a :class:`PasskeyChallenge` row and
  handed back for the surface to keep in the browser's signed session. An answer names
  its challenge; :func:`take_challenge` deletes the row in its own transaction before
  anything is verified, so each challenge is answered once, within
  :data:`CHALLENGE_LIFETIME`, by the browser it was given to.
- **Sign counts**: an authenticator that counts must report a higher count each time.
  A correctly signed assertion whose count did not go up comes from a copy of the key (or
  is a replay): it is refused and audited as ``passkey_refused``. Synced passkeys always
  report 0 and are not counted.
- **Sign-in** needs user verification (a PIN or biometric on the device), so a passkey is
  two factors in one: what the staff member has and what they know or are.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from typing import ClassVar, NoReturn
from urllib.parse import urlsplit

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    base64url_to_bytes,
    bytes_to_base64url,
    parse_authentication_credential_json,
    parse_registration_credential_json,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticationCredential,
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    RegistrationCredential,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from cms import metrics, permissions, security
from cms.actions import Action
from cms.actors import Origin
from cms.audit import service as audit
from cms.auth import throttle
from cms.auth.models import Passkey, PasskeyChallenge
from cms.auth.service import TOO_MANY_LOGINS, client_key, count_attempt, password_check_limits
from cms.auth.throttle import Limit
from cms.config import Settings
from cms.db import Database, UnitOfWork, utcnow
from cms.errors import (
    AuthenticationFailed,
    InvalidInput,
    NotFound,
    PermissionDenied,
    TooManyAttempts,
)
from cms.users.models import User

CHALLENGE_LIFETIME = timedelta(minutes=5)
REGISTER = "register"
SIGN_IN = "sign-in"
# Passkeys one account may keep: enough for every device a person has, and a bound.
MOST_PER_ACCOUNT = 20
NAME_MAX_LENGTH = 100
# A browser's answer is a few kilobytes; anything far larger is not one.
LARGEST_ANSWER = 64 * 1024

SIGN_IN_FAILED = "That passkey could not sign you in. Try again, or use your password."
CHALLENGE_GONE = "The passkey request ran out or was already used. Try again."


@dataclass(frozen=True)
class RelyingParty:
    """Whom passkeys are made for: the RP ID they are bound to, the name authenticators
    show, and the page origins whose answers are accepted."""

    id: str
    name: str
    origins: tuple[str, ...]


def relying_party(settings: Settings, page_origin: str, name: str) -> RelyingParty:
    """The relying party for a back office served at ``page_origin``
    (``scheme://host[:port]``): ``CMS_WEBAUTHN_RP_ID`` if set, else ``CMS_SITE_URL``'s
    host when the back office is served under it, else the back office's own host.
    Raises :class:`InvalidInput` when the back office is not served under the RP ID
    (browsers would refuse every passkey ceremony)."""
    host = (urlsplit(page_origin).hostname or "").lower()
    site_host = (urlsplit(settings.site_url).hostname or "") if settings.site_url else ""
    rp_id = settings.webauthn_rp_id
    if rp_id is None:
        rp_id = site_host.lower() if site_host and _under(host, site_host.lower()) else host
    if _is_address(host):
        # Browsers refuse an IP address as a relying party.
        raise InvalidInput(
            "passkey",
            "Passkeys need the back office on a host name (such as localhost), not an IP address.",
        )
    if not host or not _under(host, rp_id):
        raise InvalidInput(
            "passkey",
            f"Passkeys here are for {rp_id} (CMS_WEBAUTHN_RP_ID); open the back office "
            "on that host to use them.",
        )
    # Behind a proxy that ends TLS the request may look like plain HTTP while the
    # browser's page is HTTPS: both spellings of this origin are this back office.
    netloc = urlsplit(page_origin).netloc
    origins = tuple(dict.fromkeys([page_origin, f"https://{netloc}"]))
    return RelyingParty(id=rp_id, name=name, origins=origins)


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _under(host: str, rp_id: str) -> bool:
    return host == rp_id or host.endswith("." + rp_id)


@dataclass(frozen=True)
class Ceremony:
    """What the browser needs for ``navigator.credentials.create/get`` (JSON), and the
    challenge the surface keeps in the browser's session to name the answer by."""

    options: str
    challenge: str


def _challenge_key(challenge: str) -> str:
    return hashlib.sha256(challenge.encode()).hexdigest()


def _remember(uow: UnitOfWork, challenge: bytes, purpose: str, user_id: int | None) -> str:
    now = utcnow()
    # Challenges nobody answered would pile up: swept whenever a new one is made.
    uow.session.execute(delete(PasskeyChallenge).where(PasskeyChallenge.expires_at < now))
    encoded = bytes_to_base64url(challenge)
    uow.session.add(
        PasskeyChallenge(
            id=_challenge_key(encoded),
            purpose=purpose,
            user_id=user_id,
            expires_at=now + CHALLENGE_LIFETIME,
        )
    )
    uow.session.flush()
    return encoded


def take_challenge(
    database: Database, challenge: str, *, purpose: str, user_id: int | None, origin: Origin
) -> bool:
    """Use up ``challenge`` (in its own transaction, committed before the answer is
    verified); whether it was still there, for ``purpose`` and ``user_id``, unexpired."""

    def take(uow: UnitOfWork) -> bool:
        stmt = delete(PasskeyChallenge).where(
            PasskeyChallenge.id == _challenge_key(challenge),
            PasskeyChallenge.purpose == purpose,
            PasskeyChallenge.expires_at > utcnow(),
        )
        stmt = stmt.where(
            PasskeyChallenge.user_id.is_(None)
            if user_id is None
            else PasskeyChallenge.user_id == user_id
        )
        taken: int = uow.session.execute(stmt).rowcount  # type: ignore[attr-defined]
        return taken == 1

    return database.run(take, origin=origin)


def user_handle(user_id: int, secret: str) -> bytes:
    """The account's id as authenticators store it: stable, and neither the email nor
    the row id (the specification asks for an opaque handle)."""
    return hmac.new(secret.encode(), f"passkey-user:{user_id}".encode(), "sha256").digest()


def credential_key(credential_id: str) -> str:
    return hashlib.sha256(credential_id.encode()).hexdigest()


def passkeys_of(session: Session, user_id: int) -> list[Passkey]:
    """``user_id``'s passkeys, the oldest first."""
    return list(
        session.scalars(
            select(Passkey).where(Passkey.user_id == user_id).order_by(Passkey.id)
        ).all()
    )


# Registering


NOT_CONFIRMED = "That is not your current password"


def confirm_password(
    database: Database, *, user_id: int, password: str, origin: Origin, settings: Settings
) -> None:
    """Check the account's current password before a passkey is added: a browser left
    signed in (or a stolen session) must not become a way in that outlives a new
    password. Each check counts like a sign-in (:class:`~cms.errors.TooManyAttempts`);
    :class:`InvalidInput` naming ``password`` when it is wrong."""
    count_attempt(database, password_check_limits(settings, user_id, origin.address), origin)
    # The slow hash runs outside any transaction.
    with database.reading() as session:
        hashed = session.scalar(select(User.hashed_password).where(User.id == user_id))
    matches, _ = security.verify_password(password, hashed)
    if not matches:
        raise InvalidInput("password", NOT_CONFIRMED)


@dataclass(frozen=True, kw_only=True)
class BeginRegistration(Action[Ceremony]):
    """Options for making a passkey for the acting user (their existing passkeys are
    excluded, so one authenticator is not registered twice)."""

    name: ClassVar[str] = "begin_passkey_registration"
    rp: RelyingParty
    secret: str

    def __call__(self, uow: UnitOfWork) -> Ceremony:
        user = _acting_user(uow)
        existing = passkeys_of(uow.session, user.id)
        if len(existing) >= MOST_PER_ACCOUNT:
            raise InvalidInput(
                "passkey", f"An account keeps at most {MOST_PER_ACCOUNT} passkeys; remove one"
            )
        options = generate_registration_options(
            rp_id=self.rp.id,
            rp_name=self.rp.name,
            user_name=user.email,
            user_id=user_handle(user.id, self.secret),
            user_display_name=user.display_name,
            timeout=int(CHALLENGE_LIFETIME.total_seconds() * 1000),
            # A discoverable credential: signing in needs no email first.
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.REQUIRED,
                user_verification=UserVerificationRequirement.REQUIRED,
            ),
            exclude_credentials=[
                PublicKeyCredentialDescriptor(id=base64url_to_bytes(passkey.credential_id))
                for passkey in existing
            ],
        )
        challenge = _remember(uow, options.challenge, REGISTER, user.id)
        return Ceremony(options=options_to_json(options), challenge=challenge)


@dataclass(frozen=True, kw_only=True)
class RegisterPasskey(Action[Passkey]):
    """Keep the passkey the browser made (``credential``: its JSON), named
    ``passkey_name``, for the acting user. The challenge must have been taken
    (:func:`take_challenge`) by the caller."""

    name: ClassVar[str] = "passkey_added"
    passkey_name: str
    credential: str
    challenge: str
    rp: RelyingParty

    @cached_property
    def _parsed(self) -> RegistrationCredential:
        return parse_registration_credential_json(self.credential)

    def __call__(self, uow: UnitOfWork) -> Passkey:
        user = _acting_user(uow)
        name = " ".join(self.passkey_name.split())
        if not 1 <= len(name) <= NAME_MAX_LENGTH:
            raise InvalidInput(
                "name", f"Name the passkey (1 to {NAME_MAX_LENGTH} characters), say “Laptop”"
            )
        if len(self.credential) > LARGEST_ANSWER:
            raise InvalidInput("credential", "That is not a passkey answer")
        try:
            parsed = self._parsed
            verified = verify_registration_response(
                credential=parsed,
                expected_challenge=base64url_to_bytes(self.challenge),
                expected_rp_id=self.rp.id,
                expected_origin=list(self.rp.origins),
                require_user_verification=True,
            )
        except (WebAuthnException, ValueError, KeyError, TypeError):
            raise InvalidInput(
                "credential", "The browser's answer could not be verified; try again"
            ) from None
        credential_id = bytes_to_base64url(verified.credential_id)
        key = credential_key(credential_id)
        if uow.session.scalar(select(func.count()).where(Passkey.credential_key == key)):
            raise InvalidInput("credential", "This passkey is registered already")
        transports = " ".join(t.value for t in parsed.response.transports or [])
        passkey = Passkey(
            user_id=user.id,
            credential_key=key,
            credential_id=credential_id,
            public_key=verified.credential_public_key,
            sign_count=verified.sign_count,
            transports=transports[:255],
            name=name,
            created_at=utcnow(),
        )
        uow.session.add(passkey)
        uow.session.flush()
        audit.record(
            uow,
            action=self.name,
            object_type="user",
            object_id=user.id,
            object_repr=user.email,
            changes={"passkey": (None, name)},
        )
        return passkey


@dataclass(frozen=True, kw_only=True)
class RemovePasskey(Action[None]):
    """Remove a passkey: its owner's, or anyone's for an admin."""

    name: ClassVar[str] = "passkey_removed"
    passkey_id: int

    def __call__(self, uow: UnitOfWork) -> None:
        passkey = uow.session.get(Passkey, self.passkey_id)
        if passkey is None:
            raise NotFound("That passkey was removed already")
        if not permissions.can_manage_sign_ins(uow.actor, passkey.user_id):
            raise PermissionDenied("Only admins may remove someone else's passkeys")
        owner = uow.session.get(User, passkey.user_id)
        uow.session.delete(passkey)
        audit.record(
            uow,
            action=self.name,
            object_type="user",
            object_id=passkey.user_id,
            object_repr=owner.email if owner is not None else "",
            changes={"passkey": (passkey.name, None)},
        )


def _acting_user(uow: UnitOfWork) -> User:
    actor = uow.actor
    user = uow.session.get(User, actor.id) if actor is not None and actor.id else None
    if user is None or not permissions.can_use_back_office(user):
        raise PermissionDenied("Sign in to manage your passkeys")
    return user


# Signing in


@dataclass(frozen=True, kw_only=True)
class BeginSignIn(Action[Ceremony]):
    """Options for signing in with any passkey of this site (discoverable credentials:
    the authenticator offers its accounts, no email is asked first)."""

    name: ClassVar[str] = "begin_passkey_sign_in"
    rp: RelyingParty

    def __call__(self, uow: UnitOfWork) -> Ceremony:
        options = generate_authentication_options(
            rp_id=self.rp.id,
            timeout=int(CHALLENGE_LIFETIME.total_seconds() * 1000),
            user_verification=UserVerificationRequirement.REQUIRED,
        )
        challenge = _remember(uow, options.challenge, SIGN_IN, None)
        return Ceremony(options=options_to_json(options), challenge=challenge)


def sign_in_limits(settings: Settings, address: str | None) -> list[Limit]:
    """Passkey sign-ins one client may attempt per window, as for passwords."""
    window = timedelta(seconds=settings.login_lockout_seconds)
    return [
        Limit(
            "passkey-client",
            client_key(address),
            settings.login_max_failures_per_client,
            window,
        )
    ]


def begin_sign_in(
    database: Database, *, rp: RelyingParty, origin: Origin, settings: Settings
) -> Ceremony:
    """Options for one passkey sign-in, counted against the client's limit here (every
    answer needs a challenge, and nobody may make the server store them without bound);
    :class:`~cms.errors.TooManyAttempts` past it. A sign-in that succeeds gives its
    count back."""
    try:
        count_attempt(
            database, sign_in_limits(settings, origin.address), origin, refusal=TOO_MANY_LOGINS
        )
    except TooManyAttempts:
        metrics.LOGIN_LOCKOUTS.labels(origin.surface).inc()
        raise
    return database.run(BeginSignIn(rp=rp), origin=origin)


def sign_in(
    database: Database,
    *,
    credential: str,
    challenge: str,
    rp: RelyingParty,
    origin: Origin,
    settings: Settings,
) -> User:
    """The active user whose passkey made ``credential`` (an assertion's JSON) for
    ``challenge`` (from :func:`begin_sign_in`); :class:`AuthenticationFailed` for
    anything else (audited as ``login_failed``, or ``passkey_refused`` for a sign count
    that did not go up)."""
    limits = sign_in_limits(settings, origin.address)
    if not take_challenge(database, challenge, purpose=SIGN_IN, user_id=None, origin=origin):
        _fail(database, origin, None, "challenge", CHALLENGE_GONE)
    try:
        if len(credential) > LARGEST_ANSWER:
            raise ValueError("too large")
        parsed: AuthenticationCredential = parse_authentication_credential_json(credential)
    except (WebAuthnException, ValueError, KeyError, TypeError, json.JSONDecodeError):
        _fail(database, origin, None, "not an assertion")
    with database.reading() as session:
        found = session.execute(
            select(Passkey, User)
            .join(User, User.id == Passkey.user_id)
            .where(Passkey.credential_key == credential_key(parsed.id))
        ).first()
    if found is None:
        _fail(database, origin, None, "unknown passkey")
    passkey, user = found
    try:
        # The stored count is compared below, after the signature is known to be good:
        # the library compares it before checking the signature, and only a correctly
        # signed assertion whose count did not go up is a cloned key worth refusing
        # as such (an incorrectly signed one is just a failure).
        verified = verify_authentication_response(
            credential=parsed,
            expected_challenge=base64url_to_bytes(challenge),
            expected_rp_id=rp.id,
            expected_origin=list(rp.origins),
            credential_public_key=passkey.public_key,
            credential_current_sign_count=0,
            require_user_verification=True,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError):
        _fail(database, origin, user, f"passkey {passkey.name}: not verified")
    if not user.is_active:
        _fail(database, origin, user, f"passkey {passkey.name}: account inactive")
    counted = verified.new_sign_count > 0 or passkey.sign_count > 0
    if counted and verified.new_sign_count <= passkey.sign_count:
        _refuse(database, origin, user, passkey, verified.new_sign_count)

    def settle(uow: UnitOfWork) -> bool:
        # Only from the count just checked: of two assertions racing with the same
        # count, one wins.
        moved: int = uow.session.execute(
            update(Passkey)
            .where(Passkey.id == passkey.id, Passkey.sign_count == passkey.sign_count)
            .values(sign_count=verified.new_sign_count, last_used_at=utcnow())
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        if moved != 1:
            return False
        throttle.give_back(uow.session, limits)
        audit.record(
            uow,
            action="login",
            object_type="user",
            object_id=user.id,
            object_repr=user.email,
            changes={"passkey": (None, passkey.name)},
        )
        return True

    if not database.run(settle, actor=user, origin=origin):
        _refuse(database, origin, user, passkey, verified.new_sign_count)
    return user


def _fail(
    database: Database, origin: Origin, user: User | None, why: str, message: str = SIGN_IN_FAILED
) -> NoReturn:
    metrics.LOGIN_FAILURES.labels(origin.surface).inc()
    database.run(
        lambda uow: audit.record(
            uow,
            action="login_failed",
            object_type="user",
            object_id=user.id if user is not None else None,
            object_repr=(user.email if user is not None else "passkey")[:255],
            changes={"passkey": (None, why)},
        ),
        origin=origin,
    )
    raise AuthenticationFailed(message)


def _refuse(
    database: Database, origin: Origin, user: User, passkey: Passkey, reported: int
) -> NoReturn:
    metrics.LOGIN_FAILURES.labels(origin.surface).inc()
    database.run(
        lambda uow: audit.record(
            uow,
            action="passkey_refused",
            object_type="user",
            object_id=user.id,
            object_repr=user.email,
            changes={"passkey": (None, passkey.name), "sign_count": (passkey.sign_count, reported)},
        ),
        origin=origin,
    )
    raise AuthenticationFailed(SIGN_IN_FAILED)
