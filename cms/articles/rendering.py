"""Markdown to safe HTML: rendered by cmark-gfm (GitHub's CommonMark, linear time in C),
then sanitized by ammonia (nh3).

The sanitizer is the security boundary: raw HTML in the Markdown is kept for the
sanitizer to judge, and only an allow-list of tags, attributes and URL schemes survives
(no ``<script>``, no ``on*`` handlers, no ``javascript:`` links).
"""

import cmarkgfm
import nh3
from cmarkgfm.cmark import Options

_ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}


def render_markdown(body: str) -> str:
    """Sanitized HTML for a Markdown ``body`` (GitHub-flavoured: tables, strikethrough…)."""
    html = cmarkgfm.github_flavored_markdown_to_html(body, options=Options.CMARK_OPT_UNSAFE)
    return str(nh3.clean(html, url_schemes=_ALLOWED_URL_SCHEMES, link_rel="noopener noreferrer"))
