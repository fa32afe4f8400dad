"""Markdown to safe HTML: rendered by pulldown-cmark (through pyromark: Rust, linear time,
and it frees what it allocates), then sanitized by ammonia (nh3).

The sanitizer is the security boundary: raw HTML in the Markdown is kept for the
sanitizer to judge, and only an allow-list of tags, attributes and URL schemes survives
(no ``<script>``, no ``on*`` handlers, no ``javascript:`` links).
"""

import nh3
import pyromark

_ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}
_MARKDOWN = pyromark.Options.ENABLE_TABLES | pyromark.Options.ENABLE_STRIKETHROUGH


def render_markdown(body: str) -> str:
    """Sanitized HTML for a Markdown ``body`` (CommonMark with tables and strikethrough)."""
    html = pyromark.html(body, options=_MARKDOWN)
    return str(nh3.clean(html, url_schemes=_ALLOWED_URL_SCHEMES, link_rel="noopener noreferrer"))
