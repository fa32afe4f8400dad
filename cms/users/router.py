"""``/users/``: sign-up, profiles, and user management for admins."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response, status
from sqlalchemy.orm import Session

from cms import metrics, permissions
from cms.actors import Actor
from cms.articles.schemas import ArticleSummary
from cms.articles.service import newest_articles_by_author
from cms.auth.service import count_attempt, password_check_limits, signup_limits
from cms.db import UnitOfWork
from cms.deps import (
    DatabaseDep,
    ReadSession,
    SettingsDep,
    SignedInViewer,
    Viewer,
    WriterDep,
    get_credentials,
)
from cms.errors import Conflict, DomainError, PermissionDenied, TooManyAttempts
from cms.openapi import answers
from cms.schemas import MAX_ID, ObjectId, Skip
from cms.users import service
from cms.users.models import User
from cms.users.schemas import UserCreate, UserPublic, UserUpdate

router = APIRouter(prefix="/users", tags=["users"], dependencies=[Depends(get_credentials)])

ARTICLES_PER_USER = 100
_SIGNUP_REFUSALS: dict[type[DomainError], str] = {
    TooManyAttempts: "rate_limited",
    PermissionDenied: "not_allowed",
    Conflict: "email_taken",
}


def _present(session: Session, viewer: Actor | None, users: Sequence[User]) -> list[UserPublic]:
    articles, counts = newest_articles_by_author(
        session, viewer=viewer, author_ids=[user.id for user in users], limit=ARTICLES_PER_USER
    )
    return [
        UserPublic.build(
            user,
            articles=[
                ArticleSummary.model_validate(article, from_attributes=True)
                for article in articles[user.id]
            ],
            article_count=counts[user.id],
        )
        for user in users
    ]


@router.post(
    "/",
    status_code=status.HTTP_201_CREATED,
    response_model=UserPublic,
    responses=answers(403, 429),
    # A writer, but anonymous sign-ups are welcome: the token is optional.
    openapi_extra={"security": [{}]},
)
def create_user(
    payload: UserCreate,
    writer: WriterDep,
    database: DatabaseDep,
    settings: SettingsDep,
    response: Response,
    caller: Viewer,
) -> UserPublic:
    """Sign up (anonymous, when allowed) or add a user (admins, who may also set ``role``)."""

    def create(uow: UnitOfWork) -> UserPublic:
        user = service.create_user(
            uow, account=payload.account(), allow_signup=settings.allow_signup
        )
        return _present(uow.session, uow.actor or user, [user])[0]

    # Sign-ups are counted per client address, whoever sends them (a token of one's own
    # would otherwise lift the limit): one client cannot mint accounts by the thousand.
    # Admins adding users are not counted.
    counted = not permissions.is_admin(caller)
    try:
        if counted:
            count_attempt(database, signup_limits(settings, writer.origin.address), writer.origin)
        user = writer.run(create, anonymous=True)
    except DomainError as exc:
        reason = _SIGNUP_REFUSALS.get(type(exc))
        if counted and reason is not None:
            metrics.SIGNUP_REFUSALS.labels(reason).inc()
        raise
    response.headers["Location"] = f"/users/{user.id}"
    return user


@router.get("/", response_model=list[UserPublic], responses=answers(403))
def list_users(
    session: ReadSession,
    viewer: SignedInViewer,
    skip: Skip = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 100,
) -> list[UserPublic]:
    """Every user, for editors and admins."""
    users = service.list_users(session, viewer=viewer, skip=skip, limit=limit)
    return _present(session, viewer, users)


@router.get("/me", response_model=UserPublic)
def read_me(session: ReadSession, viewer: SignedInViewer) -> UserPublic:
    return _present(session, viewer, [viewer])[0]


@router.get("/{user_id:int}", response_model=UserPublic, responses=answers(404))
def read_user(user_id: ObjectId, session: ReadSession, viewer: Viewer) -> UserPublic:
    """Yourself, or anyone if you are staff; otherwise 404."""
    user = service.get_visible_user(session, viewer=viewer, user_id=user_id)
    return _present(session, viewer, [user])[0]


@router.patch("/{user_id:int}", response_model=UserPublic, responses=answers(403, 404, 429))
def update_user(
    user_id: ObjectId,
    payload: UserUpdate,
    writer: WriterDep,
    database: DatabaseDep,
    settings: SettingsDep,
) -> UserPublic:
    """Yourself: ``name``, ``password`` (with ``current_password``). Admins: anything."""
    changes = payload.changes()
    if payload.current_password is not None:
        # Each check of the current password counts, like a sign-in.
        count_attempt(
            database,
            password_check_limits(settings, user_id, writer.origin.address),
            writer.origin,
        )

    def update(uow: UnitOfWork) -> UserPublic:
        user = service.update_user(
            uow, user_id=user_id, changes=changes, current_password=payload.current_password
        )
        return _present(uow.session, uow.actor, [user])[0]

    return writer.run(update)


@router.delete(
    "/{user_id:int}", status_code=status.HTTP_204_NO_CONTENT, responses=answers(403, 404)
)
def delete_user(
    user_id: ObjectId,
    writer: WriterDep,
    reassign_to: Annotated[
        int | None,
        Query(ge=1, le=MAX_ID, description="Give the user's articles to this user"),
    ] = None,
    articles: Annotated[
        Literal["delete"] | None, Query(description="`delete`: delete the articles too")
    ] = None,
) -> None:
    """Admins only. A user who wrote articles needs ``reassign_to`` or ``articles=delete``;
    without either, 409 says how many articles there are."""
    writer.run(
        lambda uow: service.delete_user(
            uow, user_id=user_id, articles=articles, reassign_to=reassign_to
        )
    )
