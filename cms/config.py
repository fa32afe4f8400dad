"""Settings, read once from the environment (prefix ``CMS_``) or a ``.env`` file."""

from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

# Only good enough for a laptop: any other environment refuses to start with it.
DEVELOPMENT_SECRET_KEY = "development-only-secret-key-change-me-0000"  # noqa: S105
SUPPORTED_BACKENDS = frozenset({"sqlite", "mysql", "mariadb"})


class Settings(BaseSettings):
    """Every knob the server, the back office and the CLI share."""

    model_config = SettingsConfigDict(env_prefix="CMS_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite:///./cms.sqlite3"
    secret_key: SecretStr = SecretStr(DEVELOPMENT_SECRET_KEY)
    access_token_expire_minutes: int = Field(default=60, ge=1, le=60 * 24 * 30)
    allow_signup: bool = True
    # Failed logins per email before /auth/token answers 429, and for how long.
    login_max_failures: int = Field(default=10, ge=1)
    login_lockout_seconds: int = Field(default=300, ge=1)
    sql_echo: bool = False
    # Read by `cms createsuperuser` and `cms bootstrap` for unattended installs.
    admin_email: str | None = None
    admin_password: SecretStr | None = None

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, url: str) -> str:
        try:
            backend = make_url(url).get_backend_name()
        except ArgumentError as exc:
            raise ValueError(
                "CMS_DATABASE_URL is not a database URL; use sqlite:///path/to/file.sqlite3 "
                "or mysql+mysqldb://user:password@host:3306/database"
            ) from exc
        if backend not in SUPPORTED_BACKENDS:
            raise ValueError(
                f"CMS_DATABASE_URL names {backend!r}; the CMS runs on SQLite and MySQL/MariaDB "
                "(sqlite:///… or mysql+mysqldb://…)"
            )
        return url

    @model_validator(mode="after")
    def _refuse_weak_secret_outside_development(self) -> "Settings":
        secret = self.secret_key.get_secret_value()
        if self.environment != "development" and (
            secret == DEVELOPMENT_SECRET_KEY or len(secret) < 32
        ):
            raise ValueError(
                f"CMS_SECRET_KEY must be set to a random string of at least 32 characters "
                f"when CMS_ENVIRONMENT={self.environment}; generate one with "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
            )
        return self


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings; tests build their own ``Settings`` instead."""
    return Settings()
