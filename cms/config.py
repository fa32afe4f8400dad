"""Settings, read once from the environment (prefix ``CMS_``) or a ``.env`` file."""

import contextlib
import email.utils
import ipaddress
import os
import re
import secrets
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import parse_qsl, unquote, urlsplit

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


HOST_NAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*")


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
    # The WebAuthn relying party id passkeys are bound to: a host name such as
    # example.com (passkeys then work on it and every subdomain, e.g. admin.example.com).
    # Unset: CMS_SITE_URL's host when the back office is served under it, else the host
    # the back office is served on. Changing it later strands every registered passkey.
    webauthn_rp_id: str | None = None
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
    # Seconds any one SELECT of a request's read (API, site, back office) may run before
    # the database stops it and the request answers 503 with Retry-After; 0: no limit.
    # Writes, the command line, migrations and exports are not limited.
    read_statement_timeout: float = Field(default=5.0, ge=0, le=3600)
    # MariaDB replicas of CMS_DATABASE_URL (GTID replication; comma-separated URLs) that
    # the API's and the back office's reads may use. Empty: every read on the primary.
    # A replica further behind than `replica_max_lag_seconds` is skipped; a read carrying
    # a consistency token waits at most `consistency_wait_seconds` for a replica to apply
    # it, then reads from the primary; each replica's health is asked every
    # `replica_check_seconds`.
    database_replica_urls: Annotated[list[str], NoDecode] = Field(default_factory=list)
    replica_max_lag_seconds: float = Field(default=5.0, ge=0, le=86_400)
    consistency_wait_seconds: float = Field(default=0.5, ge=0, le=10)
    replica_check_seconds: float = Field(default=1.0, ge=0.05, le=60)
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
    # Outgoing mail (cms.mail): the SMTP server as a URL (see SmtpServer.parse), the
    # From: address, and where messages go without a server (development: each one is
    # logged and saved as an .eml file). Sent after the commit, retried; see docs.
    smtp_url: SecretStr | None = None
    mail_from: str = "CMS <cms@localhost>"
    mail_dir: Path = Path("./mail")
    mail_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    # Password reset: a link lasts this long; requests are limited per address and per
    # client in each window (past either: 429 with Retry-After).
    password_reset_expire_minutes: int = Field(default=60, ge=1, le=60 * 24)
    password_reset_max_per_address: int = Field(default=3, ge=1)
    password_reset_max_per_client: int = Field(default=20, ge=1)
    password_reset_window_seconds: int = Field(default=3600, ge=1)
    # How long an invitation and an email-change confirmation stay open.
    invitation_expire_days: int = Field(default=7, ge=1, le=90)
    email_change_expire_hours: int = Field(default=24, ge=1, le=24 * 7)
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

    @field_validator("database_replica_urls", mode="before")
    @classmethod
    def _replica_urls(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list):
            for url in value:
                try:
                    backend = make_url(str(url)).get_backend_name()
                except ArgumentError:
                    raise ValueError(
                        "CMS_DATABASE_REPLICA_URLS: an entry is not a database URL; use "
                        "mysql+mysqldb://user:password@host:3306/database, comma-separated"
                    ) from None
                if backend not in ("mysql", "mariadb"):
                    raise ValueError(
                        f"CMS_DATABASE_REPLICA_URLS: replicas are MariaDB servers "
                        f"(mysql+mysqldb://…), not {backend!r}"
                    )
        return value

    @model_validator(mode="after")
    def _replicas_of_mariadb(self) -> "Settings":
        if self.database_replica_urls and make_url(self.database_url).get_backend_name() not in (
            "mysql",
            "mariadb",
        ):
            raise ValueError(
                "CMS_DATABASE_REPLICA_URLS needs a MariaDB primary (CMS_DATABASE_URL="
                "mysql+mysqldb://…); SQLite has no replicas"
            )
        return self

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

    @field_validator("webauthn_rp_id")
    @classmethod
    def _host_name(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().lower().rstrip(".")
        if not HOST_NAME.fullmatch(value):
            raise ValueError(
                f"CMS_WEBAUTHN_RP_ID must be a host name like example.com (no scheme, port "
                f"or path), not {value!r}"
            )
        return value

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value():
            SmtpServer.parse(value.get_secret_value())  # raises with what is wrong
        return value if value is not None and value.get_secret_value() else None

    @field_validator("mail_from")
    @classmethod
    def _mail_from(cls, value: str) -> str:
        _name, address = email.utils.parseaddr(value)
        if "@" not in address or any(c in value for c in "\r\n"):
            raise ValueError(
                f"CMS_MAIL_FROM: {value!r} is not an address like "
                "'Our site <noreply@example.com>' or noreply@example.com"
            )
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
    def _links_in_mail_need_the_site(self) -> "Settings":
        # Without it a link would be built from the Host header a request carried, and
        # anyone could have a reset link for someone else's account point at their site.
        if self.environment == "production" and self.smtp_url is not None and not self.site_url:
            raise ValueError(
                "CMS_SITE_URL must be set (e.g. https://example.com) when CMS_SMTP_URL is: "
                "the links in the mail the CMS sends point there"
            )
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
    def smtp_server(self) -> "SmtpServer | None":
        """The SMTP server mail is sent through; ``None``: mail goes to ``mail_dir``."""
        if self.smtp_url is None:
            return None
        return SmtpServer.parse(self.smtp_url.get_secret_value())

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


SMTP_SECURITY = ("required", "opportunistic", "off")


@dataclass(frozen=True)
class SmtpServer:
    """Where and how outgoing mail is handed over (``CMS_SMTP_URL``).

    ``smtp://user:password@host:587?starttls=required`` (the default: STARTTLS or no
    sending; ``opportunistic`` uses it when offered; ``off`` never, for a relay on this
    machine) or ``smtps://user:password@host:465`` (TLS from the first byte). The user
    and password are percent-encoded; ``timeout`` (seconds) is optional."""

    host: str
    port: int
    implicit_tls: bool
    starttls: Literal["required", "opportunistic", "off"]
    username: str | None
    password: str | None = field(repr=False)
    timeout: float

    @classmethod
    def parse(cls, url: str) -> "SmtpServer":
        problem = "CMS_SMTP_URL"
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError(
                f"{problem} must start with smtp:// (STARTTLS) or smtps:// (implicit TLS), "
                f"e.g. smtp://user:password@mail.example.com:587"
            )
        if not parts.hostname:
            raise ValueError(f"{problem} names no host, e.g. smtp://mail.example.com:587")
        try:
            port = parts.port or (465 if parts.scheme == "smtps" else 587)
        except ValueError:
            raise ValueError(f"{problem} has a port that is not a number from 1 to 65535") from None
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        unknown = set(params) - {"starttls", "timeout"}
        if unknown:
            raise ValueError(
                f"{problem}: unknown parameter {sorted(unknown)[0]!r}; "
                "the parameters are starttls and timeout"
            )
        starttls = params.get("starttls", "required" if parts.scheme == "smtp" else "off")
        if starttls not in SMTP_SECURITY:
            raise ValueError(f"{problem}: starttls must be required, opportunistic or off")
        if parts.scheme == "smtps" and "starttls" in params:
            raise ValueError(f"{problem}: smtps:// is TLS already; starttls is for smtp://")
        try:
            timeout = float(params.get("timeout", "10"))
        except ValueError:
            timeout = -1
        if not 0 < timeout <= 300:
            raise ValueError(f"{problem}: timeout must be seconds between 0 and 300")
        if (parts.password is None) != (parts.username is None):
            raise ValueError(f"{problem}: give both a user and a password, or neither")
        return cls(
            host=parts.hostname,
            port=port,
            implicit_tls=parts.scheme == "smtps",
            starttls=starttls,  # type: ignore[arg-type]
            username=unquote(parts.username) if parts.username is not None else None,
            password=unquote(parts.password) if parts.password is not None else None,
            timeout=timeout,
        )


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
