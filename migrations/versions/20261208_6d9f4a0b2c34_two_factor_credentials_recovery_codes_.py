"""Two-factor sign-in: TOTP credentials, recovery codes and the site's policy

``two_factor_credentials`` holds each user's TOTP seed sealed under the site key (and
one awaiting confirmation), ``recovery_codes`` their keyed hashes, ``two_factor_policy``
at most one row saying who must use a second factor (none until an admin sets it:
nobody, as before this revision). Nothing
existing changes; downgrading drops the three tables (and with them every enrolment).

Revision ID: 6d9f4a0b2c34
Revises: 5c8e3f9a1b23
Create Date: 2026-12-08 03:08:56.126630
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cms.db

revision: str = "6d9f4a0b2c34"
down_revision: str | Sequence[str] | None = "5c8e3f9a1b23"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "two_factor_policy",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("required_for", sa.String(length=16), nullable=False),
        sa.Column("updated_at", cms.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_two_factor_policy")),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
        sqlite_autoincrement=True,
    )
    op.create_table(
        "recovery_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", cms.db.UTCDateTime(), nullable=False),
        sa.Column("used_at", cms.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_recovery_codes_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_codes")),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("recovery_codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recovery_codes_user_id"), ["user_id"], unique=False)

    op.create_table(
        "two_factor_credentials",
        sa.Column("user_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("secret", sa.String(length=255), nullable=True),
        sa.Column("pending_secret", sa.String(length=255), nullable=True),
        sa.Column("enabled_at", cms.db.UTCDateTime(), nullable=True),
        sa.Column("last_used_step", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_two_factor_credentials_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_two_factor_credentials")),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
        sqlite_autoincrement=True,
    )
    # No policy row until an admin sets one: its absence is "nobody", and a dump loads
    # only into a database with no rows at all.


def downgrade() -> None:
    # Dropping a table drops its indexes; MariaDB refuses to drop an index a foreign
    # key needs on its own.
    op.drop_table("two_factor_credentials")
    op.drop_table("recovery_codes")
    op.drop_table("two_factor_policy")
