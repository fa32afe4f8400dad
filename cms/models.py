"""Every model, imported so ``Base.metadata`` is complete (Alembic and the admin need it)."""

from cms.articles.models import Article, ArticleStatus
from cms.auth.models import RateLimit, StaffSession
from cms.db import Base
from cms.roles import Role
from cms.users.models import User

__all__ = ["Article", "ArticleStatus", "Base", "RateLimit", "Role", "StaffSession", "User"]
