"""Drafts carry no publication time; published articles always have one

An article is a draft, scheduled or published (cms.articles.models.state_of). Before
this revision, unpublishing kept the old time, so a draft could carry a time still to
come and the back office showed it as planned. From now on the actions never store such
a pair; this brings the rows already stored into line. Revisions keep what they said.

Revision ID: 4a1d2c7e9b10
Revises: 370b4dcbb39d
Create Date: 2026-12-07 23:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "4a1d2c7e9b10"
down_revision: str | Sequence[str] | None = "370b4dcbb39d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("UPDATE articles SET published_at = NULL WHERE status = 'draft'")
    op.execute(
        "UPDATE articles SET published_at = updated_at "
        "WHERE status = 'published' AND published_at IS NULL"
    )


def downgrade() -> None:
    # The times cleared were not shown anywhere (a draft's time meant nothing); the
    # schema is unchanged, so there is nothing to undo.
    pass
