"""Tag counts kept by every write, indexes for GET /tags/, and unused tags removed.

``tags.published_count`` (published articles with the tag, scheduled ones included) and
``tags.tagged_count`` (every article with it, drafts too) are counted once here from the
articles; from then on each write moves them (cms.articles.tag_counts). Tags no article
carries are removed: nothing refers to them (the trash keeps tag names, not ids).

Revision ID: 7892434eb624
Revises: 19f2c7eacbde
Create Date: 2026-12-07 22:54:52.334399
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7892434eb624"
down_revision: str | Sequence[str] | None = "19f2c7eacbde"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BACKFILL = [
    "UPDATE tags SET "
    "tagged_count = (SELECT COUNT(*) FROM article_tags WHERE article_tags.tag_id = tags.id), "
    "published_count = (SELECT COUNT(*) FROM article_tags "
    "JOIN articles ON articles.id = article_tags.article_id "
    "WHERE article_tags.tag_id = tags.id AND articles.status = 'published')",
    "DELETE FROM tags WHERE tagged_count = 0",
]


def upgrade() -> None:
    with op.batch_alter_table("tags", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("published_count", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("tagged_count", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.create_index("ix_tags_name", ["name", "id"], unique=False)
        batch_op.create_index(
            "ix_tags_popular",
            [sa.literal_column("published_count DESC"), "name", "id"],
            unique=False,
        )
    for statement in BACKFILL:
        op.execute(statement)


def downgrade() -> None:
    with op.batch_alter_table("tags", schema=None) as batch_op:
        batch_op.drop_index("ix_tags_popular")
        batch_op.drop_index("ix_tags_name")
        batch_op.drop_column("tagged_count")
        batch_op.drop_column("published_count")
