"""index the article columns the back office sorts by

Revision ID: 78723e65118a
Revises: b22d34f94651
Create Date: 2026-11-26 13:14:46.829971
"""

from collections.abc import Sequence

from alembic import op

revision: str = "78723e65118a"
down_revision: str | Sequence[str] | None = "b22d34f94651"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_articles_created_at"), ["created_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_articles_published_at"), ["published_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_articles_title"), ["title"], unique=False)
        batch_op.create_index(batch_op.f("ix_articles_updated_at"), ["updated_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_articles_updated_at"))
        batch_op.drop_index(batch_op.f("ix_articles_title"))
        batch_op.drop_index(batch_op.f("ix_articles_published_at"))
        batch_op.drop_index(batch_op.f("ix_articles_created_at"))
