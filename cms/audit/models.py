"""The audit trail: who did what to which object, when, and from where."""

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cms.db import TABLE_ARGS, Base, LongText, UTCDateTime, utcnow
from cms.fields import NAME_MAX_LENGTH


class AuditEntry(Base):
    """One thing that happened. Written in the same transaction as the change it records,
    never edited or deleted afterwards.

    The actor and the object are kept by id *and* by name, so an entry still reads right
    after either is renamed or deleted (no foreign keys: the trail outlives them).
    """

    __tablename__ = "audit_entries"
    __table_args__ = (
        Index("ix_audit_entries_object", "object_type", "object_id"),
        TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # None: the command line (the system actor) or an anonymous caller.
    actor_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    actor_name: Mapped[str] = mapped_column(String(NAME_MAX_LENGTH + 8), default="")
    action: Mapped[str] = mapped_column(String(32), index=True)
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    object_repr: Mapped[str] = mapped_column(String(255), default="")
    # {"field": [before, after]} as JSON; secrets appear only as "(changed)".
    changes: Mapped[str] = mapped_column(LongText, default="{}")
    surface: Mapped[str] = mapped_column(String(8), default="")
    address: Mapped[str | None] = mapped_column(String(45), nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
