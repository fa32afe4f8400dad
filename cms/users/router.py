"""``/users/``: sign-up, profiles, and user management for admins."""

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status
from sqlalchemy.orm import Session

from cms.articles.schemas import ArticlePublic
from cms.articles.service import newest_articles_by_author
from cms.deps import CurrentUser, OptionalUser, SessionDep, SettingsDep, get_optional_user
from cms.schemas import ObjectId, Skip
from cms.users import service
from cms.users.models import User
from cms.users.schemas import UserCreate, UserPublic, UserUpdate

router = APIRouter(prefix="/users", tags=["users"], dependencies=[Depends(get_optional_user)])

ARTICLES_PER_USER = 100


def _present(session: Session, viewer: User | None, users: Sequence[User]) -> list[UserPublic]:
    articles, counts = newest_articles_by_author(
        session, viewer=viewer, author_ids=[user.id for user in users], limit=ARTICLES_PER_USER
    )
    return [
        UserPublic.build(
            user,
            articles=[ArticlePublic.build(article) for article in articles[user.id]],
            article_count=counts[user.id],
        )
        for user in users
    ]


@router.post("/", status_code=status.HTTP_201_CREATED, response_model=UserPublic)
def create_user(
    payload: UserCreate,
    session: SessionDep,
    settings: SettingsDep,
    actor: OptionalUser,
    response: Response,
) -> UserPublic:
    """Sign up (anonymous, when allowed) or add a user (admins, who may also set ``role``)."""
    user = service.create_user(
        session,
        actor=actor,
        email=payload.email,
        password=payload.password,
        name=payload.name,
        role=payload.role,
        allow_signup=settings.allow_signup,
    )
    response.headers["Location"] = f"/users/{user.id}"
    return _present(session, actor or user, [user])[0]


@router.get("/", response_model=list[UserPublic])
def list_users(
    session: SessionDep,
    actor: CurrentUser,
    skip: Skip = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 100,
) -> list[UserPublic]:
    """Every user, for editors and admins."""
    users = service.list_users(session, actor=actor, skip=skip, limit=limit)
    return _present(session, actor, users)


@router.get("/me", response_model=UserPublic)
def read_me(session: SessionDep, actor: CurrentUser) -> UserPublic:
    return _present(session, actor, [actor])[0]


@router.get("/{user_id}", response_model=UserPublic)
def read_user(user_id: ObjectId, session: SessionDep, actor: OptionalUser) -> UserPublic:
    """Yourself, or anyone if you are staff; otherwise 404."""
    user = service.get_visible_user(session, actor=actor, user_id=user_id)
    return _present(session, actor, [user])[0]


@router.patch("/{user_id}", response_model=UserPublic)
def update_user(
    user_id: ObjectId, payload: UserUpdate, session: SessionDep, actor: CurrentUser
) -> UserPublic:
    """Yourself: ``name``, ``password`` (with ``current_password``). Admins: anything."""
    user = service.get_visible_user(session, actor=actor, user_id=user_id)
    changes = payload.model_dump(exclude_unset=True, exclude={"current_password"})
    service.update_user(
        session,
        actor=actor,
        target=user,
        changes=changes,
        current_password=payload.current_password,
    )
    return _present(session, actor, [user])[0]


@router.delete("/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_user(user_id: ObjectId, session: SessionDep, actor: CurrentUser) -> None:
    """Admins only; the user's articles are deleted with them."""
    user = service.get_visible_user(session, actor=actor, user_id=user_id)
    service.delete_user(session, actor=actor, target=user)
