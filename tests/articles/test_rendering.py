"""Rendering: bodies that would make the sanitizer's work explode are refused (or defused)
before it runs, over real HTTP and directly; legitimate Markdown still renders, sanitized."""

import random
import re
from collections.abc import Callable
from pathlib import Path

import httpx
import nh3
import pyromark
import pytest
from sqlalchemy import func, select

from cms.articles.models import Article
from cms.articles.rendering import (
    ALLOWED_TAGS,
    MAX_NESTING,
    TOO_DEEP,
    TOO_LARGE,
    BodyTooComplex,
    render_markdown,
    shallow_html,
)
from cms.db import Database
from cms.fields import BODY_MAX_BYTES
from tests.conftest import UserFactory

Login = Callable[..., dict[str, str]]


def filled(unit: str, size: int = BODY_MAX_BYTES, head: str = "") -> str:
    """``head`` then ``unit`` repeated up to ``size`` bytes of UTF-8."""
    return head + unit * ((size - len(head.encode())) // len(unit.encode()))


def stored_articles(database: Database) -> int:
    with database.transaction() as session:
        return session.scalar(select(func.count()).select_from(Article)) or 0


REFUSED = {
    "quotes in quotes": (">" * 16_000, TOO_DEEP),
    "a mebibyte of quotes": (">" * BODY_MAX_BYTES, TOO_LARGE),
    "list markers in a row": ("- " * 20_000 + "x", TOO_DEEP),
    "nested lists": ("".join("  " * level + "- x\n" for level in range(200)), TOO_DEEP),
    "divs": (filled("<div>"), TOO_DEEP),
    "unclosed bold, each different": (
        "".join(f"<b title={n}>" for n in range(20_000)),
        TOO_DEEP,
    ),
    "unclosed italics": (filled("<i>"), TOO_DEEP),
    "tables in tables": (filled("<table><tr><td>"), TOO_DEEP),
    "divs behind a comment": ("<!--" + "</div>" * 500 + "-->" + "<div>" * 500, TOO_DEEP),
    "divs with end tags in quotes": (filled("<div title='</div>'>", 64_000), TOO_DEEP),
}


@pytest.mark.parametrize(("body", "message"), REFUSED.values(), ids=REFUSED.keys())
def test_a_body_nested_too_deep_is_refused_naming_the_problem_and_not_stored(
    api: httpx.Client,
    make_user: UserFactory,
    login: Login,
    database: Database,
    body: str,
    message: str,
) -> None:
    response = api.post(
        "/articles/", json={"title": "Hostile", "body": body}, headers=login(make_user())
    )
    assert response.status_code == 422, response.text[:200]
    assert response.json()["detail"] == [
        {"loc": ["body", "body"], "msg": message, "type": "value_error"}
    ]
    assert stored_articles(database) == 0


def test_an_edit_nesting_too_deep_is_refused_and_the_article_unchanged(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    headers = login(make_user())
    created = api.post("/articles/", json={"title": "Fine", "body": "*fine*"}, headers=headers)
    path = f"/articles/{created.json()['id']}"
    response = api.patch(path, json={"body": ">" * 16_000}, headers=headers)
    assert response.status_code == 422
    assert response.json()["detail"][0]["msg"] == TOO_DEEP
    article = api.get(path, headers=headers).json()
    assert (article["body"], article["body_html"], article["version"]) == (
        "*fine*",
        "<p><em>fine</em></p>\n",
        1,
    )


DEFUSED = {
    # Tags closed out of order: the parser would keep every <div> open.
    "misnested span and div": filled("<span><div></span>"),
    "misnested bold and div": filled("<b><div></b>"),
    # Unclosed formatting: the parser would re-create all 64 inside every later <div>.
    "bold reopened in every div": filled(
        "<div>y</div>", head="<div>" + "".join(f"<b title={n}>" for n in range(64)) + "a</div>"
    ),
    "stars": filled("*"),
    "brackets": filled("["),
    "backticks": filled("`"),
    "entities": filled("&amp;"),
    "emphasis runs": filled("*a **a "),
    "a reference used everywhere": filled(
        "[a] ", head="[a]: https://example.com/" + "x" * 1000 + "\n\n"
    ),
}


@pytest.mark.parametrize("body", DEFUSED.values(), ids=DEFUSED.keys())
def test_a_mebibyte_of_hostile_but_shallow_markup_is_stored_without_blowing_up(
    api: httpx.Client, make_user: UserFactory, login: Login, body: str
) -> None:
    response = api.post(
        "/articles/", json={"title": "Odd", "body": body}, headers=login(make_user())
    )
    assert response.status_code == 201, response.text[:200]
    html = response.json()["body_html"]
    assert len(html.encode()) <= 4 * len(body.encode())
    assert "<script" not in html


def test_legitimate_markdown_renders_and_is_sanitized(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    nested_list = "".join("  " * level + f"- level {level + 1}\n" for level in range(5))
    body = (
        "| Fruit | Count |\n|---|---:|\n| apple | 3 |\n\n"
        "~~old~~ new, see <https://example.com/docs>.\n\n"
        f"{nested_list}\n"
        "> quoted\n> > twice\n\n"
        "```\n" + "> " * 10_000 + "<div>\n```\n\n"
        "<div class=note>raw <em>HTML</em> survives</div>\n\n"
        "<script>alert('x')</script>\n\n<img src=x onerror=alert(1)>\n\n"
        '[click](javascript:alert(1)) <a href="javascript:alert(2)" onclick="x()">raw</a>'
    )
    response = api.post(
        "/articles/", json={"title": "Tour", "body": body}, headers=login(make_user())
    )
    assert response.status_code == 201, response.text
    html = response.json()["body_html"]
    assert "<th>Fruit</th>" in html and '<td style="text-align: right">3</td>' in html
    assert "<del>old</del>" in html
    assert (
        '<a href="https://example.com/docs" rel="noopener noreferrer">https://example.com/docs</a>'
        in html
    )
    assert html.count("<ul>") == 5 and "<li>level 5</li>" in html
    assert "<blockquote>\n<p>quoted</p>\n<blockquote>\n<p>twice</p>" in html
    assert "<pre><code>" + "&gt; " * 10_000 + "&lt;div&gt;\n</code></pre>" in html
    assert "<div>raw <em>HTML</em> survives</div>" in html
    assert "<script" not in html and "alert('x')" not in html
    assert not re.search(r"\son\w+=", html)
    assert "javascript:" not in html
    assert '<img src="x">' in html


def test_quotes_and_lists_nest_to_the_bound_and_no_deeper() -> None:
    # A quote is one element (a <p> inside the last); a list level two (<ul> and <li>).
    render_markdown("> " * (MAX_NESTING - 1) + "deep")
    with pytest.raises(BodyTooComplex, match=re.escape(TOO_DEEP)):
        render_markdown("> " * MAX_NESTING + "too deep")
    levels = MAX_NESTING // 2
    render_markdown("".join("  " * level + "- x\n" for level in range(levels)))
    with pytest.raises(BodyTooComplex):
        render_markdown("".join("  " * level + "- x\n" for level in range(levels + 1)))


@pytest.mark.parametrize(
    "html",
    [
        "<div>" * MAX_NESTING,
        "<br>" * 10_000 + "<img src=x>" * 1_000 + "<hr>" * 1_000 + "<wbr/>" * 1_000,
        "<!--" + "<div>" * 1_000 + "-->",
        "<div title='" + "<div>" * 1_000 + "'>",
        "<p>" * 1_000 + "<li>" * 1_000 + "<td>" * 1_000,
        "<b></b>" * 10_000 + "</div>" * 1_000,
        "<script>" + "<div>" * 1_000 + "</script>",
        "<svg>" + "<g>" * 1_000,
        "a <" * 1_000,
    ],
    ids=[
        "at the bound",
        "void elements",
        "markup in a comment",
        "markup in an attribute",
        "implied end tags",
        "closed and stray end tags",
        "script content",
        "tags the sanitizer drops",
        "stray brackets",
    ],
)
def test_shallow_html_accepts_what_does_not_nest(html: str) -> None:
    shallow_html(html)


@pytest.mark.parametrize(
    "html",
    [
        "<div>" * (MAX_NESTING + 1),
        "<!-- </div> -->" + "<div>" * (MAX_NESTING + 1),
        "<div title='</div>'>" * (MAX_NESTING + 1),
        "".join(f"<b title={n}>" for n in range(MAX_NESTING + 1)),
        "<ul><li>" * 65,
        "<table><tr><td>" * 43,
    ],
    ids=["divs", "after a comment", "end tags in quotes", "unclosed bold", "lists", "tables"],
)
def test_shallow_html_refuses_what_nests_past_the_bound(html: str) -> None:
    with pytest.raises(BodyTooComplex, match=re.escape(TOO_DEEP)):
        shallow_html(html)


def test_shallow_html_on_the_renderers_output_escapes_and_closes() -> None:
    rendered = pyromark.html(
        "`<div>` and <b>bold <i>both</b> a < b <span><div></span><script>x()</script>"
    )
    # The <div> ends the paragraph, as an HTML parser would end it; here it says so.
    assert shallow_html(rendered) == (
        "<p><code>&lt;div&gt;</code> and <b>bold <i>both</i></b> a &lt; b <span></span></p><div>\n"
    )


@pytest.mark.parametrize(
    "html",
    [
        "<p>one<p>two<ul><li>a<li>b</ul>",
        "<dl><dt>term<dd>one<dt>other<dd>two</dl>",
        "<h1>title<h2>subtitle</h1>",
        "<a href=x>one<a href=y>two",
        "<ul><li>a<div>b<li>c</ul>",
        "<ruby>kan<rp>(<rt>kan<rp>)</ruby>",
        "<table><tr><td>a<td>b<tr><td>c</table>",
        "<table><caption>c<colgroup><col><col><tr><th>x</table>",
        "<div><table><tr><td>a</div>b</td></tr></table>c</div>",
        "<b><table><tr><td>x</b>y</td></tr></table>",
        "<table><tr><td><table><caption>c</td>z</table>w</td></tr></table>",
        "<p>one<section>two<p>three</section>four",
        "<ul><li>a<section>b<li>c</section></ul>",
        "<table><tr><td>x<input type=checkbox></td></tr></table><p><input checked><input>",
    ],
)
def test_hand_written_html_is_sanitized_as_if_it_had_not_been_rewritten(html: str) -> None:
    # What the parser would have implied is written out, not changed.
    rewritten = nh3.clean(shallow_html(html), tags=set(ALLOWED_TAGS))
    assert rewritten == nh3.clean(html, tags=set(ALLOWED_TAGS))


def test_formatting_left_open_ends_with_its_block_instead_of_spreading() -> None:
    # The parser would re-create the <b> in every later block (and 64 of them in each).
    assert shallow_html("<p>text <b>bold</p><p>more</p>") == ("<p>text <b>bold</b></p><p>more</p>")


_TAG = re.compile(r"<(/?)([a-z0-9]+)")
_SOUP_TAGS = [*sorted(ALLOWED_TAGS), "script", "svg", "math", "select", "form", "textarea"]
_SOUP_TEXT = ["x", " ", "\n", "<!-- <div> -->", "<!x>", "</ x>", "a<b", "<", "&amp;"]


def _soup(rng: random.Random) -> str:
    pieces = []
    for _ in range(rng.randint(1, 80)):
        roll = rng.random()
        if roll < 0.45:
            attribute = rng.choice(["", " title=x", ' title="</div><b>"', " id=1"])
            pieces.append(f"<{rng.choice(_SOUP_TAGS)}{attribute}>")
        elif roll < 0.8:
            pieces.append(f"</{rng.choice(_SOUP_TAGS)}>")
        else:
            pieces.append(rng.choice(_SOUP_TEXT))
    return "".join(pieces)


def _tree(html: str) -> list[str]:
    """Start and end tags in order, every element closed (voids have no end tag)."""
    tags: list[str] = []
    open_elements: list[str] = []
    for closing, name in _TAG.findall(html):
        tags.append(closing + name)
        if closing:
            assert open_elements.pop() == name, html
        elif name not in {"area", "br", "col", "hr", "img", "input", "wbr"}:
            open_elements.append(name)
    return tags + [f"/{name}" for name in reversed(open_elements)]


def test_the_sanitizer_builds_exactly_the_tree_that_was_counted() -> None:
    rng = random.Random(20261129)
    for _ in range(1_000):
        soup = _soup(rng)
        try:
            shallow = shallow_html(soup)
        except BodyTooComplex:
            continue
        # Quoted attribute values hold "<": count on the sanitized copy of the tags.
        counted = _tree(re.sub(r"\s[a-z]+=(\"[^\"]*\"|'[^']*'|[^\s>]*)", "", shallow))
        built = _tree(nh3.clean(shallow, tags=set(ALLOWED_TAGS), attributes={}))
        assert built == counted, soup


def resident_bytes() -> int:
    """This process's resident set size in bytes (Linux)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * 4096


def large_article(size: int) -> str:
    """A long article, mostly prose, using every construct the renderer knows: about
    ``size`` bytes."""
    prose = (
        "Start small, and keep notes on what works and what does not. Most of the effort "
        "goes into preparation; the rest is patience. The right tools help, but a clear plan "
        "helps more. "
    )
    section = (
        f"## A heading\n\n{prose * 2}Some *emphasis*, **strong**, `code` and a "
        f"[link](https://example.com). ~~Struck~~ <kbd>Ctrl</kbd>.\n\n{prose * 3}\n\n"
        "- one\n  - two\n    - three\n\n1. first\n2. second\n\n> a quote\n> > inside\n\n"
        "| a | b |\n|---|---:|\n| 1 | 2 |\n\n```\ncode > block\n```\n\n"
        f"<div class=note><p>raw <b>HTML</b></p></div>\n\n{prose * 2}\n\n"
    )
    return filled(section, size)


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads Linux's /proc")
def test_rendering_a_large_body_again_and_again_does_not_grow_memory() -> None:
    body = large_article(500_000)
    for _ in range(3):  # allocator pools and caches settle
        render_markdown(body)
    baseline = resident_bytes()
    for done in range(1, 101):
        render_markdown(body)
        grown = resident_bytes() - baseline
        # cmarkgfm leaked about 30 MB a render of this size.
        assert grown < 50 * 1024 * 1024, f"RSS grew {grown >> 20} MB after {done} renders"
