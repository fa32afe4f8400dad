"""What people do with the links sent by mail: ask for and use a password reset, invite
and accept, change one's email. Each is an :class:`~cms.actions.Action`: it checks,
changes, audits and queues its mail in one unit of work.

Every link is an :class:`~cms.accounts.models.AccountLink`; :func:`open_link` is the one
place that decides whether a token still works.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import ClassVar

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cms import permissions, security
from cms.accounts import tokens
from cms.accounts.models import AccountLink, LinkPurpose
from cms.actions import Action
from cms.actors import Actor
from cms.audit import service as audit
from cms.auth import staff_sessions
from cms.db import UnitOfWork, utcnow
from cms.errors import Conflict, InvalidInput, LinkNoLongerWorks, NotFound, PermissionDenied
from cms.fields import EMAIL_MAX_LENGTH, Email, Name, Password, validated
from cms.mail import queue as mail
from cms.roles import Role
from cms.users.models import User
from cms.users.service import EMAIL_TAKEN, get_user_by_email, login_key

# The kinds of message these actions queue (composed in cms.accounts.messages).
RESET_MAIL = "password_reset"
INVITATION_MAIL = "invitation"
EMAIL_CHANGE_MAIL = "email_change"

RESET_INVALID = (
    "This password reset link no longer works: it was used, it expired, the password "
    "was changed since, or a newer link was sent. Ask for a new one."
)
INVITATION_INVALID = (
    "This invitation no longer works: it was accepted, revoked or it expired. Ask the "
    "admin who invited you for a new one."
)
EMAIL_CHANGE_INVALID = (
    "This confirmation link no longer works: it was used, it expired, or a newer one "
    "was sent. Ask for the change again from Your account."
)
ALREADY_REGISTERED = "This email address already has an account"


class LinkInvalid(LinkNoLongerWorks):
    """A link's token is unknown, expired, used, revoked or superseded: 400, saying to
    ask for a new link (a token is not a field the user could correct)."""


def open_link(
    session: Session, token: str, purpose: LinkPurpose, *, secret_key: str, message: str
) -> AccountLink:
    """The link ``token`` names, locked, if it still works; :class:`LinkInvalid` if not."""
    link_id = tokens.read(token, purpose=purpose, secret_key=secret_key)
    link = session.get(AccountLink, link_id, with_for_update=True) if link_id else None
    now = utcnow()
    if (
        link is None
        or link.purpose != purpose
        or link.used_at is not None
        or link.revoked_at is not None
        or link.expires_at <= now
    ):
        raise LinkInvalid(message)
    if link.user_id is not None and purpose is not LinkPurpose.INVITATION:
        user = session.get(User, link.user_id, with_for_update=True)
        if user is None or not user.is_active or user.session_version != link.session_version:
            raise LinkInvalid(message)
    return link


def new_link(
    uow: UnitOfWork,
    purpose: LinkPurpose,
    *,
    email: str,
    lifetime: timedelta,
    user: User | None = None,
    role: Role | None = None,
) -> AccountLink:
    """A fresh link; every earlier open one of the same purpose and account (or, for an
    invitation, address) is superseded: only the newest link works."""
    now = utcnow()
    earlier = AccountLink.purpose == purpose
    earlier &= AccountLink.user_id == user.id if user is not None else AccountLink.email == email
    uow.session.execute(
        update(AccountLink)
        .where(earlier, AccountLink.used_at.is_(None), AccountLink.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    actor = uow.actor
    link = AccountLink(
        purpose=purpose,
        user_id=user.id if user is not None else None,
        email=email,
        role=role.value if role is not None else None,
        created_by_id=actor.id if actor is not None else None,
        created_at=now,
        expires_at=now + lifetime,
        session_version=user.session_version if user is not None else None,
    )
    uow.session.add(link)
    uow.session.flush()
    return link


def link_token(link: AccountLink, secret_key: str) -> str:
    return tokens.sign(
        link_id=link.id, purpose=link.purpose, expires_at=link.expires_at, secret_key=secret_key
    )


def _end_links(session: Session, user_id: int, now: datetime) -> None:
    """Every open link of an account stops working (its password changed)."""
    session.execute(
        update(AccountLink)
        .where(
            AccountLink.user_id == user_id,
            AccountLink.purpose != LinkPurpose.INVITATION,
            AccountLink.used_at.is_(None),
            AccountLink.revoked_at.is_(None),
        )
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )


# Password reset


@dataclass(frozen=True)
class RequestPasswordReset(Action[None]):
    """Queue a reset link for ``email``.

    The same work whatever the address: the account is not even looked up here (the
    mail's composer does that, after the commit, and sends nothing to an address
    without an account), so neither the answer nor its timing can tell them apart."""

    name: ClassVar[str] = "password_reset_requested"
    email: str
    # The site's address the link starts with (CMS_SITE_URL, or the request's).
    base: str

    def __call__(self, uow: UnitOfWork) -> None:
        address = login_key(self.email)[:EMAIL_MAX_LENGTH]
        mail.enqueue(uow, RESET_MAIL, to=address, data={"base": self.base})
        audit.record(uow, action=self.name, object_type="user", object_repr=address)


@dataclass(frozen=True)
class ResetPassword(Action[User]):
    """Set a new password with a reset link: the link is used up, and every session,
    token and other link of the account ends."""

    name: ClassVar[str] = "password_reset"
    token: str
    password: str = field(repr=False)
    secret_key: str = field(repr=False)
    _hash: list[str] = field(default_factory=list, repr=False, compare=False)

    def prepare(self) -> None:
        # Checked and hashed (argon2, ~50 ms) before the transaction takes its locks.
        self._hash[:] = [security.hash_password(validated(Password, "password", self.password))]

    def __call__(self, uow: UnitOfWork) -> User:
        if not self._hash:
            self.prepare()
        session = uow.session
        link = open_link(
            session,
            self.token,
            LinkPurpose.PASSWORD_RESET,
            secret_key=self.secret_key,
            message=RESET_INVALID,
        )
        user = session.get(User, link.user_id)
        assert user is not None  # open_link checked
        now = utcnow()
        user.hashed_password = self._hash[0]
        user.session_version += 1  # every token and back-office session ends
        link.used_at = now
        _end_links(session, user.id, now)
        staff_sessions.end_others(uow, user_id=user.id, keep=None)
        audit.record(
            uow, action=self.name, object_type="user", object_id=user.id, object_repr=user.email
        )
        mail.send_notice(
            uow,
            to=user.email,
            subject="Your password was changed",
            text=(
                f"The password of your account {user.email} was just changed with a reset "
                "link, and every place where the account was signed in was signed out.\n\n"
                "If that was not you, ask for a new reset link at once and tell an admin."
            ),
            reason="the password of your account was changed",
        )
        return user


# Invitations


@dataclass(frozen=True)
class Invite(Action[AccountLink]):
    """Invite ``email`` to make an account with ``role``; nothing exists until they accept."""

    name: ClassVar[str] = "invitation_sent"
    email: str
    role: Role
    base: str
    lifetime: timedelta = timedelta(days=7)

    def __call__(self, uow: UnitOfWork) -> AccountLink:
        if not permissions.can_invite(uow.actor):
            raise PermissionDenied("Only admins may invite people")
        email = validated(Email, "email", self.email)
        try:
            role = Role(self.role)
        except ValueError:
            raise InvalidInput("role", "Choose author, editor or admin") from None
        if get_user_by_email(uow.session, email) is not None:
            raise Conflict(f"{email}: {ALREADY_REGISTERED.lower()}; nothing was sent")
        link = new_link(uow, LinkPurpose.INVITATION, email=email, lifetime=self.lifetime, role=role)
        mail.enqueue(uow, INVITATION_MAIL, to=email, data={"base": self.base, "link": link.id})
        audit.record(
            uow,
            action=self.name,
            object_type="invitation",
            object_id=link.id,
            object_repr=email,
            changes={"role": (None, role.value)},
        )
        return link


@dataclass(frozen=True)
class RevokeInvitation(Action[AccountLink]):
    name: ClassVar[str] = "invitation_revoked"
    invitation_id: int

    def __call__(self, uow: UnitOfWork) -> AccountLink:
        if not permissions.can_invite(uow.actor):
            raise PermissionDenied("Only admins may revoke invitations")
        link = uow.session.get(AccountLink, self.invitation_id, with_for_update=True)
        if link is None or link.purpose != LinkPurpose.INVITATION:
            raise NotFound("Invitation not found")
        if link.used_at is not None:
            raise Conflict(f"The invitation of {link.email} was accepted already")
        if link.revoked_at is not None:
            raise Conflict(f"The invitation of {link.email} was revoked already")
        link.revoked_at = utcnow()
        audit.record(
            uow,
            action=self.name,
            object_type="invitation",
            object_id=link.id,
            object_repr=link.email,
        )
        return link


@dataclass(frozen=True)
class AcceptInvitation(Action[User]):
    """Make the invited account, with the name and password the invitee chose."""

    name: ClassVar[str] = "invitation_accepted"
    token: str
    display_name: str
    password: str = field(repr=False)
    secret_key: str = field(repr=False)
    _hash: list[str] = field(default_factory=list, repr=False, compare=False)

    def prepare(self) -> None:
        validated(Name, "name", self.display_name)
        self._hash[:] = [security.hash_password(validated(Password, "password", self.password))]

    def __call__(self, uow: UnitOfWork) -> User:
        if not self._hash:
            self.prepare()
        session = uow.session
        link = open_link(
            session,
            self.token,
            LinkPurpose.INVITATION,
            secret_key=self.secret_key,
            message=INVITATION_INVALID,
        )
        if get_user_by_email(session, link.email) is not None:
            raise Conflict(f"{link.email} has an account already: sign in, or reset its password")
        user = User(
            email=link.email,
            name=validated(Name, "name", self.display_name),
            role=Role(link.role or Role.AUTHOR),
            is_active=True,
            hashed_password=self._hash[0],
            session_version=0,
        )
        try:
            with session.begin_nested():
                session.add(user)
        except IntegrityError as exc:
            raise Conflict(EMAIL_TAKEN) from exc
        link.used_at = utcnow()
        link.user_id = user.id
        audit.record(
            uow,
            action=self.name,
            object_type="user",
            object_id=user.id,
            object_repr=user.email,
            changes={"role": (None, user.role.value), "invitation": (None, link.id)},
        )
        return user


def pending_invitations(session: Session, viewer: Actor | None) -> Sequence[AccountLink]:
    """Invitations neither accepted, revoked nor expired, newest first."""
    if not permissions.can_invite(viewer):
        raise PermissionDenied("Only admins see invitations")
    return session.scalars(
        select(AccountLink)
        .where(
            AccountLink.purpose == LinkPurpose.INVITATION,
            AccountLink.used_at.is_(None),
            AccountLink.revoked_at.is_(None),
            AccountLink.expires_at > utcnow(),
        )
        .order_by(AccountLink.id.desc())
        .limit(200)
    ).all()


# Changing one's email


@dataclass(frozen=True)
class RequestEmailChange(Action[AccountLink]):
    """Send a confirmation link to the new address and a notice to the old one; the
    address changes only when the link is used (:class:`ConfirmEmailChange`)."""

    name: ClassVar[str] = "email_change_requested"
    new_email: str
    current_password: str = field(repr=False)
    base: str
    lifetime: timedelta = timedelta(hours=24)

    def __call__(self, uow: UnitOfWork) -> AccountLink:
        actor = uow.actor
        user = (
            uow.session.get(User, actor.id, with_for_update=True)
            if actor is not None and actor.id is not None
            else None
        )
        if user is None or not permissions.can_change_own_email(actor, user):
            raise PermissionDenied("Sign in to change your email address")
        new = validated(Email, "new_email", self.new_email)
        if new == user.email:
            raise InvalidInput("new_email", "That is your address already")
        matches, _ = security.verify_password(self.current_password, user.hashed_password)
        if not matches:
            raise InvalidInput("current_password", "Current password is incorrect")
        if get_user_by_email(uow.session, new) is not None:
            raise InvalidInput("new_email", f"{new}: {ALREADY_REGISTERED.lower()}")
        link = new_link(uow, LinkPurpose.EMAIL_CHANGE, email=new, lifetime=self.lifetime, user=user)
        mail.enqueue(uow, EMAIL_CHANGE_MAIL, to=new, data={"base": self.base, "link": link.id})
        mail.send_notice(
            uow,
            to=user.email,
            subject="Your email address is about to change",
            text=(
                f"Someone signed in to your account asked to change its email address "
                f"from {user.email} to {new}. A confirmation link was sent to {new}; "
                "nothing changes until it is used.\n\n"
                "If that was not you, change your password now: the link then stops working."
            ),
            reason="a change of the email address of your account was asked for",
        )
        audit.record(
            uow,
            action=self.name,
            object_type="user",
            object_id=user.id,
            object_repr=user.email,
            changes={"email": (user.email, new)},
        )
        return link


@dataclass(frozen=True)
class ConfirmEmailChange(Action[User]):
    name: ClassVar[str] = "email_change_confirmed"
    token: str
    secret_key: str = field(repr=False)

    def __call__(self, uow: UnitOfWork) -> User:
        session = uow.session
        link = open_link(
            session,
            self.token,
            LinkPurpose.EMAIL_CHANGE,
            secret_key=self.secret_key,
            message=EMAIL_CHANGE_INVALID,
        )
        user = session.get(User, link.user_id)
        assert user is not None
        if get_user_by_email(session, link.email) is not None:
            raise Conflict(f"{link.email} has an account of its own now; nothing was changed")
        before = user.email
        try:
            # A savepoint: an address registered a moment ago is a 409, not a dead transaction.
            with session.begin_nested():
                user.email = link.email
        except IntegrityError as exc:
            raise Conflict(EMAIL_TAKEN) from exc
        link.used_at = utcnow()
        audit.record(
            uow,
            action=self.name,
            object_type="user",
            object_id=user.id,
            object_repr=user.email,
            changes={"email": (before, user.email)},
        )
        return user
