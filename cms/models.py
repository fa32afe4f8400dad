"""Every model, imported so ``Base.metadata`` is complete (Alembic and the admin need it)."""

from cms.accounts.models import AccountLink
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
from cms.mail.models import QueuedMail
from cms.media.models import MediaAsset
from cms.previews.models import PreviewLink
from cms.roles import Role
from cms.site_settings.models import SiteSettings
from cms.twofactor.models import RecoveryCode, TwoFactorCredential, TwoFactorPolicy
from cms.users.models import User
from cms.webhooks.models import OutboxEvent, WebhookAttempt, WebhookDelivery, WebhookEndpoint

__all__ = [
    "AccountLink",
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
    "PreviewLink",
    "QueuedMail",
    "RateLimit",
    "RecoveryCode",
    "Role",
    "SiteSettings",
    "StaffSession",
    "Tag",
    "TrashedArticle",
    "TwoFactorCredential",
    "TwoFactorPolicy",
    "User",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "article_tags",
]
