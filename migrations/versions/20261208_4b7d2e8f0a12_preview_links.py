"""Preview links: a shared, expiring, revocable preview of a draft or scheduled article

One row per link, holding a SHA-256 of the token's secret (never the token), who shared
it and when, when it expires and whether it was revoked; deleted with its article. A new
table only: existing rows are untouched both ways.

Revision ID: 4b7d2e8f0a12
Revises: 3f1a6c2d9e01
Create Date: 2026-12-08 03:08:07.299693
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cms.db

revision: str = "4b7d2e8f0a12"
down_revision: str | Sequence[str] | None = "3f1a6c2d9e01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "preview_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_by_name", sa.String(length=108), nullable=False),
        sa.Column("created_at", cms.db.UTCDateTime(), nullable=False),
        sa.Column("expires_at", cms.db.UTCDateTime(), nullable=False),
        sa.Column("revoked_at", cms.db.UTCDateTime(), nullable=True),
        sa.Column("revoked_by_id", sa.Integer(), nullable=True),
        sa.Column("revoked_by_name", sa.String(length=108), nullable=True),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_preview_links_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_preview_links")),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("preview_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_preview_links_article_id"), ["article_id"], unique=False
        )


def downgrade() -> None:
    # The index goes with the table (MySQL refuses to drop it alone: the foreign key
    # needs it).
    op.drop_table("preview_links")
