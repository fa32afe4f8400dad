"""What the articles endpoints accept and return."""

import json
from datetime import timedelta
from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from cms.articles.changes import ArticleChanges, ArticleDraft
from cms.articles.models import (
    TRASH_DAYS,
    Article,
    ArticleRevision,
    ArticleState,
    ArticleStatus,
    TrashedArticle,
)
from cms.articles.projection import from_article
from cms.fields import (
    MAX_TAGS,
    Body,
    PublicationTime,
    Slug,
    TagEntry,
    Title,
)
from cms.media.schemas import MediaPublic
from cms.schemas import MAX_ID, PartialUpdate, UTCTimestamp
from cms.site.urls import SiteAddresses

# At most MAX_TAGS entries of at most 50 characters: blank entries and duplicates are
# accepted and cleaned away. (Counting entries, not what is left after cleaning, is a rule
# the schema can state exactly.)
TagList = Annotated[
    list[TagEntry],
    Field(
        max_length=MAX_TAGS,
        description=f"At most {MAX_TAGS} tag names; blanks and duplicates are dropped",
    ),
]


CoverImageId = Annotated[
    int,
    Field(ge=1, le=MAX_ID, description="A media asset of yours (staff: anyone's); null: none"),
]


class ArticleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    body: Body = ""
    slug: Slug | None = Field(default=None, description="Made from the title when absent")
    status: ArticleStatus = ArticleStatus.DRAFT
    published_at: PublicationTime | None = Field(
        default=None, description="Defaults to the moment it is published; future = scheduled"
    )
    tags: TagList = Field(default_factory=list)
    cover_image_id: CoverImageId | None = None

    def draft(self) -> ArticleDraft:
        return ArticleDraft(
            title=self.title,
            body=self.body,
            slug=self.slug,
            status=self.status,
            published_at=self.published_at,
            tags=tuple(self.tags),
            cover_image_id=self.cover_image_id,
        )


class ArticleUpdate(PartialUpdate):
    """Any subset of the create fields; only ``published_at`` and ``cover_image_id`` may be
    null."""

    nullable: ClassVar[frozenset[str]] = frozenset({"published_at", "cover_image_id"})

    title: Title | None = None
    body: Body | None = None
    slug: Slug | None = None
    status: ArticleStatus | None = None
    published_at: PublicationTime | None = None
    tags: TagList | None = None
    cover_image_id: CoverImageId | None = None

    def changes(self) -> ArticleChanges:
        given = self.model_dump(exclude_unset=True)
        if "tags" in given:
            given["tags"] = tuple(given["tags"])
        return ArticleChanges(**given)


class RevisionRestore(BaseModel):
    """How a restore leaves the article's publication: as it is, unless ``state`` says."""

    model_config = ConfigDict(extra="forbid")

    state: ArticleState = Field(
        description="draft, scheduled (with a future published_at) or published; "
        "send no body to leave the article as it is"
    )
    published_at: PublicationTime | None = Field(
        default=None, description="For scheduled: when; for published: a time that has passed"
    )


class ArticlePublic(BaseModel):
    id: int
    title: str
    slug: str
    url: str = Field(
        description="The article's public address: the built-in site's page, or the front "
        "end's (CMS_SITE_FRONTEND_URL); absolute when CMS_SITE_URL or the front end's pattern "
        "gives the origin, otherwise root-relative"
    )
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
    cover_image: MediaPublic | None = Field(
        description="The picture shown with the article (its alt text describes it)"
    )

    @classmethod
    def build(cls, article: Article, addresses: SiteAddresses) -> "ArticlePublic":
        return cls.model_validate(from_article(article, addresses=addresses))


class MovedArticle(BaseModel):
    """The answer for a slug the article had before (301, ``Location`` gives the URL)."""

    detail: str
    slug: str = Field(description="The article's current slug")


class ArticleSummary(BaseModel):
    """An article in a list of someone's articles: enough to find it, no body."""

    id: int
    title: str
    slug: str
    status: ArticleStatus
    published_at: UTCTimestamp | None
    updated_at: UTCTimestamp


class RevisionSummary(BaseModel):
    number: int
    title: str
    status: ArticleStatus
    state: ArticleState = Field(
        description="What the article was once this was saved: draft, scheduled or published"
    )
    saved_at: UTCTimestamp
    saved_by: str = Field(description="Who saved it (their name at the time)")

    @classmethod
    def build(cls, revision: ArticleRevision) -> "RevisionSummary":
        return cls(
            number=revision.number,
            title=revision.title,
            status=revision.status,
            state=revision.state,
            saved_at=revision.saved_at,
            saved_by=revision.saved_by_name,
        )


class RevisionPublic(RevisionSummary):
    slug: str
    body: str
    published_at: UTCTimestamp | None
    tags: list[str]
    version: int = Field(description="The article's version once this was saved")

    @classmethod
    def build(cls, revision: ArticleRevision) -> "RevisionPublic":
        names: list[str] = json.loads(revision.tags)
        return cls(
            **dict(RevisionSummary.build(revision)),
            slug=revision.slug,
            body=revision.body,
            published_at=revision.published_at,
            tags=names,
            version=revision.version,
        )


class TagPublic(BaseModel):
    """A tag as ``GET /tags/`` lists it (:mod:`cms.articles.tag_reads` builds the rows)."""

    name: str
    slug: str
    article_count: int = Field(description="Published articles with this tag, visible now")


class TrashedArticlePublic(BaseModel):
    id: int
    title: str
    author_id: int
    deleted_at: UTCTimestamp
    deleted_by: str
    purge_after: UTCTimestamp = Field(description="When it is deleted for good")

    @classmethod
    def build(cls, trashed: TrashedArticle) -> "TrashedArticlePublic":
        return cls(
            id=trashed.id,
            title=trashed.title,
            author_id=trashed.author_id,
            deleted_at=trashed.deleted_at,
            deleted_by=trashed.deleted_by_name,
            purge_after=trashed.deleted_at + timedelta(days=TRASH_DAYS),
        )
