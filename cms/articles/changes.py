"""What a write to an article asks for (see :mod:`cms.changes`)."""

from dataclasses import dataclass
from datetime import datetime

from cms.articles.models import ArticleStatus
from cms.changes import UNSET, ChangeSet, Unset


@dataclass(frozen=True, kw_only=True)
class ArticleDraft:
    """A new article."""

    title: str
    body: str = ""
    slug: str | None = None
    status: ArticleStatus = ArticleStatus.DRAFT
    published_at: datetime | None = None
    tags: tuple[str, ...] = ()
    cover_image_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class ArticleChanges(ChangeSet):
    """Changes to an article; ``published_at=None`` clears the time (publishing stamps now)."""

    title: str | Unset = UNSET
    body: str | Unset = UNSET
    slug: str | Unset = UNSET
    status: ArticleStatus | Unset = UNSET
    published_at: datetime | Unset | None = UNSET
    tags: tuple[str, ...] | Unset = UNSET
    author_id: int | Unset = UNSET
    cover_image_id: int | Unset | None = UNSET
