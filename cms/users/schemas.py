"""What the users endpoints accept and return."""

from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from cms.articles.schemas import ArticlePublic
from cms.schemas import Encodable, Name, PartialUpdate, UTCTimestamp
from cms.security import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH
from cms.users.models import EMAIL_MAX_LENGTH, Role, User

Email = Annotated[EmailStr, Field(max_length=EMAIL_MAX_LENGTH)]
Password = Annotated[
    str, Field(min_length=PASSWORD_MIN_LENGTH, max_length=PASSWORD_MAX_LENGTH), Encodable
]


class UserCreate(BaseModel):
    # Unknown fields are errors (is_active cannot be smuggled in); role is declared so
    # admins can set it, and the service refuses it from anyone else.
    model_config = ConfigDict(extra="forbid")

    email: Email
    password: Password
    name: Name = ""
    role: Role | None = Field(default=None, description="Admins only; defaults to author")


class UserUpdate(PartialUpdate):
    nullable: ClassVar[frozenset[str]] = frozenset({"current_password"})

    name: Name | None = None
    password: Password | None = None
    current_password: str | None = Field(
        default=None, max_length=PASSWORD_MAX_LENGTH, description="Needed to change your own"
    )
    email: Email | None = Field(default=None, description="Admins only")
    role: Role | None = Field(default=None, description="Admins only")
    is_active: bool | None = Field(default=None, description="Admins only")


class UserPublic(BaseModel):
    id: int
    email: str
    name: str
    role: Role
    is_active: bool
    created_at: UTCTimestamp
    article_count: int
    articles: list[ArticlePublic]

    @classmethod
    def build(
        cls, user: User, *, articles: list[ArticlePublic], article_count: int
    ) -> "UserPublic":
        return cls(
            id=user.id,
            email=user.email,
            name=user.name,
            role=user.role,
            is_active=user.is_active,
            created_at=user.created_at,
            article_count=article_count,
            articles=articles,
        )
