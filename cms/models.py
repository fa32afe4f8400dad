"""Every model, imported so ``Base.metadata`` is complete (Alembic and the admin need it)."""

from cms.articles.models import (
    Article,
    ArticleRevision,
    ArticleSlug,
    ArticleStatus,
    Tag,
    TrashedArticle,
    article_tags,
)
from cms.audit.models import AuditEntry
from cms.auth.models import RateLimit, StaffSession
from cms.db import Base
from cms.media.models import MediaAsset
from cms.roles import Role
from cms.users.models import User

__all__ = [
    "Article",
    "ArticleRevision",
    "ArticleSlug",
    "ArticleStatus",
    "AuditEntry",
    "Base",
    "MediaAsset",
    "RateLimit",
    "Role",
    "StaffSession",
    "Tag",
    "TrashedArticle",
    "User",
    "article_tags",
]
