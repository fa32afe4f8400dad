"""Settings, read once from the environment (prefix ``CMS_``) or a ``.env`` file."""

import contextlib
import ipaddress
import os
import secrets
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    Field,
    PrivateAttr,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

SUPPORTED_BACKENDS = frozenset({"sqlite", "mysql", "mariadb"})
MIN_SECRET_LENGTH = 32
DEFAULT_SECRET_KEY_FILE = Path("~/.config/cms/secret_key")
# No setting may allow more pixels than this; Pillow's own bomb check is set to it too.
MEDIA_PIXEL_CEILING = 200_000_000

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


@dataclass(frozen=True)
class WriteLimits:
    """What one account may write and what each article's history keeps (docs/api.md,
    "Limits on writing"): the settings ``CMS_WRITE_RATE_*`` and ``CMS_REVISIONS_*``."""

    # Writes (API requests and back-office saves or actions) one account may make per
    # fixed window of a minute and of an hour.
    per_minute: int = 120
    per_hour: int = 1800
    # Every article keeps its first revision and its newest ``revisions_newest``; of the
    # older ones, those that were published (what readers saw), newest first, at most
    # ``revisions_published`` of them and ``revisions_older_bytes`` of title and body.
    revisions_newest: int = 10
    revisions_published: int = 20
    revisions_older_bytes: int = 4 * 1024 * 1024


def address_in(address: str | None, networks: Iterable[Network]) -> bool:
    """Whether ``address`` (as text; ``None`` or garbage is in nothing) lies in a network."""
    if address is None:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


class Settings(BaseSettings):
    """Every knob the server, the back office and the CLI share."""

    model_config = SettingsConfigDict(env_prefix="CMS_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite:///./cms.sqlite3"
    # Unset in development: a random key is made on first run and kept in
    # ``secret_key_file`` (outside the project, never committed). Required elsewhere.
    secret_key: SecretStr | None = None
    secret_key_file: Path = DEFAULT_SECRET_KEY_FILE
    access_token_expire_minutes: int = Field(default=60, ge=1, le=60 * 24 * 30)
    allow_signup: bool = True
    # Sign-in limits, per window of ``login_lockout_seconds``: failures for one account
    # from one client address; failures from one address over all accounts; and a
    # ceiling per account over all addresses, far above what one client can reach.
    login_max_failures: int = Field(default=10, ge=1)
    login_max_failures_per_client: int = Field(default=30, ge=1)
    login_max_failures_per_account: int = Field(default=500, ge=0)  # 0: no ceiling
    login_lockout_seconds: int = Field(default=300, ge=1)
    # Accounts one client address may create per window.
    signup_max_per_client: int = Field(default=10, ge=1)
    signup_window_seconds: int = Field(default=3600, ge=1)
    # Writes one signed-in account may make (API and back office; the CLI is not
    # counted) per minute and per hour; past either, 429 with Retry-After.
    write_rate_per_minute: int = Field(default=WriteLimits.per_minute, ge=1, le=1_000_000)
    write_rate_per_hour: int = Field(default=WriteLimits.per_hour, ge=1, le=10_000_000)
    # What an article's history keeps (see WriteLimits): the newest revisions, and of
    # the older ones the published, within a count and a size.
    revisions_keep_newest: int = Field(default=WriteLimits.revisions_newest, ge=1, le=10_000)
    revisions_keep_published: int = Field(default=WriteLimits.revisions_published, ge=0, le=100_000)
    revisions_older_max_bytes: int = Field(
        default=WriteLimits.revisions_older_bytes, ge=0, le=1024**4
    )
    # Reverse proxies whose X-Forwarded-For is believed (addresses or networks,
    # comma-separated). Empty: the client is whoever connected.
    trusted_proxies: Annotated[list[Network], NoDecode] = Field(default_factory=list)
    # The site's public address, for the absolute links in feeds and sitemaps (e.g.
    # https://example.com). Unset: the address each request was made to.
    site_url: str | None = None
    # The readers' site (cms.site). Headless mode: the address pattern of the site's own
    # front end, e.g. https://www.example.com/blog/{slug}; every article link (the API's
    # `url`, feeds, sitemap, "View on site", preview links) then points there.
    site_frontend_url: str | None = None
    # Off: the built-in pages answer 404 (the API, feeds, sitemap and back office stay).
    site_pages: bool = True
    # A folder whose templates (and site.css) override the default theme's, file by file.
    site_theme_dir: Path | None = None
    # What the site calls itself until an admin sets it in the back office.
    site_name: str = Field(default="CMS", min_length=1, max_length=100)
    site_description: str = Field(default="The newest articles", max_length=300)
    # Origins whose scripts may call the API from a browser (comma-separated, e.g.
    # https://www.example.com). Empty: none. "*" allows any origin, never with credentials.
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Seconds anonymous readers (and caches between them and us) may keep published
    # content; a list is never kept past the moment its next scheduled article appears.
    cache_max_age: int = Field(default=60, ge=0, le=86_400)
    # Who may read /metrics (addresses or networks, comma-separated); everyone else gets
    # the 404 of a path that does not exist. The address is the client's as above.
    metrics_allow: Annotated[list[Network], NoDecode] = Field(
        default_factory=lambda: list(LOOPBACK)
    )
    # Log lines for people (`text`) or for a log shipper (`json`, one object a line).
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    sql_echo: bool = False
    # Webhooks go to public addresses only; true allows loopback, private and link-local
    # targets too (development and tests, never production).
    webhooks_allow_private_targets: bool = False
    # Seconds a receiver has to answer a delivery before it counts as failed.
    webhooks_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    # Seconds an idle dispatcher waits before looking for due events again.
    webhooks_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    # Uploaded media (cms.media): where the local-disk store keeps its files, the largest
    # upload accepted (its own cap; JSON bodies keep theirs), the most pixels one image
    # may have (width x height x frames, checked on the header before anything is
    # decoded), how many images one process decodes at once and how long a request waits
    # for its turn (past that: 503 and Retry-After), and how old an unreferenced stored
    # file must be before `cms media gc` (or a delete) removes it.
    media_root: Path = Path("./media")
    media_max_upload_bytes: int = Field(default=25 * 1024 * 1024, ge=1, le=1024**3)
    media_max_pixels: int = Field(default=60_000_000, ge=1, le=MEDIA_PIXEL_CEILING)
    media_render_slots: int = Field(default=2, ge=1, le=64)
    media_render_wait_seconds: float = Field(default=10, ge=0, le=120)
    media_gc_grace_seconds: int = Field(default=3600, ge=0)
    # The most bytes of uploads one account may keep (0: no quota).
    media_quota_bytes_per_account: int = Field(default=0, ge=0)
    # `s3`: keep media in a bucket of any S3-compatible store instead of CMS_MEDIA_ROOT
    # (pip install 'cms[s3]'). Path style for MinIO and Ceph; credentials default to
    # boto3's own lookup (environment, instance role) when unset.
    media_storage: Literal["local", "s3"] = "local"
    media_s3_bucket: str | None = None
    media_s3_endpoint_url: str | None = None
    media_s3_region: str | None = None
    media_s3_access_key_id: str | None = None
    media_s3_secret_access_key: SecretStr | None = None
    media_s3_path_style: bool = False
    media_s3_prefix: str = ""
    # Read by `cms createsuperuser` and `cms bootstrap` for unattended installs.
    admin_email: str | None = None
    admin_password: SecretStr | None = None
    _key_from_file: bool = PrivateAttr(default=False)

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

    @field_validator("site_url")
    @classmethod
    def _site_origin(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")) or "{" in value:
            raise ValueError(f"CMS_SITE_URL: {value!r} is not an address like https://example.com")
        return value

    @field_validator("site_frontend_url")
    @classmethod
    def _frontend_pattern(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        problem = frontend_pattern_problem(value)
        if problem is not None:
            raise ValueError(f"CMS_SITE_FRONTEND_URL: {problem}")
        return value

    @field_validator("site_theme_dir")
    @classmethod
    def _theme_folder(cls, value: Path | None) -> Path | None:
        if value is not None and not value.expanduser().is_dir():
            raise ValueError(f"CMS_SITE_THEME_DIR: {str(value)!r} is not a folder")
        return value.expanduser() if value is not None else None

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip().rstrip("/") for part in value.split(",") if part.strip()]
        if isinstance(value, list):
            for origin in value:
                if origin != "*" and not str(origin).startswith(("http://", "https://")):
                    raise ValueError(
                        f"CMS_CORS_ORIGINS: {origin!r} is not an origin like https://example.com"
                    )
        return value

    @field_validator("trusted_proxies", "metrics_allow", mode="before")
    @classmethod
    def _networks(cls, value: object, info: ValidationInfo) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list):
            try:
                return [ipaddress.ip_network(str(part), strict=False) for part in value]
            except ValueError as exc:
                raise ValueError(
                    f"CMS_{str(info.field_name).upper()} must be addresses or networks, "
                    f"comma-separated: {exc}"
                ) from None
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_case_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _s3_needs_a_bucket(self) -> "Settings":
        if self.media_storage == "s3" and not self.media_s3_bucket:
            raise ValueError("CMS_MEDIA_STORAGE=s3 needs CMS_MEDIA_S3_BUCKET (the bucket's name)")
        return self

    @model_validator(mode="after")
    def _require_a_strong_secret(self) -> "Settings":
        if self.secret_key is None:
            if self.environment != "development":
                raise ValueError(
                    f"CMS_SECRET_KEY must be set to a random string of at least "
                    f"{MIN_SECRET_LENGTH} characters when CMS_ENVIRONMENT={self.environment}; "
                    "generate one with "
                    "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
                )
            self.secret_key = SecretStr(development_secret_key(self.secret_key_file))
            self._key_from_file = True
        elif len(self.secret_key.get_secret_value()) < MIN_SECRET_LENGTH:
            raise ValueError(f"CMS_SECRET_KEY must be at least {MIN_SECRET_LENGTH} characters")
        return self

    @model_validator(mode="after")
    def _hours_hold_minutes(self) -> "Settings":
        if self.write_rate_per_hour < self.write_rate_per_minute:
            raise ValueError(
                f"CMS_WRITE_RATE_PER_HOUR ({self.write_rate_per_hour}) must be at least "
                f"CMS_WRITE_RATE_PER_MINUTE ({self.write_rate_per_minute})"
            )
        return self

    @property
    def write_limits(self) -> WriteLimits:
        """The write rate and revision retention, as the unit of work applies them."""
        return WriteLimits(
            per_minute=self.write_rate_per_minute,
            per_hour=self.write_rate_per_hour,
            revisions_newest=self.revisions_keep_newest,
            revisions_published=self.revisions_keep_published,
            revisions_older_bytes=self.revisions_older_max_bytes,
        )

    @property
    def secret(self) -> str:
        """The signing key (always set once validated)."""
        assert self.secret_key is not None
        return self.secret_key.get_secret_value()

    @property
    def secret_key_configured(self) -> bool:
        """Whether the key came from the configuration rather than the development file."""
        return not self._key_from_file


def frontend_pattern_problem(pattern: str) -> str | None:
    """What is wrong with a front end's address pattern (``None``: nothing)."""
    parts = urlsplit(pattern)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return f"{pattern!r} must be an http:// or https:// address"
    if "{slug}" not in pattern:
        return f"{pattern!r} must contain {{slug}}, e.g. https://www.example.com/blog/{{slug}}"
    if "{" in parts.netloc or pattern.replace("{slug}", "").count("{"):
        return (
            f"{pattern!r} may contain {{slug}} in its path or query only, "
            "and nothing else in braces"
        )
    return None


def development_secret_key(path: Path) -> str:
    """This installation's own development key: read from ``path``, made on first use.

    Each laptop gets a different key, so a token or cookie forged with a key from the
    source code (or another developer's machine) is worthless here.
    """
    path = path.expanduser()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written whole to a file of its own, then linked into place: a link never
        # replaces a file, so when several workers start at once exactly one key wins,
        # and no worker ever reads a file that is still being written.
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".secret_key.")
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as file:
                file.write(secrets.token_urlsafe(48) + "\n")
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            os.unlink(temporary)
    key = path.read_text(encoding="utf-8").strip()
    if len(key) < MIN_SECRET_LENGTH:
        raise ValueError(
            f"The development key in {path} is shorter than {MIN_SECRET_LENGTH} characters "
            "(an interrupted write?). Delete the file and start again: a new key is made."
        )
    return key


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings; tests build their own ``Settings`` instead."""
    return Settings()
