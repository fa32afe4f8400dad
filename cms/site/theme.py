"""The site's templates and stylesheet, loaded once per process.

The default theme ships in this package (``templates/``, ``static/site.css``). A folder
named by ``CMS_SITE_THEME_DIR`` overrides it file by file: a template found there is used
instead of the default one of the same name, and a ``site.css`` there replaces the
stylesheet. Templates are compiled on first use and kept; only in development are they
checked for changes (``auto_reload``).
"""

from __future__ import annotations

import hashlib
import html
import logging
import threading
import traceback
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    TemplateSyntaxError,
    select_autoescape,
)

from cms.config import Settings

logger = logging.getLogger(__name__)

STYLESHEET = "site.css"
STATIC_PATH = "/site/static"


@dataclass(frozen=True)
class Stylesheet:
    body: bytes
    digest: str

    @property
    def url(self) -> str:
        """Its address, which carries its content hash (so it may be cached for good)."""
        return f"{STATIC_PATH}/site.{self.digest}.css"


def long_date(moment: datetime) -> str:
    """``8 December 2026``, the same in every locale (and without strftime's cost)."""
    return f"{moment.day} {MONTHS[moment.month - 1]} {moment.year}"


MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


class RenderedPages:
    """The HTML of recently rendered pages, by their ETag, which names everything a page
    shows (the article's version, the site's identity, theme and addresses): a page found
    here is exactly the page rendering would make again. Per process and bounded (by
    count and by bytes; large pages are not kept), so it needs no invalidation and no
    sharing between workers."""

    def __init__(self, *, entries: int = 512, total_bytes: int = 32 * 1024 * 1024) -> None:
        self.entries = entries
        self.total_bytes = total_bytes
        self.largest = total_bytes // 64
        self._pages: OrderedDict[str, bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, etag: str) -> bytes | None:
        with self._lock:
            body = self._pages.get(etag)
            if body is not None:
                self._pages.move_to_end(etag)
            return body

    def put(self, etag: str, body: bytes) -> None:
        if len(body) > self.largest or self.entries == 0:
            return
        with self._lock:
            if etag in self._pages:
                return
            self._pages[etag] = body
            self._bytes += len(body)
            while len(self._pages) > self.entries or self._bytes > self.total_bytes:
                _, dropped = self._pages.popitem(last=False)
                self._bytes -= len(dropped)


class TemplateFailed(Exception):
    """A template could not be compiled or rendered (the reader gets the 500 page)."""


class Theme:
    """The Jinja environment and the stylesheet of one application."""

    def __init__(self, settings: Settings) -> None:
        self.folder = settings.site_theme_dir
        loaders: list[Any] = [PackageLoader("cms.site", "templates")]
        if self.folder is not None:
            loaders.insert(0, FileSystemLoader(str(self.folder)))
        self.environment = Environment(
            loader=ChoiceLoader(loaders),
            autoescape=select_autoescape(default=True, default_for_string=True),
            auto_reload=settings.environment == "development",
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.environment.filters["long_date"] = long_date
        override = self.folder / STYLESHEET if self.folder is not None else None
        if override is not None and override.is_file():
            css = override.read_bytes()
        else:
            css = resources.files("cms.site").joinpath(f"static/{STYLESHEET}").read_bytes()
        self.stylesheet = Stylesheet(css, hashlib.sha256(css).hexdigest()[:16])
        # In development templates are read again when they change: so are the pages.
        self.rendered = RenderedPages(entries=0 if self.environment.auto_reload else 512)
        # Changes with anything that changes every page: the theme folder's templates
        # (as they were when the process started) and the stylesheet.
        self.digest = hashlib.blake2b(
            (self.stylesheet.digest + _folder_digest(self.folder)).encode(), digest_size=6
        ).hexdigest()

    def render(self, name: str, context: dict[str, Any]) -> str:
        """``name`` rendered with ``context``; :class:`TemplateFailed` (after logging the
        template file and line) when the template is broken."""
        try:
            return self.environment.get_template(name).render(context)
        except TemplateSyntaxError as exc:
            logger.error(
                "site template %s, line %s, does not compile: %s",
                exc.filename or exc.name or name,
                exc.lineno,
                exc.message,
            )
            raise TemplateFailed(name) from exc
        except Exception as exc:
            where = _template_frame(exc)
            logger.error(
                "site template %s, line %s, failed while rendering %s: %s: %s",
                where[0] if where else name,
                where[1] if where else "?",
                name,
                type(exc).__name__,
                exc,
            )
            raise TemplateFailed(name) from exc


def _template_frame(exc: BaseException) -> tuple[str, int] | None:
    """The innermost template file and line in ``exc``'s traceback (Jinja rewrites the
    frames of compiled templates to name the template's file and line)."""
    found = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename.endswith((".html", ".xml", ".txt", ".j2", ".jinja")):
            found = (frame.filename, frame.lineno or 0)
    return found


def _folder_digest(folder: Path | None) -> str:
    if folder is None:
        return ""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def error_page(stylesheet_url: str) -> str:
    """What a reader sees when a template is broken: no template is involved (it may be
    the broken one), and nothing about why."""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Something went wrong</title>
<link rel="stylesheet" href="{html.escape(stylesheet_url)}">
</head><body><main id="main" class="page"><h1>Something went wrong</h1>
<p>This page could not be shown because of an error on our side. It has been logged;
please try again in a little while.</p>
<p><a href="/">Go to the home page</a></p></main></body></html>
"""
