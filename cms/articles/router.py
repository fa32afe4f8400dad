"""``/articles/``: the tutorial's article endpoints, with authors, drafts, publishing,
revisions, tags and the trash."""

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response, status

from cms.articles import service
from cms.articles.models import Article
from cms.articles.schemas import (
    ArticleCreate,
    ArticlePublic,
    ArticleUpdate,
    RevisionPublic,
    RevisionSummary,
    TagPublic,
    TrashedArticlePublic,
)
from cms.deps import ReadSession, SignedInViewer, Viewer, WriterDep, get_credentials
from cms.schemas import MAX_ID, ObjectId, Skip

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


def _with_etag(response: Response, article: Article) -> ArticlePublic:
    response.headers["ETag"] = service.etag(article)
    return ArticlePublic.build(article)


def _not_modified(request: Request, article: Article) -> Response | None:
    """304 when the caller's copy (``If-None-Match``) is the current one."""
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None and service.etag_matches(if_none_match, article):
        return Response(
            status_code=status.HTTP_304_NOT_MODIFIED, headers={"ETag": service.etag(article)}
        )
    return None


@router.get("/articles/", response_model=list[ArticlePublic])
def list_articles(
    session: ReadSession,
    skip: Skip = 0,
    limit: Limit = 20,
    author_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    tag: Annotated[str | None, Query(max_length=64, description="A tag's slug")] = None,
) -> list[ArticlePublic]:
    """Published articles whose publication time has come, newest first."""
    articles = service.list_published_articles(
        session, skip=skip, limit=limit, author_id=author_id, tag=tag
    )
    return [ArticlePublic.build(article) for article in articles]


@router.get("/articles/slug/{slug}", response_model=ArticlePublic)
def read_article_by_slug(
    slug: str, request: Request, response: Response, session: ReadSession, viewer: Viewer
) -> ArticlePublic | Response:
    """The article at ``slug``; a slug it had before answers 301 to the current one."""
    article = service.get_visible_article_by_slug(session, viewer=viewer, slug=slug)
    return _not_modified(request, article) or _with_etag(response, article)


@router.get("/articles/{article_id}", response_model=ArticlePublic)
def read_article(
    article_id: ObjectId,
    request: Request,
    response: Response,
    session: ReadSession,
    viewer: Viewer,
) -> ArticlePublic | Response:
    """404 unless published or the caller may see the draft."""
    article = service.get_visible_article(session, viewer=viewer, article_id=article_id)
    return _not_modified(request, article) or _with_etag(response, article)


@router.post("/articles/", status_code=status.HTTP_201_CREATED, response_model=ArticlePublic)
def create_article(payload: ArticleCreate, writer: WriterDep, response: Response) -> ArticlePublic:
    """Write an article as the caller; a draft unless ``status`` says otherwise."""
    article = writer.run(
        lambda uow: _with_etag(response, service.create_article(uow, draft=payload.draft()))
    )
    response.headers["Location"] = f"/articles/{article.id}"
    return article


@router.post(
    "/users/{user_id}/articles/",
    status_code=status.HTTP_201_CREATED,
    response_model=ArticlePublic,
)
def create_user_article(
    user_id: ObjectId, payload: ArticleCreate, writer: WriterDep, response: Response
) -> ArticlePublic:
    """The tutorial's form: ``user_id`` must be the caller unless the caller is staff."""
    article = writer.run(
        lambda uow: _with_etag(
            response, service.create_article(uow, draft=payload.draft(), author_id=user_id)
        )
    )
    response.headers["Location"] = f"/articles/{article.id}"
    return article


@router.patch("/articles/{article_id}", response_model=ArticlePublic)
def update_article(
    article_id: ObjectId,
    payload: ArticleUpdate,
    writer: WriterDep,
    response: Response,
    if_match: IfMatch = None,
) -> ArticlePublic:
    """Change any subset of fields; ``{"status": "published"}`` publishes."""
    changes = payload.changes()
    return writer.run(
        lambda uow: _with_etag(
            response,
            service.update_article(uow, article_id=article_id, changes=changes, if_match=if_match),
        )
    )


@router.delete("/articles/{article_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_article(article_id: ObjectId, writer: WriterDep, if_match: IfMatch = None) -> None:
    """Move the article to the trash (admins can restore it for 30 days)."""
    writer.run(lambda uow: service.delete_article(uow, article_id=article_id, if_match=if_match))


# History


@router.get("/articles/{article_id}/revisions", response_model=list[RevisionSummary])
def list_revisions(
    article_id: ObjectId, session: ReadSession, viewer: Viewer
) -> list[RevisionSummary]:
    """Every saved version, newest first; seen by whoever may see the article."""
    revisions = service.list_revisions(session, viewer=viewer, article_id=article_id)
    return [RevisionSummary.build(revision) for revision in revisions]


@router.get("/articles/{article_id}/revisions/{number}", response_model=RevisionPublic)
def read_revision(
    article_id: ObjectId,
    number: RevisionNumber,
    session: ReadSession,
    viewer: Viewer,
) -> RevisionPublic:
    revision = service.get_revision(session, viewer=viewer, article_id=article_id, number=number)
    return RevisionPublic.build(revision)


@router.post("/articles/{article_id}/revisions/{number}/restore", response_model=ArticlePublic)
def restore_revision(
    article_id: ObjectId,
    number: RevisionNumber,
    writer: WriterDep,
    response: Response,
    if_match: IfMatch = None,
) -> ArticlePublic:
    """Make that version's content current again, as a new revision."""
    return writer.run(
        lambda uow: _with_etag(
            response,
            service.restore_revision(uow, article_id=article_id, number=number, if_match=if_match),
        )
    )


# Tags


@tags_router.get("/tags/", response_model=list[TagPublic])
def list_tags(session: ReadSession) -> list[TagPublic]:
    """Every tag with published articles, most used first."""
    return [TagPublic.build(tag, count) for tag, count in service.tag_counts(session)]


# The trash (admins)


@trash_router.get("/trash/articles/", response_model=list[TrashedArticlePublic])
def list_trash(
    session: ReadSession,
    viewer: SignedInViewer,
    response: Response,
    skip: Skip = 0,
    limit: Limit = 50,
) -> list[TrashedArticlePublic]:
    """Deleted articles that can still be restored, most recently deleted first."""
    page = service.list_trash(session, viewer=viewer, skip=skip, limit=limit)
    response.headers["X-Total-Count"] = str(page.total)
    return [TrashedArticlePublic.build(item) for item in page.items]


@trash_router.post("/trash/articles/{article_id}/restore", response_model=ArticlePublic)
def restore_from_trash(
    article_id: ObjectId, writer: WriterDep, response: Response
) -> ArticlePublic:
    """Bring a deleted article back under its id (and its slug, when still free)."""
    return writer.run(
        lambda uow: _with_etag(response, service.restore_from_trash(uow, article_id=article_id))
    )


@trash_router.delete("/trash/articles/{article_id}", status_code=status.HTTP_204_NO_CONTENT)
def purge_from_trash(article_id: ObjectId, writer: WriterDep) -> None:
    """Delete a trashed article for good, with its history. Cannot be undone."""
    writer.run(lambda uow: service.purge_from_trash(uow, article_id=article_id))
