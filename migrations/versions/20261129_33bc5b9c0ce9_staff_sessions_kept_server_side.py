"""Back-office sessions kept server-side, so that signing out ends every copy of the cookie.

Revision ID: 33bc5b9c0ce9
Revises: 37c97b3a8cc0
Create Date: 2026-11-29 08:17:40.804499
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cms.db

revision: str = "33bc5b9c0ce9"
down_revision: str | Sequence[str] | None = "37c97b3a8cc0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "staff_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", cms.db.UTCDateTime(), nullable=False),
        sa.Column("expires_at", cms.db.UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", cms.db.UTCDateTime(), nullable=False),
        sa.Column("address", sa.String(length=45), nullable=True),
        sa.Column("user_agent", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_staff_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_sessions")),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("staff_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_staff_sessions_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_staff_sessions_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    # The table's indexes go with it (MySQL refuses to drop the foreign key's index first).
    op.drop_table("staff_sessions")
