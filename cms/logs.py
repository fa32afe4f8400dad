"""One logging setup for the server and every ``cms`` command.

Lines go to standard error, as text for people (``CMS_LOG_FORMAT=text``) or as one JSON
object each for a log shipper (``json``). Every line names the request it was written
for, and anything that looks like a secret (a bearer token, a signed cookie, a password
hash, ``password=…``) is replaced before the line is written, whoever wrote it.

JSON is written with the standard library: the fields are few and fixed, and a
formatter of our own decides exactly what leaves the process (an ``extra`` attribute
that a library attaches to a record is not copied into the line unless listed here).
"""

import json
import logging
import logging.config
import re
from datetime import UTC, datetime
from typing import Any

from cms.config import Settings
from cms.middleware import current_request_id

# What RequestObserver's access lines add, as fields of their own in JSON.
ACCESS_FIELDS = ("method", "route", "status", "duration_ms", "client")
REDACTED = "[redacted]"

_SECRET_NAMES = ("password", "passwd", "secret", "token", "session", "cookie", "authorization")
# (words that must be in a line for the pattern to match, pattern, replacement): the
# patterns run only on the few lines that contain a word, so the rest cost microseconds.
_SECRETS = [
    # Authorization header values.
    (("bearer", "basic"), re.compile(r"(?i)\b(bearer|basic)\s+[\w.~+/=-]+"), rf"\1 {REDACTED}"),
    # JWTs and signed session cookies: both start with base64-encoded JSON.
    (("eyj",), re.compile(r"\beyJ[\w+/=-]*(?:\.[\w+/=-]*)+"), REDACTED),
    # Password hashes in modular crypt format ($argon2id$…, $2b$…).
    (
        ("$",),
        re.compile(r"\$(?:argon2(?:id|i|d)|2[abxy]?|pbkdf2[\w-]*|scrypt|bcrypt[\w-]*)\$[^\s'\";]+"),
        REDACTED,
    ),
    # name=value and "name": "value" pairs whose name says secret (access_token=, …).
    (
        (*_SECRET_NAMES, "api"),
        re.compile(
            rf"(?i)((?:{'|'.join(_SECRET_NAMES)}|api[_-]?key)[\w-]*[\"']?\s*[:=]\s*[\"']?)"
            r"[^\s&'\",;]+"
        ),
        rf"\1{REDACTED}",
    ),
]


def redact(text: str) -> str:
    """``text`` with whatever looks like a credential replaced by ``[redacted]``."""
    lowered = text.lower()
    for words, pattern, replacement in _SECRETS:
        if any(word in lowered for word in words):
            text = pattern.sub(replacement, text)
    return text


def _request_id(record: logging.LogRecord) -> str | None:
    given: str | None = getattr(record, "request_id", None)
    return given or current_request_id.get()


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TextFormatter(logging.Formatter):
    """``2026-05-01T12:00:00.123Z INFO cms.access [3f2a9c0d1e4b5a69] GET /articles/ 200 …``"""

    def format(self, record: logging.LogRecord) -> str:
        line = (
            f"{_timestamp(record)} {record.levelname} {record.name} "
            f"[{_request_id(record) or '-'}] {record.getMessage()}"
        )
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return redact(line)


class JSONFormatter(logging.Formatter):
    """One JSON object per line: ``time``, ``level``, ``logger``, ``message``,
    ``request_id``, the access fields when present, and ``exception`` (the traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
            "request_id": _request_id(record),
        }
        for field in ACCESS_FIELDS:
            if field in record.__dict__:
                entry[field] = record.__dict__[field]
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


def logging_config(settings: Settings) -> dict[str, Any]:
    """The :func:`logging.config.dictConfig` configuration for ``settings``; ``cms serve``
    hands it to uvicorn, which applies it in every worker."""
    formatter = JSONFormatter if settings.log_format == "json" else TextFormatter
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"cms": {"()": f"{__name__}.{formatter.__name__}"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "cms",
            },
            "null": {"class": "logging.NullHandler"},
        },
        "root": {"level": settings.log_level, "handlers": ["stderr"]},
        "loggers": {
            # uvicorn's own lines in our format (its default configuration gives them
            # handlers of their own). Its access log stays off: RequestObserver writes
            # one line per request, without the query string uvicorn would show.
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": False},
            # At DEBUG SQLAlchemy logs result rows, password hashes among them: SQL is
            # logged only when CMS_SQL_ECHO asks for it. Its engine logger then writes
            # through ours; with a handler of its own present it adds none to stdout.
            "sqlalchemy": {"level": "WARNING"},
            # Alembic says at INFO which dialect it found each time the schema is checked
            # (every /readyz, most commands); `cms alembic` turns it up for itself.
            "alembic": {"level": "WARNING"},
            "sqlalchemy.engine.Engine": {"handlers": ["null"], "propagate": True},
        },
    }


def configure_logging(settings: Settings) -> None:
    """Log as ``settings`` say, unless the program already set logging up.

    Like :func:`logging.basicConfig`, it leaves a root logger that has handlers alone:
    a program embedding the CMS (or a test runner) keeps its own configuration.
    """
    if logging.getLogger().handlers:
        return
    logging.config.dictConfig(logging_config(settings))
