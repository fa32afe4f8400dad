"""The floor: what this machine serves with no framework, ORM or validation in the way.

A bare Starlette app over mysqlclient, one hand-written statement per endpoint, answering
what the CMS answers for the same requests (the same article JSON, the same visibility:
published with ``published_at <= now``, newest first). It is the figure the CMS's read
path is measured against, so it must stay honest: the benchmark compares its answers
with the CMS's before measuring and says when they drift (e.g. once articles have tags).

Run as ``uvicorn benchmarks.floor:app`` with ``CMS_DATABASE_URL`` set to the MariaDB URL.
"""

import json
import os
import threading
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import MySQLdb
import MySQLdb.cursors
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

COLUMNS = (
    # url: the built-in site's page, root-relative, as the CMS answers without CMS_SITE_URL.
    "a.id, a.title, a.slug, CONCAT('/posts/', a.slug) AS url, a.body, a.body_html, a.status, "
    "a.published_at, a.created_at, a.updated_at, a.author_id, "
    "COALESCE(NULLIF(u.name, ''), CONCAT('User ', u.id)) AS author, "
    "(SELECT JSON_ARRAYAGG(t.name) FROM article_tags j JOIN tags t ON t.id = j.tag_id "
    "WHERE j.article_id = a.id) AS tags, a.version, a.cover_image_id AS cover_image"
)
VISIBLE = "a.status = 'published' AND a.published_at <= UTC_TIMESTAMP(6)"
NEWEST_FIRST = "ORDER BY a.published_at DESC, a.id DESC"
ROWS = f"SELECT {COLUMNS} FROM articles a JOIN users u ON u.id = a.author_id"  # noqa: S608
ONE = f"{ROWS} WHERE a.id = %s AND {VISIBLE}"
# The CMS's own plan: the page's ids from the index alone, then only those rows.
PAGE = (
    f"{ROWS} JOIN (SELECT a.id FROM articles a WHERE {VISIBLE} {NEWEST_FIRST} "  # noqa: S608
    f"LIMIT %s OFFSET %s) page ON page.id = a.id {NEWEST_FIRST}"
)
# A keyset page: what a cursor costs when the index does the walking, at any depth.
AFTER = (
    f"{ROWS} JOIN (SELECT a.id FROM articles a WHERE {VISIBLE} "  # noqa: S608
    "AND (a.published_at < %s OR (a.published_at = %s AND a.id < %s)) "
    f"{NEWEST_FIRST} LIMIT %s) page ON page.id = a.id {NEWEST_FIRST}"
)
_local = threading.local()


def connect(url: str, *, database: bool = True) -> Any:
    """A mysqlclient connection configured as the CMS configures its own (UTC, utf8mb4),
    to ``url``'s database (or only its server)."""
    parts = urlsplit(url)
    options: dict[str, Any] = {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 3306,
        "user": unquote(parts.username or "root"),
        "password": unquote(parts.password or ""),
        "charset": "utf8mb4",
        "autocommit": True,
        "init_command": "SET time_zone = '+00:00'",
    }
    if database:
        options["database"] = parts.path.lstrip("/")
    return MySQLdb.connect(**options)


def _rows(sql: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
    # Starlette runs these sync endpoints in its thread pool, like FastAPI runs the CMS's.
    connection = getattr(_local, "connection", None)
    if connection is None:
        connection = _local.connection = connect(os.environ["CMS_DATABASE_URL"])
    with connection.cursor(MySQLdb.cursors.DictCursor) as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="microseconds") + "Z"


def _article(row: dict[str, Any]) -> dict[str, Any]:
    """The CMS's ``ArticlePublic``, field for field and in its order."""
    for field in ("published_at", "created_at", "updated_at"):
        row[field] = _time(row[field])
    row["tags"] = sorted(json.loads(row["tags"])) if row["tags"] else []
    # The demo content has no covers: a cover's media object is not built here, so an
    # article with one is answered differently (and the benchmark says so).
    if row["cover_image"] is not None:
        row["cover_image"] = {"id": row["cover_image"]}
    return row


def _json(content: Any, status_code: int = 200) -> Response:
    body = json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(body, status_code=status_code, media_type="application/json")


def _int(request: Request, name: str, default: int, low: int, high: int) -> int | None:
    try:
        value = int(request.query_params.get(name, default))
    except ValueError:
        return None
    return value if low <= value <= high else None


def read_article(request: Request) -> Response:
    rows = _rows(ONE, (request.path_params["article_id"],))
    return _json(_article(rows[0])) if rows else _json({"detail": "Article not found"}, 404)


def list_articles(request: Request) -> Response:
    """``limit`` and ``skip`` as the CMS takes them; ``after=<published_at>,<id>`` for keyset."""
    limit = _int(request, "limit", 20, 1, 100)
    skip = _int(request, "skip", 0, 0, 10_000_000)
    if limit is None or skip is None:
        return _json({"detail": "limit is 1-100, skip 0-10000000"}, 422)
    after = request.query_params.get("after")
    if after is None:
        return _json([_article(row) for row in _rows(PAGE, (limit, skip))])
    published_at, _, article_id = after.rpartition(",")
    rows = _rows(AFTER, (published_at, published_at, article_id, limit))
    return _json([_article(row) for row in rows])


def readyz(_request: Request) -> Response:
    _rows("SELECT 1", ())
    return _json({"status": "ok"})


app = Starlette(
    routes=[
        Route("/articles/", list_articles),
        Route("/articles/{article_id:int}", read_article),
        Route("/readyz", readyz),
    ]
)
