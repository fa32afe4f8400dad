"""``/articles/``: the tutorial's article endpoints, with authors, drafts and publishing."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from cms.articles import service
from cms.articles.models import Article
from cms.articles.schemas import ArticleCreate, ArticlePublic, ArticleUpdate
from cms.deps import CurrentUser, OptionalUser, SessionDep, get_optional_user
from cms.schemas import MAX_ID, ObjectId, Skip

# Any token sent is checked, even where none is needed: a bad one is a 401, not anonymity.
router = APIRouter(tags=["articles"], dependencies=[Depends(get_optional_user)])

Limit = Annotated[int, Query(ge=1, le=100, description="Page size")]


@router.get("/articles/", response_model=list[ArticlePublic])
def list_articles(
    session: SessionDep,
    skip: Skip = 0,
    limit: Limit = 20,
    author_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> list[ArticlePublic]:
    """Published articles whose publication time has come, newest first."""
    articles = service.list_published_articles(session, skip=skip, limit=limit, author_id=author_id)
    return [ArticlePublic.build(article) for article in articles]


@router.get("/articles/slug/{slug}", response_model=ArticlePublic)
def read_article_by_slug(slug: str, session: SessionDep, viewer: OptionalUser) -> ArticlePublic:
    article = service.get_visible_article_by_slug(session, viewer=viewer, slug=slug)
    return ArticlePublic.build(article)


@router.get("/articles/{article_id}", response_model=ArticlePublic)
def read_article(article_id: ObjectId, session: SessionDep, viewer: OptionalUser) -> ArticlePublic:
    """404 unless published or the caller may see the draft."""
    article = service.get_visible_article(session, viewer=viewer, article_id=article_id)
    return ArticlePublic.build(article)


def _create(
    session: SessionDep, actor: CurrentUser, author_id: int, payload: ArticleCreate
) -> Article:
    return service.create_article(
        session,
        actor=actor,
        author_id=author_id,
        title=payload.title,
        body=payload.body,
        slug=payload.slug,
        status=payload.status,
        published_at=payload.published_at,
    )


@router.post("/articles/", status_code=status.HTTP_201_CREATED, response_model=ArticlePublic)
def create_article(
    payload: ArticleCreate, session: SessionDep, actor: CurrentUser, response: Response
) -> ArticlePublic:
    """Write an article as the caller; a draft unless ``status`` says otherwise."""
    article = _create(session, actor, actor.id, payload)
    response.headers["Location"] = f"/articles/{article.id}"
    return ArticlePublic.build(article)


@router.post(
    "/users/{user_id}/articles/",
    status_code=status.HTTP_201_CREATED,
    response_model=ArticlePublic,
)
def create_user_article(
    user_id: ObjectId,
    payload: ArticleCreate,
    session: SessionDep,
    actor: CurrentUser,
    response: Response,
) -> ArticlePublic:
    """The tutorial's form: ``user_id`` must be the caller unless the caller is staff."""
    article = _create(session, actor, user_id, payload)
    response.headers["Location"] = f"/articles/{article.id}"
    return ArticlePublic.build(article)


@router.patch("/articles/{article_id}", response_model=ArticlePublic)
def update_article(
    article_id: ObjectId, payload: ArticleUpdate, session: SessionDep, actor: CurrentUser
) -> ArticlePublic:
    """Change any subset of fields; ``{"status": "published"}`` publishes."""
    article = service.get_visible_article(
        session, viewer=actor, article_id=article_id, for_update=True
    )
    service.update_article(
        session, actor=actor, article=article, changes=payload.model_dump(exclude_unset=True)
    )
    return ArticlePublic.build(article)


@router.delete("/articles/{article_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_article(article_id: ObjectId, session: SessionDep, actor: CurrentUser) -> None:
    article = service.get_visible_article(
        session, viewer=actor, article_id=article_id, for_update=True
    )
    service.delete_article(session, actor=actor, article=article)
