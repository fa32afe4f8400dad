"""What the users endpoints accept and return."""

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from cms.articles.schemas import ArticleSummary
from cms.fields import PASSWORD_MAX_LENGTH, Email, Name, Password
from cms.roles import Role
from cms.schemas import PartialUpdate, UTCTimestamp
from cms.users.changes import AccountChanges, NewAccount
from cms.users.models import User


class UserCreate(BaseModel):
    # Unknown fields are errors (is_active cannot be smuggled in); role is declared so
    # admins can set it, and the service refuses it from anyone else.
    model_config = ConfigDict(extra="forbid")

    email: Email
    password: Password
    name: Name = ""
    role: Role | None = Field(default=None, description="Admins only; defaults to author")

    def account(self) -> NewAccount:
        return NewAccount(email=self.email, password=self.password, name=self.name, role=self.role)


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

    def changes(self) -> AccountChanges:
        return AccountChanges(**self.model_dump(exclude_unset=True, exclude={"current_password"}))


class UserPublic(BaseModel):
    id: int
    email: str
    name: str
    role: Role
    is_active: bool
    created_at: UTCTimestamp
    article_count: int = Field(description="Articles the caller may see")
    articles: list[ArticleSummary] = Field(
        description="The newest of them (at most 100), without bodies"
    )

    @classmethod
    def build(
        cls, user: User, *, articles: list[ArticleSummary], article_count: int
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
