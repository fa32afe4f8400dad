"""Articles record which renderer wrote their stored HTML (``cms rerender`` brings the
older ones up to date).

Every existing row was rendered by renderer 0 (CommonMark with tables and strikethrough),
so that is what they are given.

Revision ID: 19f2c7eacbde
Revises: 4a1d2c7e9b10
Create Date: 2026-12-07 23:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "19f2c7eacbde"
down_revision: str | Sequence[str] | None = "4a1d2c7e9b10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN, not a batch operation: on SQLite a batch would copy the table
    # and lose the full-text triggers on it.
    op.add_column(
        "articles",
        sa.Column("rendered_with", sa.SmallInteger(), server_default=sa.text("0"), nullable=False),
    )


def downgrade() -> None:
    # SQLite (3.35+) drops a column in place; the triggers do not name this one.
    op.drop_column("articles", "rendered_with")
