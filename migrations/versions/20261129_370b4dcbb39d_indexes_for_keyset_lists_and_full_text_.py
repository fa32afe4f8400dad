"""Indexes for keyset pages of the public lists, and full-text search over articles.

MySQL/MariaDB get FULLTEXT indexes on (title, body) and (title); SQLite an FTS5 table kept in step
with articles by triggers. Neither is in the models' metadata: migrations/env.py tells
autogenerate to leave them alone.

Revision ID: 370b4dcbb39d
Revises: 3574cb98a98c
Create Date: 2026-11-29 09:26:41.325318
"""

from collections.abc import Sequence

from alembic import op

revision: str = "370b4dcbb39d"
down_revision: str | Sequence[str] | None = "3574cb98a98c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


PUBLIC_INDEXES = {
    "ix_articles_public_published": ["status", "published_at", "id"],
    "ix_articles_public_created": ["status", "created_at", "id"],
    "ix_articles_public_updated": ["status", "updated_at", "id"],
    "ix_articles_public_title": ["status", "title", "id"],
}
SQLITE_FTS = [
    "CREATE VIRTUAL TABLE articles_fts USING fts5(title, body, content='articles', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN "
    "INSERT INTO articles_fts(rowid, title, body) VALUES (new.id, new.title, new.body); END",
    "CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN "
    "INSERT INTO articles_fts(articles_fts, rowid, title, body) "
    "VALUES ('delete', old.id, old.title, old.body); END",
    "CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, body ON articles BEGIN "
    "INSERT INTO articles_fts(articles_fts, rowid, title, body) "
    "VALUES ('delete', old.id, old.title, old.body); "
    "INSERT INTO articles_fts(rowid, title, body) VALUES (new.id, new.title, new.body); END",
    # The articles already there.
    "INSERT INTO articles_fts(articles_fts) VALUES ('rebuild')",
]


def upgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        # The author listing first: MySQL's foreign key on author_id needs an index.
        batch_op.create_index(
            "ix_articles_author_listing",
            ["author_id", "status", "published_at", "id"],
            unique=False,
        )
        for name, columns in PUBLIC_INDEXES.items():
            batch_op.create_index(name, columns, unique=False)
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_index("ix_articles_author_id")
        batch_op.drop_index("ix_articles_status_published_at")
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_FTS:
            op.execute(statement)
    else:
        op.execute("CREATE FULLTEXT INDEX ix_articles_fulltext ON articles (title, body)")
        # Relevance weighs the title twice: MySQL scores one column only from its own index.
        op.execute("CREATE FULLTEXT INDEX ix_articles_fulltext_title ON articles (title)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER articles_fts_{trigger}")
        op.execute("DROP TABLE articles_fts")
    else:
        op.execute("DROP INDEX ix_articles_fulltext_title ON articles")
        op.execute("DROP INDEX ix_articles_fulltext ON articles")
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.create_index("ix_articles_author_id", ["author_id"], unique=False)
        batch_op.create_index(
            "ix_articles_status_published_at", ["status", "published_at"], unique=False
        )
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_index("ix_articles_author_listing")
        for name in PUBLIC_INDEXES:
            batch_op.drop_index(name)
