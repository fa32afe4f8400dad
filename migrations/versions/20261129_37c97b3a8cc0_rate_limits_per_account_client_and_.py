"""Rate limits per account, client and address (replaces per-email login throttles).

Revision ID: 37c97b3a8cc0
Revises: 2c98170cd2b2
Create Date: 2026-11-29 08:08:41.857626
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

import cms.db

revision: str = "37c97b3a8cc0"
down_revision: str | Sequence[str] | None = "2c98170cd2b2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rate_limits",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=32), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("window_started_at", cms.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_limits")),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    with op.batch_alter_table("rate_limits", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rate_limits_window_started_at"), ["window_started_at"], unique=False
        )

    op.drop_table("login_throttles")


def downgrade() -> None:
    # The old per-email table comes back empty: counters are transient by nature.
    op.create_table(
        "login_throttles",
        sa.Column(
            "login",
            sa.String(length=254).with_variant(
                mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=254),
                "mysql",
                "mariadb",
            ),
            nullable=False,
        ),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", cms.db.UTCDateTime(), nullable=False),
        sa.Column("locked_until", cms.db.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("login", name=op.f("pk_login_throttles")),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("rate_limits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rate_limits_window_started_at"))
    op.drop_table("rate_limits")
