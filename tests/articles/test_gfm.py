"""GitHub-flavoured Markdown: every rule of GFM's extensions (tables, strikethrough,
autolinks, task lists, footnotes) and what github.com adds (heading ids, fence languages),
as the sanitized HTML an article stores. The examples are this project's own, modelled on
the GFM spec's; what still differs from github.com is listed in docs/api.md."""

from typing import Final

import pytest

from cms.articles.rendering import (
    BODY_HTML_MAX_BYTES,
    TOO_LARGE,
    BodyTooComplex,
    render_markdown,
)
from cms.fields import BODY_MAX_BYTES

# Every link carries it (tests/articles/test_rendering.py checks); left out here to keep
# the table readable.
REL: Final = ' rel="noopener noreferrer"'


def ref(number: int, nth: int = 1) -> str:
    """The superscript link of the ``nth`` reference to footnote ``number``."""
    suffix = "" if nth == 1 else f"-{nth}"
    return (
        f'<sup><a href="#user-content-fn-{number}" id="user-content-fnref-{number}{suffix}"'
        ' data-footnote-ref="" aria-describedby="user-content-footnote-label">'
        f"{number}</a></sup>"
    )


def back(number: int, nth: int = 1) -> str:
    """The link from footnote ``number`` back to its ``nth`` reference."""
    suffix = "" if nth == 1 else f"-{nth}"
    label = "↩" if nth == 1 else f"↩<sup>{nth}</sup>"
    return (
        f'<a href="#user-content-fnref-{number}{suffix}" data-footnote-backref=""'
        f' aria-label="Back to reference {number}{suffix}">{label}</a>'
    )


def notes(*items: str) -> str:
    """The footnotes section holding ``items`` (each a note's content, numbered from 1)."""
    listed = "".join(
        f'<li id="user-content-fn-{number}">\n{item}</li>\n'
        for number, item in enumerate(items, start=1)
    )
    return (
        '<section data-footnotes="">\n<h2 id="user-content-footnote-label">Footnotes</h2>\n'
        f"<ol>\n{listed}</ol>\n</section>\n"
    )


CASES: Final = {
    "table": (
        ("| Day | Meals |\n| --- | --- |\n| Mon | 3 |\n| Tue | 2 |"),
        (
            "<table><thead><tr><th>Day</th><th>Meals</th></tr></thead>\n"
            "<tbody>\n"
            "<tr><td>Mon</td><td>3</td></tr>\n"
            "<tr><td>Tue</td><td>2</td></tr>\n"
            "</tbody></table>\n"
        ),
    ),
    "table alignments": (
        ("| l | c | r | n |\n|:--|:-:|--:|---|\n| 1 | 2 | 3 | 4 |"),
        (
            '<table><thead><tr><th style="text-align: left">l</th>'
            '<th style="text-align: center">c</th><th style="text-align: right">r</th>'
            "<th>n</th></tr></thead>\n"
            "<tbody>\n"
            '<tr><td style="text-align: left">1</td><td style="text-align: center">'
            '2</td><td style="text-align: right">3</td><td>4</td></tr>\n'
            "</tbody></table>\n"
        ),
    ),
    "table escaped pipe": (
        ("| code | ok |\n|---|---|\n| `a\\|b` | x \\| y |"),
        (
            "<table><thead><tr><th>code</th><th>ok</th></tr></thead>\n"
            "<tbody>\n"
            "<tr><td><code>a|b</code></td><td>x | y</td></tr>\n"
            "</tbody></table>\n"
        ),
    ),
    "table without outer pipes": (
        ("Name | Age\n--- | ---\nAda | 36"),
        (
            "<table><thead><tr><th>Name</th><th>Age</th></tr></thead>\n"
            "<tbody>\n"
            "<tr><td>Ada</td><td>36</td></tr>\n"
            "</tbody></table>\n"
        ),
    ),
    "table ends at blank line": (
        ("| a |\n|---|\n| 1 |\n\nafter"),
        (
            "<table><thead><tr><th>a</th></tr></thead>\n"
            "<tbody>\n"
            "<tr><td>1</td></tr>\n"
            "</tbody></table>\n"
            "<p>after</p>\n"
        ),
    ),
    "table ends at other block": (
        ("| a |\n|---|\n| 1 |\n> quote"),
        (
            "<table><thead><tr><th>a</th></tr></thead>\n"
            "<tbody>\n"
            "<tr><td>1</td></tr>\n"
            "</tbody></table>\n"
            "<blockquote>\n"
            "<p>quote</p>\n"
            "</blockquote>\n"
        ),
    ),
    "table header and delimiter must match": (
        ("| a | b |\n|---|\n| 1 | 2 |"),
        ("<p>| a | b |\n|---|\n| 1 | 2 |</p>\n"),
    ),
    "table short and long rows": (
        ("| a | b |\n|---|---|\n| 1 |\n| 1 | 2 | 3 |"),
        (
            "<table><thead><tr><th>a</th><th>b</th></tr></thead>\n"
            "<tbody>\n"
            "<tr><td>1</td><td></td></tr>\n"
            "<tr><td>1</td><td>2</td></tr>\n"
            "</tbody></table>\n"
        ),
    ),
    "table header only": (
        ("| a | b |\n|---|---|"),
        ("<table><thead><tr><th>a</th><th>b</th></tr></thead>\n</table>\n"),
    ),
    "table inline markup": (
        ("| *em* | **strong** |\n|---|---|\n| [x](https://x.example) | ~~old~~ |"),
        (
            "<table><thead><tr><th><em>em</em></th><th><strong>strong</strong></th>"
            "</tr></thead>\n"
            "<tbody>\n"
            '<tr><td><a href="https://x.example">x</a></td><td><del>old</del></td></tr>\n'
            "</tbody></table>\n"
        ),
    ),
    "strikethrough double": (
        "~~gone~~ and kept",
        "<p><del>gone</del> and kept</p>\n",
    ),
    "strikethrough single": (
        "a ~gone~ b",
        "<p>a <del>gone</del> b</p>\n",
    ),
    "strikethrough three tildes": (
        "a ~~~not~~~ b",
        "<p>a ~~~not~~~ b</p>\n",
    ),
    "strikethrough not across paragraphs": (
        ("~~start\n\nend~~"),
        ("<p>~~start</p>\n<p>end~~</p>\n"),
    ),
    "www": (
        "www.example.org",
        '<p><a href="http://www.example.org">www.example.org</a></p>\n',
    ),
    "www with path": (
        "Go to www.example.org/docs today.",
        ('<p>Go to <a href="http://www.example.org/docs">www.example.org/docs</a> today.</p>\n'),
    ),
    "www trailing punctuation": (
        "See www.example.org. Or www.example.org/a.b, or www.example.org/x?!",
        (
            '<p>See <a href="http://www.example.org">www.example.org</a>'
            '. Or <a href="http://www.example.org/a.b">www.example.org/a.b</a>'
            ', or <a href="http://www.example.org/x">www.example.org/x</a>?!</p>\n'
        ),
    ),
    "www interior punctuation": (
        "www.example.org/~me/a.b.pdf",
        ('<p><a href="http://www.example.org/~me/a.b.pdf">www.example.org/~me/a.b.pdf</a></p>\n'),
    ),
    "www balanced parens": (
        "www.example.org/wiki/Pie_(food)",
        (
            '<p><a href="http://www.example.org/wiki/Pie_(food)">'
            "www.example.org/wiki/Pie_(food)</a></p>\n"
        ),
    ),
    "www extra closing parens": (
        "www.example.org/wiki/Pie_(food)))",
        (
            '<p><a href="http://www.example.org/wiki/Pie_(food)">'
            "www.example.org/wiki/Pie_(food)</a>))</p>\n"
        ),
    ),
    "www inside parens": (
        "(www.example.org/wiki/Pie_(food))",
        (
            '<p>(<a href="http://www.example.org/wiki/Pie_(food)">'
            "www.example.org/wiki/Pie_(food)</a>)</p>\n"
        ),
    ),
    "www interior parens": (
        "www.example.org/a)b(c",
        '<p><a href="http://www.example.org/a)b(c">www.example.org/a)b(c</a></p>\n',
    ),
    "www entity-like end": (
        "www.example.org/?q=1&zz9; and www.example.org/?q=1&a=2",
        (
            '<p><a href="http://www.example.org/?q=1">www.example.org/?q=1</a>'
            '&amp;zz9; and <a href="http://www.example.org/?q=1&amp;a=2">'
            "www.example.org/?q=1&amp;a=2</a></p>\n"
        ),
    ),
    "www semicolon end": (
        "www.example.org/x;",
        '<p><a href="http://www.example.org/x">www.example.org/x</a>;</p>\n',
    ),
    "www ends at less-than": (
        "www.example.org/pa<th",
        '<p><a href="http://www.example.org/pa">www.example.org/pa</a>&lt;th</p>\n',
    ),
    "www underscore in last segments": (
        "www.ex_ample.org and www.example.o_rg",
        "<p>www.ex_ample.org and www.example.o_rg</p>\n",
    ),
    "www underscore earlier": (
        "www.a_b.example.org",
        '<p><a href="http://www.a_b.example.org">www.a_b.example.org</a></p>\n',
    ),
    "www needs a name": (
        "www. and www.",
        "<p>www. and www.</p>\n",
    ),
    "www after delimiters": (
        "*www.a.example* _www.b.example_ ~www.c.example~ (www.d.example)",
        (
            '<p><em><a href="http://www.a.example">www.a.example</a></em> <em>'
            '<a href="http://www.b.example">www.b.example</a></em> <del>'
            '<a href="http://www.c.example">www.c.example</a></del>'
            ' (<a href="http://www.d.example">www.d.example</a>)</p>\n'
        ),
    ),
    "www inside a word": (
        "xwww.example.org",
        "<p>xwww.example.org</p>\n",
    ),
    "www in emphasis": (
        "**www.example.org**",
        '<p><strong><a href="http://www.example.org">www.example.org</a></strong></p>\n',
    ),
    "http": (
        "http://example.org",
        '<p><a href="http://example.org">http://example.org</a></p>\n',
    ),
    "https with path and parens": (
        "(see https://example.org/search?q=(x))",
        (
            '<p>(see <a href="https://example.org/search?q=(x)">'
            "https://example.org/search?q=(x)</a>)</p>\n"
        ),
    ),
    "https upper case scheme": (
        "HTTPS://example.org/A",
        '<p><a href="HTTPS://example.org/A">HTTPS://example.org/A</a></p>\n',
    ),
    "https host without dot": (
        "http://localhost:8080/x",
        '<p><a href="http://localhost:8080/x">http://localhost:8080/x</a></p>\n',
    ),
    "https no domain": (
        "https:// and https://.x",
        "<p>https:// and https://.x</p>\n",
    ),
    "https trailing punctuation": (
        "Visit https://example.org/a_b_.",
        '<p>Visit <a href="https://example.org/a_b">https://example.org/a_b</a>_.</p>\n',
    ),
    "ftp not linked": (
        "ftp://files.example.org",
        "<p>ftp://files.example.org</p>\n",
    ),
    "url in angle brackets": (
        "<https://example.org/a>",
        '<p><a href="https://example.org/a">https://example.org/a</a></p>\n',
    ),
    "email": (
        "write to me@example.org",
        '<p>write to <a href="mailto:me@example.org">me@example.org</a></p>\n',
    ),
    "email plus before at": (
        "a+b@example.org but a@b+c.example",
        '<p><a href="mailto:a+b@example.org">a+b@example.org</a> but a@b+c.example</p>\n',
    ),
    "email dots dashes underscores": (
        "a.b-c_d@e.f-g_h.example",
        '<p><a href="mailto:a.b-c_d@e.f-g_h.example">a.b-c_d@e.f-g_h.example</a></p>\n',
    ),
    "email trailing dot": (
        "mail a@example.org.",
        '<p>mail <a href="mailto:a@example.org">a@example.org</a>.</p>\n',
    ),
    "email trailing dash or underscore": (
        "a@example.org- a@example.org_",
        "<p>a@example.org- a@example.org_</p>\n",
    ),
    "email needs a dot": (
        "me@localhost",
        "<p>me@localhost</p>\n",
    ),
    "email mailto scheme": (
        "mailto:me@example.org",
        '<p><a href="mailto:me@example.org">mailto:me@example.org</a></p>\n',
    ),
    "email inside url": (
        "https://example.org/@me",
        '<p><a href="https://example.org/@me">https://example.org/@me</a></p>\n',
    ),
    "no autolink in code span": (
        "`www.example.org`",
        "<p><code>www.example.org</code></p>\n",
    ),
    "no autolink in code block": (
        ("```\nwww.example.org\n```"),
        ("<pre><code>www.example.org\n</code></pre>\n"),
    ),
    "no autolink in link text": (
        "[www.example.org](https://other.example)",
        '<p><a href="https://other.example">www.example.org</a></p>\n',
    ),
    "no autolink in raw link": (
        '<a href="https://other.example">www.example.org</a>',
        '<p><a href="https://other.example">www.example.org</a></p>\n',
    ),
    "no autolink in html block": (
        ("<div>\nwww.example.org\n</div>"),
        ("<div>\nwww.example.org\n</div>"),
    ),
    "no autolink in image alt": (
        "![www.example.org](https://img.example/a.png)",
        '<p><img src="https://img.example/a.png" alt="www.example.org"></p>\n',
    ),
    "autolink after code span": (
        "`x`www.example.org",
        "<p><code>x</code>www.example.org</p>\n",
    ),
    "regular link untouched": (
        "[a link](https://example.org/)stuff?",
        '<p><a href="https://example.org/">a link</a>stuff?</p>\n',
    ),
    "task list": (
        ("- [ ] to do\n- [x] done\n- [X] also done"),
        (
            "<ul>\n"
            '<li><input type="checkbox" disabled=""> to do</li>\n'
            '<li><input type="checkbox" disabled="" checked=""> done</li>\n'
            '<li><input type="checkbox" disabled="" checked=""> also done</li>\n'
            "</ul>\n"
        ),
    ),
    "task list ordered": (
        ("1. [ ] first\n2. [x] second"),
        (
            "<ol>\n"
            '<li><input type="checkbox" disabled=""> first</li>\n'
            '<li><input type="checkbox" disabled="" checked=""> second</li>\n'
            "</ol>\n"
        ),
    ),
    "task list nested": (
        ("- [x] parent\n  - [ ] child"),
        (
            "<ul>\n"
            '<li><input type="checkbox" disabled="" checked=""> parent<ul>\n'
            '<li><input type="checkbox" disabled=""> child</li>\n'
            "</ul>\n"
            "</li>\n"
            "</ul>\n"
        ),
    ),
    "task list needs a space": (
        ("- [ ]no\n- [x]"),
        ("<ul>\n<li>[ ]no</li>\n<li>[x]</li>\n</ul>\n"),
    ),
    "task marker mid-text": (
        "- item [ ] not a box",
        ("<ul>\n<li>item [ ] not a box</li>\n</ul>\n"),
    ),
    "task list loose": (
        ("- [ ] one\n\n- [x] two"),
        (
            "<ul>\n"
            '<li><p><input type="checkbox" disabled=""> one</p>\n'
            "</li>\n"
            '<li><p><input type="checkbox" disabled="" checked=""> two</p>\n'
            "</li>\n"
            "</ul>\n"
        ),
    ),
    "fence language": (
        ("```python\nprint(1)\n```"),
        ('<pre><code class="language-python">print(1)\n</code></pre>\n'),
    ),
    "fence info words": (
        ("~~~ ruby startline=3\nputs 1\n~~~"),
        ('<pre><code class="language-ruby">puts 1\n</code></pre>\n'),
    ),
    "fence without language": (
        ("```\nplain\n```"),
        ("<pre><code>plain\n</code></pre>\n"),
    ),
    "fence language escaped": (
        ('```c"onmouseover=x\nint\n```'),
        ("<pre><code>int\n</code></pre>\n"),
    ),
    "indented code no class": (
        "    indented",
        "<pre><code>indented</code></pre>\n",
    ),
    "raw code class kept only as language": (
        '<code class="language-js evil">x</code> <span class="language-js">y</span>',
        '<p><code class="language-js">x</code> <span>y</span></p>\n',
    ),
    "heading id": (
        "# Hello, World!",
        '<h1 id="user-content-hello-world">Hello, World!</h1>\n',
    ),
    "heading ids duplicates": (
        ("# Intro\n## Intro\n### Intro\n# Intro 1"),
        (
            '<h1 id="user-content-intro">Intro</h1>\n'
            '<h2 id="user-content-intro-1">Intro</h2>\n'
            '<h3 id="user-content-intro-2">Intro</h3>\n'
            '<h1 id="user-content-intro-1-1">Intro 1</h1>\n'
        ),
    ),
    "heading id markup and code": (
        "## The `main()` *loop*",
        '<h2 id="user-content-the-main-loop">The <code>main()</code> <em>loop</em></h2>\n',
    ),
    "heading id unicode": (
        "# Crème brûlée — 2 ways",
        '<h1 id="user-content-crème-brûlée--2-ways">Crème brûlée — 2 ways</h1>\n',
    ),
    "heading id setext": (
        ("Setext Title\n==="),
        '<h1 id="user-content-setext-title">Setext Title</h1>\n',
    ),
    "heading id punctuation only": (
        "# ?!",
        '<h1 id="user-content-">?!</h1>\n',
    ),
    "heading id spaces kept": (
        "# a  b",
        '<h1 id="user-content-a--b">a  b</h1>\n',
    ),
    "raw id prefixed": (
        '<span id="top">t</span>',
        '<p><span id="user-content-top">t</span></p>\n',
    ),
    "raw id clashing with heading dropped": (
        ('# Top\n\n<span id="top">t</span> <span id="user-content-top">u</span>'),
        ('<h1 id="user-content-top">Top</h1>\n<p><span>t</span> <span>u</span></p>\n'),
    ),
    "raw id duplicated dropped": (
        '<span id="a">1</span><span id="a">2</span>',
        '<p><span id="user-content-a">1</span><span>2</span></p>\n',
    ),
    "fragment link prefixed": (
        "[up](#top) [out](https://example.org/#x)",
        ('<p><a href="#user-content-top">up</a> <a href="https://example.org/#x">out</a></p>\n'),
    ),
    "raw input is a disabled checkbox": (
        '<input type="text" name="q" value="x" onfocus="y()">',
        '<input type="checkbox" disabled="">',
    ),
    "raw checked input": (
        "<input type=checkbox checked>",
        '<input type="checkbox" disabled="" checked="">',
    ),
    "raw section": (
        "<section data-footnotes onclick=x>s</section>",
        '<section data-footnotes="">s</section>',
    ),
    # Footnotes: a superscript number linking to a section at the end, never a link to
    # the note's text; numbered in order of first reference, linked back from the note.
    "footnote": (
        "Text[^1].\n\n[^1]: Note.",
        f"<p>Text{ref(1)}.</p>\n" + notes(f"<p>Note. {back(1)}</p>\n"),
    ),
    "footnote named label": (
        "Claim[^source].\n\n[^source]: A book.",
        f"<p>Claim{ref(1)}.</p>\n" + notes(f"<p>A book. {back(1)}</p>\n"),
    ),
    "footnote referenced twice": (
        "One[^n] two[^n].\n\n[^n]: Shared.",
        f"<p>One{ref(1)} two{ref(1, 2)}.</p>\n" + notes(f"<p>Shared. {back(1)} {back(1, 2)}</p>\n"),
    ),
    "footnotes numbered by first reference": (
        "A[^b] B[^a].\n\n[^a]: Defined first.\n[^b]: Defined second.",
        f"<p>A{ref(1)} B{ref(2)}.</p>\n"
        + notes(f"<p>Defined second. {back(1)}</p>\n", f"<p>Defined first. {back(2)}</p>\n"),
    ),
    "footnote unreferenced dropped": ("Plain.\n\n[^x]: Never cited.", "<p>Plain.</p>\n"),
    "footnote undefined stays text": ("Missing[^nope].", "<p>Missing[^nope].</p>\n"),
    "footnote label case-insensitive": (
        "See[^Note].\n\n[^note]: Lower case.",
        f"<p>See{ref(1)}.</p>\n" + notes(f"<p>Lower case. {back(1)}</p>\n"),
    ),
    "footnote with paragraphs": (
        "X[^1]\n\n[^1]: First paragraph.\n\n    Second paragraph.",
        f"<p>X{ref(1)}</p>\n"
        + notes(f"<p>First paragraph.</p>\n<p>Second paragraph. {back(1)}</p>\n"),
    ),
    "footnote ending in code": (
        "X[^1]\n\n[^1]:\n    ```\n    code\n    ```",
        f"<p>X{ref(1)}</p>\n" + notes(f"<pre><code>code\n</code></pre>\n{back(1)}\n"),
    ),
    "footnote defined before its reference": (
        "[^1]: Early.\n\nLate[^1].",
        f"<p>Late{ref(1)}.</p>\n" + notes(f"<p>Early. {back(1)}</p>\n"),
    ),
    "footnote inside a footnote": (
        "A[^1]\n\n[^1]: B[^2]\n\n[^2]: C",
        f"<p>A{ref(1)}</p>\n" + notes(f"<p>B{ref(2)} {back(1)}</p>\n", f"<p>C {back(2)}</p>\n"),
    ),
    "heading slug like a footnote id is numbered": (
        "# fn 1\n\nX[^1]\n\n[^1]: N.",
        '<h1 id="user-content-fn-1-1">fn 1</h1>\n'
        f"<p>X{ref(1)}</p>\n" + notes(f"<p>N. {back(1)}</p>\n"),
    ),
}


@pytest.mark.parametrize(("markdown", "html"), CASES.values(), ids=CASES.keys())
def test_markdown_renders_as_github_writes_it(markdown: str, html: str) -> None:
    assert render_markdown(markdown).replace(REL, "") == html


def test_rendering_is_the_same_every_time() -> None:
    # Stored HTML and its ETag must not change when nothing did (ids are marked per render).
    body = "\n\n".join(markdown for markdown, _ in CASES.values())
    assert len({render_markdown(body) for _ in range(5)}) == 1


def filled(unit: str, head: str = "") -> str:
    """``head`` then ``unit`` repeated up to the largest body allowed."""
    return head + unit * ((BODY_MAX_BYTES - len(head.encode())) // len(unit.encode()))


HOSTILE = {
    "bare www links": filled("www.a.b "),
    "one www run": filled("www."),
    "www and underscores": filled("www._"),
    "underscored domains": filled("www.a_"),
    "scheme after scheme": filled("https://a"),
    "one long url of parentheses": "https://a.b/" + filled("()") + ")",
    "email addresses": filled("a@b.cd "),
    "at signs": filled("a@"),
    "a long local part": filled("a.") + "@b",
    "footnote references": filled("[^x] ", head="[^x]: note\n\n"),
    "undefined footnote references": filled("[^x]"),
    "footnote definitions": filled("[^x]: y\n"),
    "identical headings": filled("# a\n"),
    "empty headings": filled("#\n"),
    "task items": filled("- [ ] x\n"),
    "inline code": filled("`a` "),
}


@pytest.mark.parametrize("body", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_mebibyte_aimed_at_the_gfm_passes_renders_or_is_refused_as_too_large(
    body: str,
) -> None:
    try:
        html = render_markdown(body)
    except BodyTooComplex as error:
        assert str(error) == TOO_LARGE
    else:
        assert len(html.encode()) <= BODY_HTML_MAX_BYTES
