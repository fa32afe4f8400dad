"""Every model, imported so ``Base.metadata`` is complete (Alembic and the admin need it)."""

from cms.articles.models import Article, ArticleStatus
from cms.auth.models import LoginThrottle
from cms.db import Base
from cms.users.models import Role, User

__all__ = ["Article", "ArticleStatus", "Base", "LoginThrottle", "Role", "User"]
