"""What the articles endpoints accept and return."""

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from cms.articles.changes import ArticleChanges, ArticleDraft
from cms.articles.models import Article, ArticleStatus
from cms.fields import Body, PublicationTime, Slug, Title
from cms.schemas import PartialUpdate, UTCTimestamp


class ArticleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    body: Body = ""
    slug: Slug | None = Field(default=None, description="Made from the title when absent")
    status: ArticleStatus = ArticleStatus.DRAFT
    published_at: PublicationTime | None = Field(
        default=None, description="Defaults to the moment it is published; future = scheduled"
    )

    def draft(self) -> ArticleDraft:
        return ArticleDraft(
            title=self.title,
            body=self.body,
            slug=self.slug,
            status=self.status,
            published_at=self.published_at,
        )


class ArticleUpdate(PartialUpdate):
    """Any subset of the create fields; only ``published_at`` may be null."""

    nullable: ClassVar[frozenset[str]] = frozenset({"published_at"})

    title: Title | None = None
    body: Body | None = None
    slug: Slug | None = None
    status: ArticleStatus | None = None
    published_at: PublicationTime | None = None

    def changes(self) -> ArticleChanges:
        return ArticleChanges(**self.model_dump(exclude_unset=True))


class ArticlePublic(BaseModel):
    id: int
    title: str
    slug: str
    body: str
    body_html: str
    status: ArticleStatus
    published_at: UTCTimestamp | None
    created_at: UTCTimestamp
    updated_at: UTCTimestamp
    author_id: int
    author: str = Field(description="The author's display name")
    tags: list[str]
    version: int

    @classmethod
    def build(cls, article: Article) -> "ArticlePublic":
        return cls(
            id=article.id,
            title=article.title,
            slug=article.slug,
            body=article.body,
            body_html=article.body_html,
            status=article.status,
            published_at=article.published_at,
            created_at=article.created_at,
            updated_at=article.updated_at,
            author_id=article.author_id,
            author=article.author.display_name,
            tags=[],
            version=article.version,
        )
