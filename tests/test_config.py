"""Settings: where they come from, and the secret key each environment must have."""

import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pydantic import ValidationError

from cms.config import Settings, development_secret_key


def test_development_makes_its_own_key_once_and_keeps_it_private(tmp_path: Path) -> None:
    key_file = tmp_path / "config" / "secret_key"
    first = Settings(_env_file=None, environment="development", secret_key_file=key_file)
    second = Settings(_env_file=None, environment="development", secret_key_file=key_file)
    assert len(first.secret) >= 48
    assert first.secret == second.secret
    assert key_file.read_text().strip() == first.secret
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert not first.secret_key_configured
    other = Settings(
        _env_file=None, environment="development", secret_key_file=tmp_path / "elsewhere"
    )
    assert other.secret != first.secret  # every installation has its own


def test_workers_starting_at_once_share_one_whole_key(tmp_path: Path) -> None:
    """Several workers of a fresh install make the key at the same moment: each must
    read the same, complete key (never an empty file another is still writing)."""
    for trial in range(20):
        key_file = tmp_path / f"trial{trial}" / "secret_key"
        start = threading.Barrier(8)

        def read_key(_: int, path: Path = key_file, barrier: threading.Barrier = start) -> str:
            barrier.wait()
            return development_secret_key(path)

        with ThreadPoolExecutor(8) as pool:
            keys = set(pool.map(read_key, range(8)))
        assert len(keys) == 1 and len(keys.pop()) >= 48
        assert [p.name for p in key_file.parent.iterdir()] == ["secret_key"]


def test_a_damaged_development_key_is_refused_with_what_to_do(tmp_path: Path) -> None:
    key_file = tmp_path / "secret_key"
    key_file.write_text("\n")
    with pytest.raises(ValidationError, match="Delete the file"):
        Settings(_env_file=None, environment="development", secret_key_file=key_file)


@pytest.mark.parametrize("environment", ["test", "production"])
def test_other_environments_refuse_to_start_without_a_key(environment: str) -> None:
    with pytest.raises(ValidationError, match="CMS_SECRET_KEY must be set"):
        Settings(_env_file=None, environment=environment)


def test_a_short_key_is_refused_everywhere() -> None:
    with pytest.raises(ValidationError, match="at least 32"):
        Settings(_env_file=None, environment="development", secret_key="too-short")


def test_settings_come_from_cms_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CMS_ENVIRONMENT", "production")
    monkeypatch.setenv("CMS_SECRET_KEY", "s" * 40)
    monkeypatch.setenv("CMS_DATABASE_URL", "mysql+mysqldb://u@db/cms")
    monkeypatch.setenv("CMS_ALLOW_SIGNUP", "false")
    monkeypatch.setenv("CMS_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.1")
    settings = Settings(_env_file=None)
    assert settings.environment == "production"
    assert settings.database_url == "mysql+mysqldb://u@db/cms"
    assert settings.allow_signup is False
    assert settings.secret_key_configured
    assert [str(network) for network in settings.trusted_proxies] == [
        "10.0.0.0/8",
        "192.168.1.1/32",
    ]


def test_trusted_proxies_must_be_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CMS_TRUSTED_PROXIES", "not-an-address")
    with pytest.raises(ValidationError, match="CMS_TRUSTED_PROXIES"):
        Settings(_env_file=None, environment="test", secret_key="s" * 40)


def test_a_token_forged_with_the_key_that_was_once_in_the_source_opens_nothing(
    database_url: str, tmp_path: Path
) -> None:
    """Development installs used to sign with a key written in the repository; anyone
    could mint an admin's token with it. Each install now has its own key."""
    from datetime import timedelta

    import httpx

    from cms import security
    from cms.asgi import build_app
    from tests.conftest import LiveServer

    settings = Settings(
        _env_file=None,
        environment="development",
        database_url=database_url,
        secret_key_file=tmp_path / "key",
    )
    forged = security.create_access_token(
        user_id=1,
        session_version=0,
        secret_key="development-only-secret-key-change-me-0000",
        expires_in=timedelta(minutes=5),
    )
    with LiveServer(build_app(settings)) as server:
        response = httpx.get(
            f"{server.url}/users/me", headers={"Authorization": f"Bearer {forged}"}
        )
        cookie = httpx.get(f"{server.url}/admin/user/list", cookies={"cms_admin": forged})
    assert response.status_code == 401
    assert cookie.status_code == 302 and cookie.headers["location"] == "/admin/login"


def test_metrics_are_for_loopback_unless_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    default = Settings(_env_file=None, environment="test", secret_key="s" * 40)
    assert [str(network) for network in default.metrics_allow] == ["127.0.0.0/8", "::1/128"]
    monkeypatch.setenv("CMS_METRICS_ALLOW", "10.1.0.0/16, 192.0.2.7")
    configured = Settings(_env_file=None, environment="test", secret_key="s" * 40)
    assert [str(network) for network in configured.metrics_allow] == [
        "10.1.0.0/16",
        "192.0.2.7/32",
    ]
    monkeypatch.setenv("CMS_METRICS_ALLOW", "prometheus.internal")
    with pytest.raises(ValidationError, match="CMS_METRICS_ALLOW"):
        Settings(_env_file=None, environment="test", secret_key="s" * 40)


def test_log_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    default = Settings(_env_file=None, environment="test", secret_key="s" * 40)
    assert (default.log_format, default.log_level) == ("text", "INFO")
    monkeypatch.setenv("CMS_LOG_FORMAT", "json")
    monkeypatch.setenv("CMS_LOG_LEVEL", "debug")
    configured = Settings(_env_file=None, environment="test", secret_key="s" * 40)
    assert (configured.log_format, configured.log_level) == ("json", "DEBUG")
    monkeypatch.setenv("CMS_LOG_FORMAT", "xml")
    with pytest.raises(ValidationError, match="log_format"):
        Settings(_env_file=None, environment="test", secret_key="s" * 40)
