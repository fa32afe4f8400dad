"""Two-factor sign-in: enrolment, the codes that prove a second factor, recovery codes,
an admin's reset, and the site's policy.

Writes are :class:`~cms.actions.Action` objects run through the unit of work, checked
by :mod:`cms.permissions` and audited in the same transaction; reads take a session.
Checking a code *during sign-in* (throttled) is :func:`cms.auth.service.verify_second_factor`,
which calls :func:`accept_code` here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import ClassVar, Literal

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from cms import permissions, security
from cms.actions import Action
from cms.audit import service as audit
from cms.auth.models import Passkey
from cms.db import UnitOfWork, utcnow
from cms.errors import InvalidInput, NotFound, PermissionDenied
from cms.mail import queue as mail
from cms.sealing import Unsealable
from cms.twofactor import codes
from cms.twofactor.codes import Requirement
from cms.twofactor.models import RecoveryCode, TwoFactorCredential, TwoFactorPolicy
from cms.users.models import User

logger = logging.getLogger(__name__)

POLICY_ID = 1
WRONG_CODE = "That code is not right: enter the 6 digits your app shows now"
NO_PENDING = "Start setting up two-factor sign-in again: that set-up is no longer open"
Method = Literal["totp", "recovery_code"]
NextStep = Literal["code", "passkey", "enrol"]


def has_second_factor(user_or_id: User | int, session: Session) -> bool:
    """Whether the user signs in with a second factor (a confirmed TOTP app)."""
    user_id = user_or_id if isinstance(user_or_id, int) else user_or_id.id
    found = session.scalar(
        select(TwoFactorCredential.user_id).where(
            TwoFactorCredential.user_id == user_id, TwoFactorCredential.secret.is_not(None)
        )
    )
    return found is not None


def requirement(session: Session) -> Requirement:
    """Who the site requires two-factor sign-in from (nobody until an admin says)."""
    stored = session.scalar(
        select(TwoFactorPolicy.required_for).where(TwoFactorPolicy.id == POLICY_ID)
    )
    try:
        return Requirement(stored or Requirement.NOBODY)
    except ValueError:
        return Requirement.NOBODY


def is_required_of(session: Session, user: User) -> bool:
    return requirement(session).applies_to(user.role)


def has_passkey(user_or_id: User | int, session: Session) -> bool:
    """Whether the user has registered a passkey (cms.auth.passkeys): a second factor
    for the policy, since signing in with one proves both possession and the user."""
    user_id = user_or_id if isinstance(user_or_id, int) else user_or_id.id
    return session.scalar(select(Passkey.id).where(Passkey.user_id == user_id).limit(1)) is not None


def next_step(session: Session, user: User) -> NextStep | None:
    """What a sign-in with the right password still needs: a code; the user's passkey
    (the policy requires a second factor and theirs is a passkey, not an app);
    enrolment first (the policy requires one they have not set up); or nothing."""
    if has_second_factor(user, session):
        return "code"
    if is_required_of(session, user):
        return "passkey" if has_passkey(user, session) else "enrol"
    return None


def remaining_recovery_codes(session: Session, user_id: int) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(RecoveryCode)
            .where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))
        )
        or 0
    )


def pending_secret(session: Session, user_id: int, site_key: str) -> str | None:
    """The seed shown for an enrolment not yet confirmed, if one is open."""
    credential = session.get(TwoFactorCredential, user_id)
    if credential is None or credential.pending_secret is None:
        return None
    try:
        return codes.unseal_secret(credential.pending_secret, site_key)
    except Unsealable:
        return None


def accept_code(uow: UnitOfWork, *, user_id: int, code: str, site_key: str) -> Method | None:
    """Accept ``code`` as ``user_id``'s second factor, once: a TOTP code of a step later
    than the last accepted one, or an unused recovery code (then used up). ``None`` if it
    is neither. Records a used recovery code in the audit trail."""
    typed = codes.cleaned(code)
    if codes.looks_like_totp(typed):
        return "totp" if _accept_totp(uow, user_id, typed, site_key) else None
    if not typed or len(typed) > 32:
        return None
    used = uow.session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user_id,
            RecoveryCode.digest == codes.recovery_digest(typed, site_key),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:  # type: ignore[attr-defined]
        return None
    audit.record(
        uow,
        action="recovery_code_used",
        object_type="user",
        object_id=user_id,
        object_repr=_email(uow.session, user_id),
        changes={"recovery_codes_left": (None, remaining_recovery_codes(uow.session, user_id))},
    )
    return "recovery_code"


def _accept_totp(uow: UnitOfWork, user_id: int, code: str, site_key: str) -> bool:
    stored = uow.session.scalar(
        select(TwoFactorCredential.secret).where(TwoFactorCredential.user_id == user_id)
    )
    if stored is None:
        return False
    try:
        secret = codes.unseal_secret(stored, site_key)
    except Unsealable:
        logger.error(
            "user %s's two-factor secret was sealed under another CMS_SECRET_KEY: "
            "they need recovery codes or an admin's reset",
            user_id,
        )
        return False
    step = codes.matching_step(secret, code, utcnow())
    if step is None:
        return False
    # Only for a later step than the last accepted: a code seen over someone's shoulder,
    # or sent twice at once, works once (the row lock orders simultaneous attempts).
    taken = uow.session.execute(
        update(TwoFactorCredential)
        .where(
            TwoFactorCredential.user_id == user_id,
            or_(
                TwoFactorCredential.last_used_step.is_(None),
                TwoFactorCredential.last_used_step < step,
            ),
        )
        .values(last_used_step=step)
        .execution_options(synchronize_session=False)
    )
    return bool(taken.rowcount == 1)  # type: ignore[attr-defined]


def _email(session: Session, user_id: int) -> str:
    return session.scalar(select(User.email).where(User.id == user_id)) or ""


def _acting_user(uow: UnitOfWork) -> User:
    actor = uow.actor
    if not permissions.can_manage_own_two_factor(actor) or actor is None or actor.id is None:
        raise PermissionDenied("Sign in to change your two-factor sign-in")
    user = uow.session.get(User, actor.id)
    if user is None:
        raise NotFound("User not found")
    return user


def _replace_recovery_codes(uow: UnitOfWork, user_id: int, site_key: str) -> list[str]:
    uow.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    fresh = codes.new_recovery_codes()
    uow.session.add_all(
        RecoveryCode(user_id=user_id, digest=codes.recovery_digest(code, site_key))
        for code in fresh
    )
    return fresh


def _forget(uow: UnitOfWork, user_id: int) -> None:
    uow.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    uow.session.execute(delete(TwoFactorCredential).where(TwoFactorCredential.user_id == user_id))


@dataclass(frozen=True)
class BeginEnrolment(Action[str]):
    """Open an enrolment for the acting user: a new seed, kept aside (not in force) until
    a code from it confirms it. Returns the seed, to show. With ``keep_open``, an
    enrolment already open keeps its seed (the one an app may have scanned already)."""

    site_key: str
    keep_open: bool = False
    name: ClassVar[str] = "two_factor_begin"

    def __call__(self, uow: UnitOfWork) -> str:
        user = _acting_user(uow)
        credential = uow.session.get(TwoFactorCredential, user.id, with_for_update=True)
        if credential is None:
            credential = TwoFactorCredential(user_id=user.id)
            uow.session.add(credential)
        elif self.keep_open and credential.pending_secret is not None:
            try:
                return codes.unseal_secret(credential.pending_secret, self.site_key)
            except Unsealable:
                pass  # sealed under an earlier site key: a new one below
        secret = codes.new_secret()
        credential.pending_secret = codes.seal_secret(secret, self.site_key)
        uow.session.flush()
        return secret


@dataclass(frozen=True)
class ConfirmEnrolment(Action[list[str]]):
    """Put the open enrolment's seed in force once ``code`` comes from it (replacing any
    earlier one), with ten new recovery codes, returned to be shown once."""

    code: str
    site_key: str
    name: ClassVar[str] = "two_factor_enrol"

    def __call__(self, uow: UnitOfWork) -> list[str]:
        user = _acting_user(uow)
        credential = uow.session.get(TwoFactorCredential, user.id, with_for_update=True)
        if credential is None or credential.pending_secret is None:
            raise InvalidInput("code", NO_PENDING)
        try:
            secret = codes.unseal_secret(credential.pending_secret, self.site_key)
        except Unsealable:
            raise InvalidInput("code", NO_PENDING) from None
        step = codes.matching_step(secret, codes.cleaned(self.code), utcnow())
        if step is None:
            raise InvalidInput("code", WRONG_CODE)
        replaced = credential.secret is not None
        credential.secret = credential.pending_secret
        credential.pending_secret = None
        credential.enabled_at = utcnow()
        credential.last_used_step = step
        fresh = _replace_recovery_codes(uow, user.id, self.site_key)
        uow.session.flush()
        audit.record(
            uow,
            action=self.name,
            object_type="user",
            object_id=user.id,
            object_repr=user.email,
            changes={"two_factor": ("replaced" if replaced else "off", "totp")},
        )
        return fresh


def _proves_it_is_them(
    uow: UnitOfWork, user: User, *, code: str, password: str, site_key: str
) -> None:
    """A current code (or an unused recovery code) or the password, else InvalidInput."""
    if code.strip() and accept_code(uow, user_id=user.id, code=code, site_key=site_key):
        return
    if password:
        matches, _ = security.verify_password(password, user.hashed_password)
        if matches:
            return
    raise InvalidInput("code", "Enter a current code from your app or your password")


@dataclass(frozen=True)
class DisableTwoFactor(Action[None]):
    """Switch off the acting user's second factor, proven with a current code or the
    password; refused while the site requires it of them (they may set up a new phone)."""

    code: str
    password: str
    site_key: str
    name: ClassVar[str] = "two_factor_disable"

    def __call__(self, uow: UnitOfWork) -> None:
        user = _acting_user(uow)
        if not has_second_factor(user, uow.session):
            raise InvalidInput("code", "Two-factor sign-in is not on for your account")
        if is_required_of(uow.session, user):
            raise PermissionDenied(
                "This site requires two-factor sign-in of your role: set up a new phone "
                "instead of switching it off"
            )
        _proves_it_is_them(
            uow, user, code=self.code, password=self.password, site_key=self.site_key
        )
        _forget(uow, user.id)
        audit.record(
            uow,
            action=self.name,
            object_type="user",
            object_id=user.id,
            object_repr=user.email,
            changes={"two_factor": ("totp", "off")},
        )


@dataclass(frozen=True)
class RegenerateRecoveryCodes(Action[list[str]]):
    """Ten new recovery codes for the acting user (the old ones stop working), proven
    with a current code or the password."""

    code: str
    password: str
    site_key: str
    name: ClassVar[str] = "recovery_codes_regenerate"

    def __call__(self, uow: UnitOfWork) -> list[str]:
        user = _acting_user(uow)
        if not has_second_factor(user, uow.session):
            raise InvalidInput("code", "Set up two-factor sign-in first")
        _proves_it_is_them(
            uow, user, code=self.code, password=self.password, site_key=self.site_key
        )
        fresh = _replace_recovery_codes(uow, user.id, self.site_key)
        uow.session.flush()
        audit.record(
            uow, action=self.name, object_type="user", object_id=user.id, object_repr=user.email
        )
        return fresh


def notify_two_factor_reset(uow: UnitOfWork, user: User) -> None:
    """Tell ``user`` by email (queued in ``uow``, sent after the commit) that an admin
    switched off their second factor: if they did not ask for it, they should know."""
    admin = audit.actor_name(uow.actor)
    mail.send_notice(
        uow,
        to=user.email,
        subject="Two-factor sign-in was reset on your account",
        text=(
            f"{admin}, an admin of the site, switched off two-factor sign-in for the "
            f"account {user.email}, and ended its sessions and API tokens.\n\n"
            "You can sign in with your password again and set up an authenticator app "
            "on Your account. If you did not ask for this, tell an admin at once."
        ),
        reason="an admin reset two-factor sign-in on your account",
    )


@dataclass(frozen=True)
class ResetTwoFactor(Action[User]):
    """An admin switches off another user's second factor (a lost phone, no recovery
    codes left). Their sessions and tokens end; they are told."""

    user_id: int
    name: ClassVar[str] = "two_factor_reset"

    def __call__(self, uow: UnitOfWork) -> User:
        target = uow.session.get(User, self.user_id, with_for_update=True)
        if target is None:
            raise NotFound("User not found")
        if not permissions.can_reset_two_factor(uow.actor, target):
            raise PermissionDenied(
                "Only an admin resets another user's two-factor sign-in "
                "(your own is on Your account)"
            )
        had = has_second_factor(target, uow.session)
        _forget(uow, target.id)
        # Whoever holds the lost phone may hold a session too.
        target.session_version += 1
        uow.session.flush()
        audit.record(
            uow,
            action=self.name,
            object_type="user",
            object_id=target.id,
            object_repr=target.email,
            changes={"two_factor": ("totp" if had else "off", "off")},
        )
        notify_two_factor_reset(uow, target)
        return target


@dataclass(frozen=True)
class SetTwoFactorPolicy(Action[Requirement]):
    """Set who must sign in with two factors (:class:`Requirement`): admins only. Those
    it newly covers set one up at their next sign-in."""

    required_for: str
    name: ClassVar[str] = "two_factor_policy"

    def __call__(self, uow: UnitOfWork) -> Requirement:
        if not permissions.can_set_two_factor_policy(uow.actor):
            raise PermissionDenied("Only admins set the two-factor policy")
        try:
            wanted = Requirement(self.required_for)
        except ValueError:
            choices = ", ".join(r.value for r in Requirement)
            raise InvalidInput("required_for", f"Choose one of: {choices}") from None
        row = uow.session.get(TwoFactorPolicy, POLICY_ID, with_for_update=True)
        before = Requirement(row.required_for) if row is not None else Requirement.NOBODY
        if row is None:
            row = TwoFactorPolicy(id=POLICY_ID)
            uow.session.add(row)
        row.required_for = wanted.value
        row.updated_at = utcnow()
        uow.session.flush()
        if wanted is not before:
            audit.record(
                uow,
                action=self.name,
                object_type="site",
                object_repr="Two-factor sign-in policy",
                changes={"required_for": (before.value, wanted.value)},
            )
        return wanted
