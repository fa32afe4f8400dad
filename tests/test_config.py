"""Settings refuse to run production on a guessable secret."""

import pytest
from pydantic import ValidationError

from cms.config import DEVELOPMENT_SECRET_KEY, Settings


def test_development_runs_with_the_default_secret() -> None:
    settings = Settings(_env_file=None, environment="development")
    assert settings.secret_key.get_secret_value() == DEVELOPMENT_SECRET_KEY
    assert settings.database_url.startswith("sqlite:///")


@pytest.mark.parametrize("secret", [DEVELOPMENT_SECRET_KEY, "too-short"])
def test_production_refuses_a_default_or_short_secret(
    monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    monkeypatch.delenv("CMS_SECRET_KEY", raising=False)
    with pytest.raises(ValidationError, match="CMS_SECRET_KEY"):
        Settings(_env_file=None, environment="production", secret_key=secret)


def test_settings_come_from_cms_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CMS_ENVIRONMENT", "production")
    monkeypatch.setenv("CMS_SECRET_KEY", "s" * 40)
    monkeypatch.setenv("CMS_DATABASE_URL", "mysql+mysqldb://u@db/cms")
    monkeypatch.setenv("CMS_ALLOW_SIGNUP", "false")
    settings = Settings(_env_file=None)
    assert settings.environment == "production"
    assert settings.database_url == "mysql+mysqldb://u@db/cms"
    assert settings.allow_signup is False
