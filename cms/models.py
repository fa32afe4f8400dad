"""Every model, imported so ``Base.metadata`` is complete (Alembic and the admin need it)."""

from cms.apikeys.models import ApiKey
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
from cms.auth.models import Passkey, PasskeyChallenge, RateLimit, StaffSession
from cms.db import Base
from cms.media.models import MediaAsset
from cms.roles import Role
from cms.users.models import User
from cms.webhooks.models import OutboxEvent, WebhookAttempt, WebhookDelivery, WebhookEndpoint

__all__ = [
    "ApiKey",
    "Article",
    "ArticleRevision",
    "ArticleSlug",
    "ArticleStatus",
    "AuditEntry",
    "Base",
    "MediaAsset",
    "OutboxEvent",
    "Passkey",
    "PasskeyChallenge",
    "RateLimit",
    "Role",
    "StaffSession",
    "Tag",
    "TrashedArticle",
    "User",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "article_tags",
]
