"""What the articles endpoints accept and return."""

from datetime import datetime
from typing import Annotated, ClassVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from cms.articles.models import BODY_MAX_BYTES, TITLE_MAX_LENGTH, Article, ArticleStatus
from cms.articles.service import publication_time_in_utc
from cms.articles.slugs import SLUG_MAX_LENGTH, SLUG_PATTERN
from cms.errors import InvalidInput
from cms.schemas import Encodable, NonBlank, PartialUpdate, UTCTimestamp


def _body_within_limit(body: str) -> str:
    if len(body.encode("utf-8")) > BODY_MAX_BYTES:
        raise ValueError(f"must be at most {BODY_MAX_BYTES} bytes of UTF-8 (1 MiB)")
    return body


Title = Annotated[str, Field(min_length=1, max_length=TITLE_MAX_LENGTH), Encodable, NonBlank]
Body = Annotated[str, Encodable, AfterValidator(_body_within_limit)]


def _publication_time(value: datetime) -> datetime:
    try:
        return publication_time_in_utc(value)
    except InvalidInput as exc:
        raise ValueError(exc.message) from exc


PublicationTime = Annotated[AwareDatetime, AfterValidator(_publication_time)]
Slug = Annotated[str, Field(max_length=SLUG_MAX_LENGTH, pattern=SLUG_PATTERN)]


class ArticleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    body: Body = ""
    slug: Slug | None = Field(default=None, description="Made from the title when absent")
    status: ArticleStatus = ArticleStatus.DRAFT
    published_at: PublicationTime | None = Field(
        default=None, description="Defaults to the moment it is published; future = scheduled"
    )


class ArticleUpdate(PartialUpdate):
    """Any subset of the create fields; only ``published_at`` may be null."""

    nullable: ClassVar[frozenset[str]] = frozenset({"published_at"})

    title: Title | None = None
    body: Body | None = None
    slug: Slug | None = None
    status: ArticleStatus | None = None
    published_at: PublicationTime | None = None


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
