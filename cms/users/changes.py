"""What a write to a user account asks for (see :mod:`cms.changes`)."""

from dataclasses import dataclass

from cms.changes import UNSET, ChangeSet, Unset
from cms.roles import Role


@dataclass(frozen=True, kw_only=True)
class NewAccount:
    """A new user account."""

    email: str
    password: str
    name: str = ""
    role: Role | None = None
    is_active: bool = True


@dataclass(frozen=True, kw_only=True)
class AccountChanges(ChangeSet):
    """Changes to an account. ``name`` and ``password`` are the user's own to change;
    the rest need an admin."""

    name: str | Unset = UNSET
    password: str | Unset = UNSET
    email: str | Unset = UNSET
    role: Role | Unset = UNSET
    is_active: bool | Unset = UNSET
