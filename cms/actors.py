"""Who is acting, and from where: every write names both.

An actor is a signed-in :class:`~cms.users.models.User` or the :data:`SYSTEM` actor (the
operator at the command line). ``None`` stands for an anonymous caller. The permission
policy (:mod:`cms.permissions`) asks an actor only for ``id``, ``role`` and ``is_active``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from cms.roles import Role


class Actor(Protocol):
    """Whoever acts or reads: a :class:`~cms.users.models.User`, the :data:`SYSTEM`
    actor, or a lightweight viewer read for one request. All the policy asks of one."""

    @property
    def id(self) -> int | None: ...

    @property
    def role(self) -> Role: ...

    @property
    def is_active(self) -> bool: ...

    @property
    def display_name(self) -> str: ...


@dataclass(frozen=True)
class SystemActor:
    """Whoever runs ``cms`` on the server: an admin's authority without an account.

    It has no id, so it owns nothing, and it can never sign in.
    """

    name: str = "command line"
    id: None = None
    role: Role = Role.ADMIN
    is_active: bool = True

    @property
    def display_name(self) -> str:
        return self.name


SYSTEM = SystemActor()

Surface = Literal["api", "admin", "cli"]


@dataclass(frozen=True)
class Origin:
    """Where a change came from: the surface, the client's address, the request's id."""

    surface: Surface
    address: str | None = None
    request_id: str | None = None


COMMAND_LINE = Origin(surface="cli")
