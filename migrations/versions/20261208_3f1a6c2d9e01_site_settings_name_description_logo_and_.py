"""Site settings: the site's name, description, logo and navigation links

One row (id 1, held so by a check constraint) that an admin edits in the back office;
until it is first saved there is none and the site shows its defaults. The logo is an
image of the media library (deleting the image clears it).

Revision ID: 3f1a6c2d9e01
Revises: 8f1b6c2d4e56
Create Date: 2026-12-08 03:06:45.306670
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cms.db

revision: str = "3f1a6c2d9e01"
down_revision: str | Sequence[str] | None = "8f1b6c2d4e56"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "site_settings",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.String(length=300), nullable=False),
        sa.Column("logo_id", sa.Integer(), nullable=True),
        sa.Column("nav", sa.Text(), nullable=False),
        sa.Column("updated_at", cms.db.UTCDateTime(), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("id = 1", name=op.f("ck_site_settings_single_row")),
        sa.ForeignKeyConstraint(
            ["logo_id"],
            ["media_assets.id"],
            name=op.f("fk_site_settings_logo_id_media_assets"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["users.id"],
            name=op.f("fk_site_settings_updated_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site_settings")),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    with op.batch_alter_table("site_settings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_site_settings_logo_id"), ["logo_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_site_settings_updated_by_id"), ["updated_by_id"], unique=False
        )


def downgrade() -> None:
    # Its indexes go with it (MySQL refuses to drop a foreign key's index on its own).
    op.drop_table("site_settings")
