"""``/articles/``: the tutorial's article endpoints, with authors, drafts, publishing,
revisions, tags and the trash."""

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Body, Depends, Header, Path, Query, Request, Response, status
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool

from cms.articles import actions, etags, projection, reads, service, tag_reads
from cms.articles.models import Article
from cms.articles.schemas import (
    ArticleCreate,
    ArticlePublic,
    ArticleUpdate,
    MovedArticle,
    RevisionPublic,
    RevisionRestore,
    RevisionSummary,
    TagPublic,
    TrashedArticlePublic,
)
from cms.articles.slugs import is_valid_slug
from cms.config import Settings
from cms.db import Database, utcnow
from cms.deps import (
    Credentials,
    CredentialsDep,
    DatabaseDep,
    ReadSession,
    SettingsDep,
    SignedInViewer,
    SiteAddressesDep,
    WriterDep,
    get_credentials,
    read_viewer,
)
from cms.errors import NotFound
from cms.fields import TAG_MAX_LENGTH
from cms.openapi import DESCRIPTIONS, answers
from cms.schemas import MAX_ID, ObjectId, Skip
from cms.site.urls import SiteAddresses

PRIVATE = "private, no-store"
READ_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"headers": {"ETag": {"schema": {"type": "string"}}}},
    304: {"description": DESCRIPTIONS[304]},
    **answers(404),
}
LIST_HEADERS = {
    "Link": {"description": 'The next page: <url>; rel="next"', "schema": {"type": "string"}},
    "X-Total-Count": {"description": "With include_total=true", "schema": {"type": "integer"}},
    "ETag": {"schema": {"type": "string"}},
}

# Any token sent is checked, even where none is needed: a bad one is a 401, not anonymity.
router = APIRouter(tags=["articles"], dependencies=[Depends(get_credentials)])
tags_router = APIRouter(tags=["tags"], dependencies=[Depends(get_credentials)])
trash_router = APIRouter(tags=["trash"], dependencies=[Depends(get_credentials)])

Limit = Annotated[int, Query(ge=1, le=100, description="Page size")]
RevisionNumber = Annotated[int, Path(ge=1, le=MAX_ID, description="The revision's number")]
IfMatch = Annotated[
    str | None,
    Header(
        description="An ETag from a read of this article: if it changed since, 412 and "
        "nothing changes"
    ),
]


def _with_etag(response: Response, article: Article, addresses: SiteAddresses) -> ArticlePublic:
    response.headers["ETag"] = projection.article_etag(article)
    return ArticlePublic.build(article, addresses)


OrderParam = Annotated[
    str | None,
    Query(
        pattern=r"^-?(published_at|created_at|updated_at|title|id)$",
        description="Sort key, `-` for descending; default `-published_at` (relevance "
        "when `q` is given)",
    ),
]


@router.get(
    "/articles/",
    response_model=list[ArticlePublic],
    responses={200: {"headers": LIST_HEADERS}},
)
async def list_articles(
    request: Request,
    database: DatabaseDep,
    settings: SettingsDep,
    credentials: CredentialsDep,
    addresses: SiteAddressesDep,
    skip: Skip = 0,
    limit: Limit = 20,
    author_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    tag: Annotated[str | None, Query(max_length=64, description="A tag's slug")] = None,
    q: Annotated[
        str | None, Query(min_length=1, max_length=200, description="Full-text search")
    ] = None,
    order: OrderParam = None,
    status_: Annotated[
        reads.StatusFilter | None,
        Query(alias="status", description="draft, scheduled or all: needs a token"),
    ] = None,
    cursor: Annotated[
        str | None, Query(max_length=512, description="From the previous page's Link header")
    ] = None,
    include_total: Annotated[bool, Query(description="Add X-Total-Count")] = False,
) -> Response:
    """Published articles whose time has come, newest first, a page at a time (the next
    page is in the ``Link: <…>; rel="next"`` header); or, with a token and ``status``,
    the drafts and scheduled articles the caller may see."""
    query = reads.ListQuery(
        limit=limit,
        skip=skip,
        author_id=author_id,
        tag=tag,
        q=q,
        order=order,
        status=status_,
        cursor=cursor,
        include_total=include_total,
    )
    now = utcnow()
    secret = settings.secret

    def read(connection: Connection) -> tuple[reads.ListPage, datetime | None]:
        viewer = read_viewer(connection, credentials)
        page = reads.list_articles(
            connection, viewer=viewer, query=query, now=now, secret=secret, addresses=addresses
        )
        public = credentials is None and status_ is None
        return page, reads.next_scheduled(connection, now) if public else None

    page, next_change = await run_in_threadpool(database.read, read)
    headers = {"ETag": page.etag, "Vary": "Authorization"}
    if page.next_cursor is not None:
        headers["Link"] = f'<{_next_url(request, page.next_cursor)}>; rel="next"'
    if page.total is not None:
        headers["X-Total-Count"] = str(page.total)
    if credentials is None and status_ is None:
        headers["Cache-Control"] = _public_cache(settings.cache_max_age, now, next_change)
    else:
        headers["Cache-Control"] = PRIVATE
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None and etags.matches(if_none_match, page.etag):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return _json(page.articles, headers)


@router.get(
    "/articles/slug/{slug}",
    response_model=ArticlePublic,
    responses={
        **READ_RESPONSES,
        301: {
            "description": DESCRIPTIONS[301],
            "model": MovedArticle,
            "headers": {"Location": {"schema": {"type": "string"}}},
        },
    },
)
async def read_article_by_slug(
    slug: Annotated[str, Path(max_length=255)],
    request: Request,
    database: DatabaseDep,
    settings: SettingsDep,
    credentials: CredentialsDep,
) -> Response:
    """The article at ``slug``; a slug it had before answers 301 to the current one."""
    # MySQL ignores trailing spaces when comparing: a slug that cannot exist is not found.
    if not is_valid_slug(slug):
        raise NotFound(reads.ARTICLE_NOT_FOUND)
    return await _read_one(request, database, settings, credentials, slug=slug)


@router.get("/articles/{article_id:int}", response_model=ArticlePublic, responses=READ_RESPONSES)
async def read_article(
    article_id: ObjectId,
    request: Request,
    database: DatabaseDep,
    settings: SettingsDep,
    credentials: CredentialsDep,
) -> Response:
    """404 unless published or the caller may see the draft. ``If-None-Match`` with the
    current ``ETag`` answers 304."""
    return await _read_one(request, database, settings, credentials, article_id=article_id)


async def _read_one(
    request: Request,
    database: Database,
    settings: Settings,
    credentials: Credentials | None,
    *,
    article_id: int | None = None,
    slug: str | None = None,
) -> Response:
    now = utcnow()
    if_none_match = request.headers.get("if-none-match")
    addresses: SiteAddresses = request.app.state.site_addresses

    def read(connection: Connection) -> reads.ArticleRead:
        viewer = read_viewer(connection, credentials)
        return reads.read_article(
            connection,
            viewer=viewer,
            now=now,
            article_id=article_id,
            slug=slug,
            if_none_match=if_none_match,
            addresses=addresses,
        )

    found = await run_in_threadpool(database.read, read)
    headers = {"ETag": found.etag, "Vary": "Authorization"}
    # Anything a token unlocked stays between the caller and the server.
    anonymous_public = credentials is None and found.public
    headers["Cache-Control"] = (
        f"public, max-age={settings.cache_max_age}" if anonymous_public else PRIVATE
    )
    if found.article is None:
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return _json(found.article, headers)


def _json(content: Any, headers: dict[str, str]) -> Response:
    return Response(orjson.dumps(content), media_type="application/json", headers=headers)


def _next_url(request: Request, cursor: str) -> str:
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in ("cursor", "skip")]
    return (
        str(request.url.replace_query_params(**dict(params), cursor=cursor).path)
        + "?"
        + urlencode([*params, ("cursor", cursor)])
    )


def _public_cache(max_age: int, now: datetime, next_change: datetime | None) -> str:
    """Public for ``max_age`` seconds, but never past the moment the page changes by itself
    (the next scheduled article appearing)."""
    if next_change is not None:
        max_age = min(max_age, max(0, int((next_change - now).total_seconds())))
    return f"public, max-age={max_age}"


@router.post(
    "/articles/",
    status_code=status.HTTP_201_CREATED,
    response_model=ArticlePublic,
    responses=answers(403),
)
def create_article(
    payload: ArticleCreate, writer: WriterDep, response: Response, addresses: SiteAddressesDep
) -> ArticlePublic:
    """Write an article as the caller; a draft unless ``status`` says otherwise."""
    action = actions.CreateArticle(draft=payload.draft())
    article = _with_etag(response, writer.run(action), addresses)
    response.headers["Location"] = f"/articles/{article.id}"
    return article


@router.post(
    "/users/{user_id:int}/articles/",
    status_code=status.HTTP_201_CREATED,
    response_model=ArticlePublic,
    responses=answers(403, 404),
)
def create_user_article(
    user_id: ObjectId,
    payload: ArticleCreate,
    writer: WriterDep,
    response: Response,
    addresses: SiteAddressesDep,
) -> ArticlePublic:
    """The tutorial's form: ``user_id`` must be the caller unless the caller is staff."""
    action = actions.CreateArticle(draft=payload.draft(), author_id=user_id)
    article = _with_etag(response, writer.run(action), addresses)
    response.headers["Location"] = f"/articles/{article.id}"
    return article


@router.patch(
    "/articles/{article_id:int}", response_model=ArticlePublic, responses=answers(403, 404, 412)
)
def update_article(
    article_id: ObjectId,
    payload: ArticleUpdate,
    writer: WriterDep,
    response: Response,
    addresses: SiteAddressesDep,
    if_match: IfMatch = None,
) -> ArticlePublic:
    """Change any subset of fields; ``{"status": "published"}`` publishes."""
    action = actions.UpdateArticle(
        article_id=article_id, changes=payload.changes(), if_match=if_match
    )
    return _with_etag(response, writer.run(action), addresses)


@router.delete(
    "/articles/{article_id:int}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=answers(403, 404, 412),
)
def delete_article(article_id: ObjectId, writer: WriterDep, if_match: IfMatch = None) -> None:
    """Move the article to the trash (whoever deleted it, or an admin, can restore it for
    30 days)."""
    writer.run(actions.DeleteArticle(article_id=article_id, if_match=if_match))


# History


@router.get(
    "/articles/{article_id:int}/revisions",
    response_model=list[RevisionSummary],
    responses=answers(403, 404),
)
def list_revisions(
    article_id: ObjectId,
    session: ReadSession,
    viewer: SignedInViewer,
    skip: Skip = 0,
    limit: Annotated[int, Query(ge=1, le=100, description="Page size")] = 100,
) -> list[RevisionSummary]:
    """Saved versions, newest first, a page at a time: for the article's author and
    editors (earlier versions can hold what was taken out of the published text)."""
    revisions = service.list_revisions(
        session, viewer=viewer, article_id=article_id, skip=skip, limit=limit
    )
    return [RevisionSummary.build(revision) for revision in revisions]


@router.get(
    "/articles/{article_id:int}/revisions/{number:int}",
    response_model=RevisionPublic,
    responses=answers(403, 404),
)
def read_revision(
    article_id: ObjectId,
    number: RevisionNumber,
    session: ReadSession,
    viewer: SignedInViewer,
) -> RevisionPublic:
    """One saved version, whole (for the article's author and editors)."""
    revision = service.get_revision(session, viewer=viewer, article_id=article_id, number=number)
    return RevisionPublic.build(revision)


@router.post(
    "/articles/{article_id:int}/revisions/{number:int}/restore",
    response_model=ArticlePublic,
    responses=answers(403, 404, 412),
)
def restore_revision(
    article_id: ObjectId,
    number: RevisionNumber,
    writer: WriterDep,
    response: Response,
    addresses: SiteAddressesDep,
    payload: Annotated[RevisionRestore | None, Body()] = None,
    if_match: IfMatch = None,
) -> ArticlePublic:
    """Make that version's content (title, body, slug, tags) current again, as a new
    revision. The article stays published, scheduled or a draft unless the body asks."""
    publication = None
    if payload is not None:
        publication = actions.Publication(payload.state, payload.published_at)
    action = actions.RestoreRevision(
        article_id=article_id, number=number, publication=publication, if_match=if_match
    )
    return _with_etag(response, writer.run(action), addresses)


# Tags


@tags_router.get(
    "/tags/",
    response_model=list[TagPublic],
    responses={
        200: {"headers": {"Link": LIST_HEADERS["Link"], "ETag": LIST_HEADERS["ETag"]}},
        304: {"description": DESCRIPTIONS[304]},
    },
)
async def list_tags(
    request: Request,
    database: DatabaseDep,
    settings: SettingsDep,
    limit: Limit = 50,
    order: Annotated[
        tag_reads.TagOrder,
        Query(description="`name` (default) or `-article_count` (most used first)"),
    ] = "name",
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=TAG_MAX_LENGTH,
            description="Tags whose name starts with this (any case)",
        ),
    ] = None,
    cursor: Annotated[
        str | None, Query(max_length=512, description="From the previous page's Link header")
    ] = None,
) -> Response:
    """Tags with published articles whose time has come, with how many, a page at a time
    (the next page is in the ``Link: <…>; rel="next"`` header). The same for everyone, so
    cached like public reads."""
    query = tag_reads.TagQuery(limit=limit, order=order, q=q, cursor=cursor)
    now = utcnow()
    secret = settings.secret

    def read(connection: Connection) -> tuple[tag_reads.TagPage, datetime | None]:
        page = tag_reads.list_tags(connection, query=query, now=now, secret=secret)
        return page, reads.next_scheduled(connection, now)

    page, next_change = await run_in_threadpool(database.read, read)
    headers = {
        "ETag": page.etag,
        # A scheduled article appearing changes the counts by itself.
        "Cache-Control": _public_cache(settings.cache_max_age, now, next_change),
    }
    if page.next_cursor is not None:
        headers["Link"] = f'<{_next_url(request, page.next_cursor)}>; rel="next"'
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None and etags.matches(if_none_match, page.etag):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return _json(page.tags, headers)


# The trash: admins see and restore all of it and purge; others restore their own deletes


@trash_router.get(
    "/trash/articles/",
    response_model=list[TrashedArticlePublic],
    responses={200: {"headers": {"X-Total-Count": LIST_HEADERS["X-Total-Count"]}}, **answers(403)},
)
def list_trash(
    session: ReadSession,
    viewer: SignedInViewer,
    response: Response,
    skip: Skip = 0,
    limit: Limit = 50,
) -> list[TrashedArticlePublic]:
    """Deleted articles you can still restore (admins: all of them; everyone else: those
    they deleted themselves), most recently deleted first."""
    page = service.list_trash(session, viewer=viewer, skip=skip, limit=limit)
    response.headers["X-Total-Count"] = str(page.total)
    return [TrashedArticlePublic.build(item) for item in page.items]


@trash_router.post(
    "/trash/articles/{article_id:int}/restore",
    response_model=ArticlePublic,
    responses=answers(403, 404),
)
def restore_from_trash(
    article_id: ObjectId, writer: WriterDep, response: Response, addresses: SiteAddressesDep
) -> ArticlePublic:
    """Bring a deleted article back under its id (and its slug, when still free). Admins
    restore any; everyone else what they deleted themselves (another's: 404)."""
    return _with_etag(
        response, writer.run(actions.UndeleteArticle(article_id=article_id)), addresses
    )


@trash_router.delete(
    "/trash/articles/{article_id:int}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=answers(403, 404),
)
def purge_from_trash(article_id: ObjectId, writer: WriterDep) -> None:
    """Delete a trashed article for good, with its history. Cannot be undone. Admins only."""
    writer.run(actions.PurgeArticle(article_id=article_id))
