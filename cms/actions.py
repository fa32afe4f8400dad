"""Editorial actions: one class per operation an editor can perform.

An action is a frozen dataclass holding what the caller asked for (plain values: ids, a
typed change set). Calling it with a :class:`~cms.db.UnitOfWork` checks the permission
policy, changes the rows, and records what happened under the action's own
:attr:`Action.name` (the revision, the audit entry, later the outbox event) in that same
transaction. Every surface runs the same action the same way::

    article = database.run(PublishArticle(article_id=7), actor=user, origin=origin)

so the API, the back office, the command line and any future worker cannot drift apart.

Work that does not need the database (rendering Markdown, hashing) is done when the action
is built, before :meth:`~cms.db.Database.run` begins its transaction: on SQLite a writing
transaction holds the one write lock from its first statement, and a deadlock retry runs
the call again, never the preparation.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, Generic, TypeVar

from cms.db import UnitOfWork

R = TypeVar("R")


class Action(ABC, Generic[R]):
    """One editorial operation. Subclasses are frozen dataclasses and set :attr:`name`."""

    name: ClassVar[str]
    """What the audit trail (and the outbox) calls this operation, e.g. ``"publish"``."""

    def prepare(self) -> None:
        """Work that needs no database, done once before the transaction begins
        (:meth:`~cms.db.Database.run` calls it). Nothing by default."""

    @abstractmethod
    def __call__(self, uow: UnitOfWork) -> R:
        """Check, change and record, inside ``uow``; flush, never commit."""
