"""Full-text search: the one place where what someone typed becomes a ``MATCH`` query.

FULLTEXT indexes on MySQL/MariaDB, an FTS5 table on SQLite (both made by migrations and
invisible to the models). Both engines have a query language of their own, and both parse
it even where we never ask for it: InnoDB's *natural language* mode still reads ``*`` as an
operator (``MATCH … AGAINST ('*')`` is a syntax error) and FTS5 fails on a NUL, an
unbalanced quote or a bare ``AND``. So user text never reaches either parser as written:
it is cut into words first (:func:`search_terms`), and only words are sent — joined by
spaces for MySQL's natural language mode, each a quoted phrase for FTS5. A search with no
word in it (``*``, ``"``, an emoji) matches nothing; one with too many words is refused.
"""

import unicodedata
from typing import Any

from sqlalchemy import ColumnElement, Select, false, literal, literal_column, select, text
from sqlalchemy.dialects import mysql

from cms.articles.models import Article
from cms.errors import InvalidInput

# The full-text indexes the migrations made (370b4dcbb39d), which bulk loads drop and
# build again (cms.bulk): MySQL/MariaDB's FULLTEXT indexes by name and columns, SQLite's
# FTS5 table and the triggers that keep it in step with articles.
FULLTEXT_INDEXES = {
    "ix_articles_fulltext": ("title", "body"),
    # Relevance weighs the title twice: MySQL scores one column only from its own index.
    "ix_articles_fulltext_title": ("title",),
}
# The FTS5 index built again from the articles table, in one pass.
FTS_REBUILD = "INSERT INTO articles_fts(articles_fts) VALUES ('rebuild')"
FTS_TRIGGERS = {
    "articles_fts_insert": "CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN "
    "INSERT INTO articles_fts(rowid, title, body) VALUES (new.id, new.title, new.body); END",
    "articles_fts_delete": "CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN "
    "INSERT INTO articles_fts(articles_fts, rowid, title, body) "
    "VALUES ('delete', old.id, old.title, old.body); END",
    "articles_fts_update": "CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, body "
    "ON articles BEGIN "
    "INSERT INTO articles_fts(articles_fts, rowid, title, body) "
    "VALUES ('delete', old.id, old.title, old.body); "
    "INSERT INTO articles_fts(rowid, title, body) VALUES (new.id, new.title, new.body); END",
}

# More words than anyone searches with (the API's q holds at most 200 characters); the
# bound keeps the statement small whatever a client sends.
MAX_SEARCH_WORDS = 32
TOO_MANY_WORDS = f"search for at most {MAX_SEARCH_WORDS} words"


def search_terms(q: str) -> list[str]:
    """The words of a search, in order: runs of letters, marks and digits (NFC-normalised).

    Everything else (spaces, punctuation, operators of either engine, quotes, symbols,
    emoji, control characters) only separates words, as both engines' tokenizers treat
    it. Raises :class:`InvalidInput` past :data:`MAX_SEARCH_WORDS` words."""
    kept = [
        char if unicodedata.category(char)[0] in "LMN" else " "
        for char in unicodedata.normalize("NFC", q)
    ]
    words = "".join(kept).split()
    if len(words) > MAX_SEARCH_WORDS:
        raise InvalidInput("q", TOO_MANY_WORDS, location="query")
    return words


def _fts5_query(words: list[str]) -> str:
    # Each word a phrase: FTS5 then reads no operator, column filter or prefix in it.
    return " ".join(f'"{word}"' for word in words)


def _fts5_matches(words: list[str]) -> Select[Any]:
    return (
        select(literal_column("rowid").label("rowid"))
        .select_from(text("articles_fts"))
        .where(text("articles_fts MATCH :fts_query").bindparams(fts_query=_fts5_query(words)))
    )


def matches_search(dialect: str, q: str) -> ColumnElement[bool]:
    """Articles whose title or body matches ``q``."""
    words = search_terms(q)
    if not words:
        return false()
    if dialect == "sqlite":
        return Article.id.in_(_fts5_matches(words))
    score = mysql.match(
        Article.__table__.c.title, Article.__table__.c.body, against=" ".join(words)
    )
    condition: ColumnElement[bool] = score.in_natural_language_mode() > 0
    return condition


def by_relevance(ids: Select[Any], dialect: str, q: str) -> Select[Any]:
    """``ids`` restricted to the matches of ``q``, with a ``score`` column, best first
    (bm25 on SQLite, MATCH's score on MySQL)."""
    words = search_terms(q)
    if not words:
        return ids.where(false()).add_columns(literal(0.0).label("score"))
    if dialect == "sqlite":
        ranked = (
            _fts5_matches(words)
            # bm25 with the title weighing twice the body (lower is better).
            .add_columns(literal_column("bm25(articles_fts, 2.0, 1.0)").label("rank"))
            .subquery()
        )
        return (
            ids.join(ranked, ranked.c.rowid == Article.id)
            .add_columns((-ranked.c.rank).label("score"))
            .order_by(ranked.c.rank, Article.id.desc())
        )
    against = " ".join(words)
    anywhere = mysql.match(
        Article.__table__.c.title, Article.__table__.c.body, against=against
    ).in_natural_language_mode()
    in_title = mysql.match(Article.__table__.c.title, against=against).in_natural_language_mode()
    # A match in the title weighs twice one in the body.
    score = anywhere + 2 * in_title
    return (
        ids.where(anywhere > 0)
        .add_columns(score.label("score"))
        .order_by(score.desc(), Article.id.desc())
    )
