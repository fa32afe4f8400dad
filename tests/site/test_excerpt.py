"""The plain-text excerpt of a sanitized body (meta description, list pages)."""

from __future__ import annotations

from cms.articles.rendering import render_markdown
from cms.site.pages import _DESCRIPTION_SOURCE, excerpt


def test_an_excerpt_is_the_bodys_text_without_its_markup() -> None:
    body = render_markdown(
        '# Title\n\nA &amp; B, `<b>` and [a link](https://example.com/?a=1&b=2 "x > y").'
    )
    assert excerpt(body) == "Title A & B, <b> and a link."
    # A ">" inside a quoted attribute does not end the tag.
    assert excerpt('<p><a title="x > y" href="/">link</a> text</p>') == "link text"


def test_a_tag_cut_off_by_the_length_read_leaves_nothing_behind() -> None:
    words = "word " * ((_DESCRIPTION_SOURCE - 40) // 5)
    body = render_markdown(words + "[link](https://example.com/" + "y" * 80 + ")")
    assert excerpt(body, length=10_000).endswith("word")
    assert excerpt(body).endswith("…") and len(excerpt(body)) <= 160
