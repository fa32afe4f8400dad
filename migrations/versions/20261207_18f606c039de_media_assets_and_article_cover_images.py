"""Media assets, and an optional cover image on articles

One row per uploaded image (its bytes live in the media store under their SHA-256), and
``articles.cover_image_id``. On SQLite, batch mode rebuilds the articles table: it is
rebuilt with AUTOINCREMENT and its id counter as it was (a deleted article's id is
never handed out again), and the full-text triggers of 370b4dcbb39d, which the rebuild
drops, are put back (the full-text rows themselves are unchanged, the ids being kept).

Revision ID: 18f606c039de
Revises: 281cd085b06e
Create Date: 2026-12-07 23:15:48.853629
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

import cms.db

revision: str = "18f606c039de"
down_revision: str | Sequence[str] | None = "281cd085b06e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What the models declare for every table (cms.db.TABLE_ARGS): a rebuilt table keeps it.
ARTICLES_TABLE = {
    "sqlite_autoincrement": True,
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
}
# As created by 370b4dcbb39d.
SQLITE_FTS_TRIGGERS = [
    "CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN "
    "INSERT INTO articles_fts(rowid, title, body) VALUES (new.id, new.title, new.body); END",
    "CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN "
    "INSERT INTO articles_fts(articles_fts, rowid, title, body) "
    "VALUES ('delete', old.id, old.title, old.body); END",
    "CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, body ON articles BEGIN "
    "INSERT INTO articles_fts(articles_fts, rowid, title, body) "
    "VALUES ('delete', old.id, old.title, old.body); "
    "INSERT INTO articles_fts(rowid, title, body) VALUES (new.id, new.title, new.body); END",
]


def upgrade() -> None:
    op.create_table(
        "media_assets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "sha256",
            sa.String(length=64)
            .with_variant(
                mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=64), "mariadb"
            )
            .with_variant(
                mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=64), "mysql"
            ),
            nullable=False,
        ),
        sa.Column("mime", sa.String(length=32), nullable=False),
        sa.Column("bytes", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("alt", sa.String(length=500), nullable=False),
        sa.Column("focal_x", sa.Float(), nullable=False),
        sa.Column("focal_y", sa.Float(), nullable=False),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", cms.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["uploaded_by_id"],
            ["users.id"],
            name=op.f("fk_media_assets_uploaded_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_assets")),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("media_assets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_media_assets_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_media_assets_sha256"), ["sha256"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_media_assets_uploaded_by_id"), ["uploaded_by_id"], unique=False
        )

    counter = _sqlite_id_counter()
    with op.batch_alter_table("articles", table_kwargs=ARTICLES_TABLE) as batch_op:
        batch_op.add_column(sa.Column("cover_image_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_articles_cover_image_id"), ["cover_image_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_articles_cover_image_id_media_assets"),
            "media_assets",
            ["cover_image_id"],
            ["id"],
            ondelete="SET NULL",
        )
    _restore_sqlite_table(counter)


def downgrade() -> None:
    counter = _sqlite_id_counter()
    with op.batch_alter_table("articles", table_kwargs=ARTICLES_TABLE) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_articles_cover_image_id_media_assets"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_articles_cover_image_id"))
        batch_op.drop_column("cover_image_id")
    _restore_sqlite_table(counter)

    # Its indexes go with it (MySQL refuses to drop the foreign key's index on its own).
    op.drop_table("media_assets")


def _sqlite_id_counter() -> int | None:
    if op.get_bind().dialect.name != "sqlite":
        return None
    seq = (
        op.get_bind()
        .exec_driver_sql("SELECT seq FROM sqlite_sequence WHERE name = 'articles'")
        .scalar()
    )
    return int(seq) if seq is not None else None


def _restore_sqlite_table(counter: int | None) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for statement in SQLITE_FTS_TRIGGERS:
        op.execute(statement)
    if counter is not None:
        op.execute("DELETE FROM sqlite_sequence WHERE name = 'articles'")
        op.get_bind().exec_driver_sql(
            "INSERT INTO sqlite_sequence (name, seq) VALUES ('articles', ?)", (counter,)
        )
