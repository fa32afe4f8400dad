"""User accounts: sign-up, profile edits, roles, deletion.

Services take a session and plain arguments, enforce :mod:`cms.permissions`, raise
:mod:`cms.errors`, and flush; the caller owns the transaction.
"""

from collections.abc import Sequence
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cms import permissions, security
from cms.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from cms.users.models import Role, User

EMAIL_TAKEN = "Email already registered"


def normalize_email(email: str) -> str:
    """The stored form of an email: validated, Unicode-normalised and lower-cased, so one
    address is one key whoever types it (API, back office, CLI) and however it is typed.

    Raises :class:`InvalidInput` for something that is not an email address.
    """
    try:
        normalized = validate_email(email.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise InvalidInput("email", f"Not a valid email address: {exc}") from None
    return normalized.lower()


def login_key(email: str) -> str:
    """What a sign-in attempt is looked up and counted under: the normalised address, or
    for text that is no address at all, the text itself (no account can match it)."""
    try:
        return normalize_email(email)
    except InvalidInput:
        return email.strip().lower()


def get_user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == login_key(email)))


def get_visible_user(session: Session, *, actor: User | None, user_id: int) -> User:
    """The user ``actor`` may see, or :class:`NotFound` (no existence leak)."""
    user = session.get(User, user_id)
    if user is None or not permissions.can_view_user(actor, user):
        raise NotFound("User not found")
    return user


def list_users(session: Session, *, actor: User | None, skip: int, limit: int) -> Sequence[User]:
    """Users ``actor`` may list, oldest first."""
    if not permissions.can_list_users(actor):
        raise PermissionDenied("Only editors and admins may list users")
    stmt = (
        select(User)
        .where(permissions.visible_users(actor))
        .order_by(User.id)
        .offset(skip)
        .limit(limit)
    )
    return session.scalars(stmt).all()


def create_user(
    session: Session,
    *,
    actor: User | None,
    email: str,
    password: str,
    name: str = "",
    role: Role | None = None,
    is_active: bool = True,
    allow_signup: bool = True,
) -> User:
    """Register a user; only admins may choose a role other than author."""
    if not permissions.can_create_user(actor, allow_signup=allow_signup):
        raise PermissionDenied("Sign-up is disabled on this site; ask an admin for an account")
    if (role not in (None, Role.AUTHOR) or not is_active) and not permissions.can_assign_role(
        actor
    ):
        raise PermissionDenied("Only admins may set a user's role or active flag")
    email = normalize_email(email)
    if get_user_by_email(session, email) is not None:
        raise Conflict(EMAIL_TAKEN)
    user = User(email=email, name=name, role=role or Role.AUTHOR, is_active=is_active)
    user.set_password(password)
    _flush_unique_email(session, user)
    return user


def update_user(
    session: Session,
    *,
    actor: User | None,
    target: User,
    changes: dict[str, Any],
    current_password: str | None = None,
) -> User:
    """Apply ``changes`` (keys: name, password, email, role, is_active) to ``target``.

    Changing one's own password needs ``current_password``; an admin resetting someone
    else's does not. Revokes the target's tokens on a new password or deactivation.
    """
    if not permissions.can_view_user(actor, target):
        raise NotFound("User not found")
    if not permissions.can_edit_user(actor, target, frozenset(changes)):
        raise PermissionDenied("Only admins may change email, role or active status")
    if "password" in changes and actor is not None and actor.id == target.id:
        matches, _ = security.verify_password(current_password or "", target.hashed_password)
        if not matches:
            raise InvalidInput("current_password", "Current password is incorrect")
    _refuse_removing_last_admin(session, target, changes)

    if "email" in changes:
        email = normalize_email(changes["email"])
        if email != target.email:
            other = get_user_by_email(session, email)
            if other is not None:
                raise Conflict(EMAIL_TAKEN)
            target.email = email
    if "name" in changes:
        target.name = changes["name"]
    if "role" in changes:
        target.role = Role(changes["role"])
    if "is_active" in changes and changes["is_active"] != target.is_active:
        target.is_active = bool(changes["is_active"])
        target.session_version += 1
    if "password" in changes:
        target.set_password(changes["password"])
    _flush_unique_email(session, target)
    return target


def delete_user(session: Session, *, actor: User | None, target: User) -> None:
    """Delete ``target`` and, as in the tutorial, every article they wrote."""
    if not permissions.can_view_user(actor, target):
        raise NotFound("User not found")
    if not permissions.can_delete_user(actor, target):
        raise PermissionDenied("Only admins may delete users")
    _refuse_removing_last_admin(session, target, {"is_active": False})
    session.delete(target)
    session.flush()


def _refuse_removing_last_admin(session: Session, target: User, changes: dict[str, Any]) -> None:
    demoted = "role" in changes and Role(changes["role"]) is not Role.ADMIN
    deactivated = "is_active" in changes and not changes["is_active"]
    if target.role is not Role.ADMIN or not target.is_active or not (demoted or deactivated):
        return
    # Locked, so two admins demoting each other at once cannot both see "one other left".
    active_admins = session.scalars(
        select(User.id)
        .where(User.role == Role.ADMIN, User.is_active.is_(True))
        .order_by(User.id)
        .with_for_update()
    ).all()
    if len(active_admins) <= 1:
        raise Conflict("This is the last active admin; make another admin first")


def _flush_unique_email(session: Session, user: User) -> None:
    """Flush ``user``; a concurrent registration of the same email becomes a 409."""
    try:
        with session.begin_nested():
            session.add(user)
    except IntegrityError as exc:
        raise Conflict(EMAIL_TAKEN) from exc
