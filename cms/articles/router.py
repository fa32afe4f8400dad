"""``/articles/``: the tutorial's article endpoints, with authors, drafts and publishing."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from cms.articles import service
from cms.articles.schemas import ArticleCreate, ArticlePublic, ArticleUpdate
from cms.deps import ReadSession, Viewer, WriterDep, get_credentials
from cms.schemas import MAX_ID, ObjectId, Skip

# Any token sent is checked, even where none is needed: a bad one is a 401, not anonymity.
router = APIRouter(tags=["articles"], dependencies=[Depends(get_credentials)])

Limit = Annotated[int, Query(ge=1, le=100, description="Page size")]


@router.get("/articles/", response_model=list[ArticlePublic])
def list_articles(
    session: ReadSession,
    skip: Skip = 0,
    limit: Limit = 20,
    author_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> list[ArticlePublic]:
    """Published articles whose publication time has come, newest first."""
    articles = service.list_published_articles(session, skip=skip, limit=limit, author_id=author_id)
    return [ArticlePublic.build(article) for article in articles]


@router.get("/articles/slug/{slug}", response_model=ArticlePublic)
def read_article_by_slug(slug: str, session: ReadSession, viewer: Viewer) -> ArticlePublic:
    article = service.get_visible_article_by_slug(session, viewer=viewer, slug=slug)
    return ArticlePublic.build(article)


@router.get("/articles/{article_id}", response_model=ArticlePublic)
def read_article(article_id: ObjectId, session: ReadSession, viewer: Viewer) -> ArticlePublic:
    """404 unless published or the caller may see the draft."""
    article = service.get_visible_article(session, viewer=viewer, article_id=article_id)
    return ArticlePublic.build(article)


@router.post("/articles/", status_code=status.HTTP_201_CREATED, response_model=ArticlePublic)
def create_article(payload: ArticleCreate, writer: WriterDep, response: Response) -> ArticlePublic:
    """Write an article as the caller; a draft unless ``status`` says otherwise."""
    article = writer.run(
        lambda uow: ArticlePublic.build(service.create_article(uow, draft=payload.draft()))
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
        lambda uow: ArticlePublic.build(
            service.create_article(uow, draft=payload.draft(), author_id=user_id)
        )
    )
    response.headers["Location"] = f"/articles/{article.id}"
    return article


@router.patch("/articles/{article_id}", response_model=ArticlePublic)
def update_article(
    article_id: ObjectId, payload: ArticleUpdate, writer: WriterDep
) -> ArticlePublic:
    """Change any subset of fields; ``{"status": "published"}`` publishes."""
    changes = payload.changes()
    return writer.run(
        lambda uow: ArticlePublic.build(
            service.update_article(uow, article_id=article_id, changes=changes)
        )
    )


@router.delete("/articles/{article_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_article(article_id: ObjectId, writer: WriterDep) -> None:
    writer.run(lambda uow: service.delete_article(uow, article_id=article_id))
