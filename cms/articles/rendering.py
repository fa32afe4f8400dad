"""Markdown to safe HTML: rendered by markdown-it, then sanitized by ammonia (nh3).

The sanitizer is the security boundary: whatever the renderer emits, only an allow-list
of tags, attributes and URL schemes survives (no ``<script>``, no ``on*`` handlers, no
``javascript:`` links).
"""

import nh3
from markdown_it import MarkdownIt

_markdown = MarkdownIt("commonmark", {"html": True, "linkify": False}).enable("table")
_markdown.enable("strikethrough")

_ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}


def render_markdown(body: str) -> str:
    """Sanitized HTML for a Markdown ``body``."""
    html = _markdown.render(body)
    return str(nh3.clean(html, url_schemes=_ALLOWED_URL_SCHEMES, link_rel="noopener noreferrer"))
