"""User accounts: sign-up, profile edits, roles, deletion.

Writes take the :class:`~cms.db.UnitOfWork` they run in (its actor is who acts) and a typed
change set; reads take a session and the viewer. Both enforce :mod:`cms.permissions`,
raise :mod:`cms.errors`, and flush; the unit of work commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cms import permissions, security
from cms.actors import Actor
from cms.articles import counts as article_counts
from cms.articles import tag_counts
from cms.articles.models import Article, ArticleRevision, TrashedArticle
from cms.audit import service as audit
from cms.db import UnitOfWork
from cms.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from cms.fields import Email, Name, Password, normalize_email, validated
from cms.roles import Role
from cms.users.changes import AccountChanges, NewAccount
from cms.users.models import User

EMAIL_TAKEN = "Email already registered"
USER_NOT_FOUND = "User not found"


def login_key(email: str) -> str:
    """What a sign-in attempt is looked up and counted under: the normalised address, or
    for text that is no address at all, the text itself (no account can match it)."""
    try:
        return normalize_email(email)
    except ValueError:
        return email.strip().lower()


def get_user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == login_key(email)))


def get_visible_user(
    session: Session, *, viewer: Actor | None, user_id: int, for_update: bool = False
) -> User:
    """The user ``viewer`` may see, or :class:`NotFound` (no existence leak)."""
    user = session.get(User, user_id, with_for_update=for_update)
    if user is None or not permissions.can_view_user(viewer, user):
        raise NotFound(USER_NOT_FOUND)
    return user


def list_users(session: Session, *, viewer: Actor | None, skip: int, limit: int) -> Sequence[User]:
    """Users ``viewer`` may list, oldest first."""
    if not permissions.can_list_users(viewer):
        raise PermissionDenied("Only editors and admins may list users")
    stmt = (
        select(User)
        .where(permissions.visible_users(viewer))
        .order_by(User.id)
        .offset(skip)
        .limit(limit)
    )
    return session.scalars(stmt).all()


def create_user(uow: UnitOfWork, *, account: NewAccount, allow_signup: bool = False) -> User:
    """Register an account. Anyone may sign up while ``allow_signup``; otherwise, and for
    any role but author or an inactive account, an admin must act."""
    actor = uow.actor
    if not permissions.can_create_user(actor, allow_signup=allow_signup):
        raise PermissionDenied("Sign-up is disabled on this site; ask an admin for an account")
    if (
        account.role not in (None, Role.AUTHOR) or not account.is_active
    ) and not permissions.can_assign_role(actor):
        raise PermissionDenied("Only admins may set a user's role or active flag")
    email = validated(Email, "email", account.email)
    name = validated(Name, "name", account.name)
    password = validated(Password, "password", account.password)
    if get_user_by_email(uow.session, email) is not None:
        raise Conflict(EMAIL_TAKEN)
    user = User(
        email=email, name=name, role=account.role or Role.AUTHOR, is_active=account.is_active
    )
    user.set_password(password)
    _flush_unique_email(uow.session, user)
    audit.record(
        uow,
        action="create",
        object_type="user",
        object_id=user.id,
        object_repr=user.email,
        changes={
            "email": (None, user.email),
            "name": (None, user.name),
            "role": (None, user.role),
            "is_active": (None, user.is_active),
        },
    )
    return user


def update_user(
    uow: UnitOfWork,
    *,
    user_id: int,
    changes: AccountChanges,
    current_password: str | None = None,
) -> User:
    """Apply ``changes`` to an account.

    Changing one's own password needs ``current_password``; an admin resetting someone
    else's does not. A new password, a new role or a deactivation signs the user out everywhere.
    """
    session, actor = uow.session, uow.actor
    target = get_visible_user(session, viewer=actor, user_id=user_id, for_update=True)
    # Fields set to what they already are change nothing and need no permission.
    given = {
        field: value
        for field, value in changes.given().items()
        if field == "password" or value != getattr(target, field)
    }
    if "email" in given:
        given["email"] = validated(Email, "email", given["email"])
        if given["email"] == target.email:
            del given["email"]
    if not permissions.can_edit_user(actor, target, frozenset(given)):
        raise PermissionDenied("Only admins may change email, role or active status")
    before = {field: getattr(target, field) for field in given if field != "password"}
    if "name" in given:
        target.name = validated(Name, "name", given["name"])
    if "password" in given:
        password = validated(Password, "password", given["password"])
        if actor is not None and actor.id == target.id:
            matches, _ = security.verify_password(current_password or "", target.hashed_password)
            if not matches:
                raise InvalidInput("current_password", "Current password is incorrect")
    _refuse_removing_last_admin(
        session, target, role=given.get("role"), is_active=given.get("is_active")
    )
    if "email" in given:
        if get_user_by_email(session, given["email"]) is not None:
            raise Conflict(EMAIL_TAKEN)
        target.email = given["email"]
    if "role" in given or "is_active" in given:
        # Signed out everywhere: a session or token from before must not come back to life
        # with whatever role the account has later.
        target.session_version += 1
    if "role" in given:
        target.role = Role(given["role"])
    if "is_active" in given:
        target.is_active = bool(given["is_active"])
    if "password" in given:
        target.set_password(password)
    _flush_unique_email(session, target)
    if given:
        audit.record(
            uow,
            action=_account_action(given),
            object_type="user",
            object_id=target.id,
            object_repr=target.email,
            changes={
                field: (before.get(field), value if field != "password" else None)
                for field, value in given.items()
            },
        )
    return target


def _account_action(given: dict[str, Any]) -> str:
    if "role" in given:
        return "role_change"
    if given.get("is_active") is False:
        return "deactivate"
    if given.get("is_active") is True:
        return "activate"
    if set(given) == {"password"}:
        return "password_change"
    return "update"


ArticlesChoice = Literal["reassign", "delete"]


def articles_of(session: Session, user_id: int) -> int:
    """How many articles (live and in the trash) a user has written."""
    live = session.scalar(
        select(func.count()).select_from(Article).where(Article.author_id == user_id)
    )
    trashed = session.scalar(
        select(func.count()).select_from(TrashedArticle).where(TrashedArticle.author_id == user_id)
    )
    return int(live or 0) + int(trashed or 0)


def delete_user(
    uow: UnitOfWork,
    *,
    user_id: int,
    articles: ArticlesChoice | None = None,
    reassign_to: int | None = None,
) -> None:
    """Delete an account. Its articles need an explicit choice: handed to another user
    (``reassign_to``) or deleted with it (``articles="delete"``); without one, an account
    that wrote anything is not deleted (:class:`Conflict` naming how many)."""
    session, actor = uow.session, uow.actor
    target = get_visible_user(session, viewer=actor, user_id=user_id, for_update=True)
    if not permissions.can_delete_user(actor, target):
        raise PermissionDenied("Only admins may delete users")
    _refuse_removing_last_admin(session, target, role=None, is_active=False)
    written = articles_of(session, target.id)
    outcome: str | None = None
    if reassign_to is not None:
        heir = session.get(User, reassign_to)
        if heir is None or heir.id == target.id:
            raise InvalidInput("reassign_to", "Reassign the articles to another existing user")
        for model in (Article, TrashedArticle):
            session.execute(
                update(model)
                .where(model.author_id == target.id)
                .values(author_id=heir.id)
                .execution_options(synchronize_session=False)
            )
        article_counts.recount(session, [target.id, heir.id])
        outcome = f"{written} reassigned to {heir.email}"
    elif articles == "delete":
        article_ids = select(Article.id).where(Article.author_id == target.id)
        trashed_ids = select(TrashedArticle.id).where(TrashedArticle.author_id == target.id)
        session.execute(
            delete(ArticleRevision).where(
                ArticleRevision.article_id.in_(article_ids.union(trashed_ids))
            )
        )
        their_tags = tag_counts.tags_of_author(session, target.id)
        session.execute(delete(Article).where(Article.author_id == target.id))
        tag_counts.recount(session, their_tags)
        article_counts.recount(session, [target.id])
        session.execute(delete(TrashedArticle).where(TrashedArticle.author_id == target.id))
        outcome = f"{written} deleted"
    elif written:
        raise Conflict(
            f"{target.display_name} has written {written} "
            f"{'article' if written == 1 else 'articles'}: reassign them to another user "
            "(?reassign_to=USER_ID) or delete them too (?articles=delete)"
        )
    session.delete(target)
    session.flush()
    audit.record(
        uow,
        action="delete",
        object_type="user",
        object_id=user_id,
        object_repr=target.email,
        changes={"articles": (written, outcome)} if written else None,
    )


def _refuse_removing_last_admin(
    session: Session, target: User, *, role: Role | None, is_active: bool | None
) -> None:
    demoted = role is not None and Role(role) is not Role.ADMIN
    deactivated = is_active is False
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
