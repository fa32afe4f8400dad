"""The ``User`` model: who can sign in, and with which role."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, Enum, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cms import security
from cms.db import TABLE_ARGS, Base, UTCDateTime, exact_string, utcnow
from cms.fields import EMAIL_MAX_LENGTH, NAME_MAX_LENGTH
from cms.roles import Role

if TYPE_CHECKING:
    from cms.articles.models import Article


def display_name(name: str | None, user_id: int | None) -> str:
    """How a user is named wherever others see them (an article's author, a history): their
    name, or ``User 7`` without one; never the email address."""
    return name or f"User {user_id}"


class User(Base):
    __tablename__ = "users"
    __table_args__ = TABLE_ARGS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Stored lower-cased so uniqueness is case-insensitive on every backend.
    email: Mapped[str] = mapped_column(exact_string(EMAIL_MAX_LENGTH), unique=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX_LENGTH), default="")
    role: Mapped[Role] = mapped_column(
        Enum(
            Role,
            native_enum=False,
            create_constraint=True,
            length=16,
            name="role",
            values_callable=lambda roles: [role.value for role in roles],
        ),
        default=Role.AUTHOR,
    )
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    hashed_password: Mapped[str] = mapped_column(String(255))
    # Embedded in every token; bumping it revokes them all (password change, deactivation).
    session_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    articles: Mapped[list[Article]] = relationship(
        back_populates="author", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def display_name(self) -> str:
        """The public name: never the email address."""
        return display_name(self.name, self.id)

    def set_password(self, password: str) -> None:
        """Store an argon2id hash of ``password`` and revoke every token issued before.

        The one way a plaintext password reaches the database: the API, the back office
        and the CLI all call it. Raises :class:`cms.errors.InvalidInput` for a password
        outside the accepted length.
        """
        self.hashed_password = security.hash_password(password)
        self.session_version = (self.session_version or 0) + 1

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"

    def __str__(self) -> str:
        # Shown by the back office where a user is referenced (e.g. an article's author).
        return f"{self.display_name} <{self.email}>"
