"""Article counts per author and status, kept by every write

``article_counts`` holds how many articles each author has per stored status; from here
on each write moves it (cms.articles.counts), so the dashboard, ``X-Total-Count`` and
the users' article counts no longer count the articles table. Counted once here from
the articles.

Revision ID: 8f1b6c2d4e56
Revises: 18f606c039de
Create Date: 2026-12-08 03:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8f1b6c2d4e56"
down_revision: str | Sequence[str] | None = "18f606c039de"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "article_counts",
        sa.Column("author_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "published",
                name="article_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("articles", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint("author_id", "status", name=op.f("pk_article_counts")),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
        sqlite_autoincrement=True,
    )
    op.execute(
        "INSERT INTO article_counts (author_id, status, articles) "
        "SELECT author_id, status, COUNT(*) FROM articles GROUP BY author_id, status"
    )


def downgrade() -> None:
    op.drop_table("article_counts")
