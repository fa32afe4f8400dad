"""Markdown to safe HTML, in time and memory bounded whatever an author sends.

Three steps, each linear in its input once nesting is bounded:

1. :mod:`cms.articles.gfm` renders the Markdown as github.com does (pulldown-cmark parses:
   CommonMark with tables, strikethrough, task lists, footnotes, bare-URL autolinks, heading
   ids and fence languages); raw HTML passes through for the sanitizer to judge.
2. :func:`shallow_html` rewrites that HTML so that an HTML5 parser has nothing left to
   infer, and refuses it when elements nest more than :data:`MAX_NESTING` deep. HTML5
   parsers (html5ever in ammonia, lexbor) take time quadratic in nesting depth: 64 KB of
   ``>`` (a quote in a quote…) took ammonia 13 s, 1 MiB never finished.
3. ammonia (nh3) sanitizes: the security boundary. Only :data:`ALLOWED_TAGS`, their safe
   attributes and ``http``, ``https`` and ``mailto`` links survive (no ``<script>``, no
   ``on*`` handlers, no ``javascript:`` links). Classes survive only as ``language-*`` on
   ``<code>``; an ``<input>`` is always a disabled checkbox; every ``id`` starts with
   ``user-content-`` (see :func:`_attribute_filter`).

Counting tags alone cannot bound what the parser builds: it reopens an unclosed ``<b>``
inside every later ``<div>``, keeps ``<b><div></b>`` open although every tag is closed,
and moves or ignores elements inside tables. So step 2 hands on only allowed tags, writes
every end tag the parser would have implied, adds the table parts it would have added and
drops the tags it would have ignored or moved: the tree the sanitizer then builds is the
one counted here.
"""

import re
import secrets
from collections.abc import Callable
from typing import Final

import nh3

from cms.articles.gfm import ID_PREFIX, OutputTooLarge, to_html
from cms.fields import BODY_MAX_BYTES

# Which renderer wrote an article's stored ``body_html``: raise it whenever the same
# Markdown would render differently, and ``cms rerender`` brings stored articles up to it.
# 0: CommonMark with tables and strikethrough (pyromark's own HTML writer).
# 1: GitHub-flavoured: autolinks, task lists, footnotes, heading ids, fence languages.
RENDERER_VERSION: Final = 1

# Markdown can multiply (a reference link used thousands of times); HTML past this is refused.
BODY_HTML_MAX_BYTES = 4 * BODY_MAX_BYTES

# Elements open at once, counted as the sanitizer's parser counts them: a list level is
# two (``ul`` and ``li``), a quote one. Real writing nests a few dozen levels at most, and
# browsers flatten past 512. ammonia sanitizes 1 MiB of balanced HTML this deep in 0.07 s
# (1,024 deep: 0.2 s; 8,192: 1.4 s).
MAX_NESTING: Final = 128

# ammonia's default allow-list, written out so that an nh3 upgrade cannot widen it behind
# the tree model below, which knows how the parser treats each of these and no others.
ALLOWED_TAGS: Final = frozenset(
    {
        "a", "abbr", "acronym", "area", "article", "aside", "b", "bdi", "bdo", "blockquote",
        "br", "caption", "center", "cite", "code", "col", "colgroup", "data", "dd", "del",
        "details", "dfn", "div", "dl", "dt", "em", "figcaption", "figure", "footer", "h1",
        "h2", "h3", "h4", "h5", "h6", "header", "hgroup", "hr", "i", "img", "input", "ins",
        "kbd", "li", "map", "mark", "nav", "ol", "p", "pre", "q", "rp", "rt", "rtc", "ruby",
        "s", "samp", "section", "small", "span", "strike", "strong", "sub", "summary", "sup",
        "table", "tbody", "td", "th", "thead", "time", "tr", "tt", "u", "ul", "var", "wbr",
    }
)  # fmt: skip
_URL_SCHEMES: Final = frozenset({"http", "https", "mailto"})
# pulldown-cmark aligns table columns with these exact styles; no other style is kept.
_ALIGNMENTS: Final = frozenset(f"text-align: {side}" for side in ("left", "center", "right"))
# ammonia's default attributes, and those the GFM renderer writes: ids (every element may
# carry one: raw HTML anchors), a task's tick, the footnotes' links and a fence's language.
_ATTRIBUTES: Final = {
    **{tag: set(names) for tag, names in nh3.ALLOWED_ATTRIBUTES.items()},
    "*": {"id", "lang", "title"},
    "a": {"href", "hreflang", "aria-describedby", "aria-label", "data-footnote-ref",
          "data-footnote-backref"},
    "code": {"class"},
    "section": {"data-footnotes"},
}  # fmt: skip
# Whatever raw HTML says, an input is a disabled checkbox (nothing to type into or submit):
# shallow_html writes every <input> as one of these two, the sanitizer keeps nothing else.
_CHECKBOX: Final = '<input type="checkbox" disabled="">'
_CHECKED_BOX: Final = '<input type="checkbox" disabled="" checked="">'
_CHECKED: Final = re.compile(r"[\t\n\f\r ]checked(?=[\t\n\f\r /=>])", re.IGNORECASE)
_ATTRIBUTE_VALUES: Final = {
    **{cell: {"style": set(_ALIGNMENTS)} for cell in ("th", "td")},
    "input": {"type": {"checkbox"}, "disabled": {""}, "checked": {""}},
}
_LANGUAGE: Final = re.compile(r"language-[^\s\"'<>&]++")

TOO_LARGE = (
    "Body renders to more than 4 MiB of HTML (quotes or lists nested thousands deep, or a "
    "link or table repeated thousands of times?); shorten it"
)
TOO_DEEP = (
    f"Body nests more than {MAX_NESTING} levels deep (quotes, lists and HTML elements "
    "inside one another; a list level counts twice); flatten it"
)


class BodyTooComplex(ValueError):
    """The body cannot be rendered within the limits; the message tells its author why."""


def render_markdown(body: str) -> str:
    """Sanitized HTML for a Markdown ``body``; :class:`BodyTooComplex` past the limits."""
    marker = secrets.token_hex(8)
    try:
        rendered = to_html(body, limit=BODY_HTML_MAX_BYTES, id_marker=marker)
    except OutputTooLarge:
        raise BodyTooComplex(TOO_LARGE) from None
    html = rendered.html
    _check_size(html)
    cleaned = nh3.clean(
        shallow_html(html),
        tags=set(ALLOWED_TAGS),
        attributes=_ATTRIBUTES,
        attribute_filter=_attribute_filter(marker, rendered.ids),
        tag_attribute_values=_ATTRIBUTE_VALUES,
        url_schemes=set(_URL_SCHEMES),
        link_rel="noopener noreferrer",
    )
    _check_size(cleaned)
    return cleaned


def _attribute_filter(
    marker: str, generated: frozenset[str]
) -> Callable[[str, str, str], str | None]:
    """The sanitizer's last word on ids, in-page links and classes.

    Every id starts with ``user-content-``, so none can clash with, or clobber, an id of
    the page an article is shown in. The renderer's own ids (headings, footnotes) come
    marked with ``marker``, which raw HTML cannot guess; an id written in raw HTML gets the
    prefix too, and is dropped if the renderer or an earlier element already uses it. A
    link to ``#name`` points at ``#user-content-name``, so ``[see](#intro)`` reaches the
    heading "Intro". A class survives only as ``language-*`` on ``<code>``.
    """
    seen: set[str] = set()

    def keep(tag: str, attribute: str, value: str) -> str | None:
        if attribute == "id":
            if value.startswith(marker):
                return value[len(marker) :]
            if not value.startswith(ID_PREFIX):
                value = ID_PREFIX + value
            if value in generated or value in seen:
                return None
            seen.add(value)
            return value
        if attribute == "href" and value.startswith("#") and not value.startswith("#" + ID_PREFIX):
            return f"#{ID_PREFIX}{value[1:]}"
        if attribute == "class":
            languages = [name for name in value.split() if _LANGUAGE.fullmatch(name)]
            return " ".join(languages) or None
        return value

    return keep


def _check_size(html: str) -> None:
    # Characters never outnumber UTF-8 bytes: the encoding is only needed near the limit.
    if len(html) > BODY_HTML_MAX_BYTES or len(html.encode("utf-8")) > BODY_HTML_MAX_BYTES:
        raise BodyTooComplex(TOO_LARGE)


# The HTML as an HTML5 tokenizer reads it, one piece at a time: a run of text, a tag, a
# comment or other markup the sanitizer drops, or a "<" that starts none of these. Only
# well-formed tags match (quotes only after "=", so a ">" in a quoted value stays in it);
# any other "<" is written out as "&lt;", so the sanitizer's tokenizer reads the same tags
# as this one. Possessive quantifiers keep every match linear.
_PIECE: Final = re.compile(
    r"""(?P<text>[^<]++)
    | <(?i:script)(?=[\t\n\f\r />]).*?(?:</(?i:script)(?=[\t\n\f\r />])[^>]*+>?|\Z)
    | <(?i:style)(?=[\t\n\f\r />]).*?(?:</(?i:style)(?=[\t\n\f\r />])[^>]*+>?|\Z)
    | <(?:
        (?P<start>[A-Za-z][^\t\n\f\r />]*+)
        (?:[\t\n\f\r ]++[^\t\n\f\r "'<=>`/]++
           (?:[\t\n\f\r ]*+=[\t\n\f\r ]*+(?:"[^"]*+"|'[^']*+'|[^\t\n\f\r "'<=>`]++))?+
        )*+
        [\t\n\f\r ]*+/?>
      | /(?P<end>[A-Za-z][^\t\n\f\r />]*+)[\t\n\f\r ]*+>
      | !--(?:-?>|.*?--!?>|.*+)
      | [!?][^>]*+>?
      | /(?:>|[^A-Za-z>][^>]*+>?)
    )
    | (?P<lt><)""",
    re.VERBOSE | re.DOTALL,
)
_WHITESPACE: Final = "\t\n\f\r "

_VOID: Final = frozenset({"area", "br", "col", "hr", "img", "input", "wbr"})
_HEADINGS: Final = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_TABLE_PARTS: Final = frozenset({"caption", "colgroup", "col", "tbody", "thead", "tr", "td", "th"})
_CELLS: Final = frozenset({"td", "th", "caption"})
# Start tags that close an open <p> (unless a table cell lies between).
_CLOSE_P: Final = _HEADINGS | {
    "article", "aside", "blockquote", "center", "details", "div", "dl", "figcaption",
    "figure", "footer", "header", "hgroup", "hr", "li", "dd", "dt", "nav", "ol", "p", "pre",
    "section", "summary", "table", "ul",
}  # fmt: skip
# The HTML standard's "special" elements among the allowed, less div and p: a new <li>
# (or <dd>) closes the open one unless one of these lies between.
_LIST_ITEM_BARRIERS: Final = (_CLOSE_P | _TABLE_PARTS) - {"div", "p"}
# End tags that a <rp>, <rt> or <rtc> implies inside a <ruby>.
_RUBY_IMPLIED: Final = frozenset({"dd", "dt", "li", "p", "rp", "rt", "rtc"})
# Start tags the parser simply opens when not directly inside a table.
_PLAIN: Final = (
    ALLOWED_TAGS - _TABLE_PARTS - _CLOSE_P - _VOID - {"a", "li", "dd", "dt", "rp", "rt", "rtc"}
)

# For each kind, _Tree keeps the positions of the open elements of that kind, so every
# question the parser asks ("is there a <p> in scope?") is one look at the last of them.
_P_SCOPE, _LI, _DD, _A, _TABLE, _SCOPE, _RUBY = range(7)
_KIND_MEMBERS: Final = (
    {"p", "table"} | _CELLS,  # a <p> is closed unless a cell or table lies between
    {"li"} | _LIST_ITEM_BARRIERS,
    {"dd", "dt"} | _LIST_ITEM_BARRIERS,
    {"a"} | _CELLS,  # an <a> open since the last table cell
    {"table"} | _TABLE_PARTS,  # which part of a table we are in
    {"table"} | _CELLS,  # end tags do not reach out of these
    {"ruby", "table"} | _CELLS,
)
_KINDS_OF: Final = {
    name: tuple(kind for kind, members in enumerate(_KIND_MEMBERS) if name in members)
    for name in ALLOWED_TAGS
}
# Any heading's end tag closes the nearest open heading.
_END_KEY: Final = {name: "h1" if name in _HEADINGS else name for name in ALLOWED_TAGS}
_END_TAG: Final = {name: f"</{name}>" for name in ALLOWED_TAGS}
_SCOPE_BARRIERS: Final = _CELLS | {"table"}
_P: Final = frozenset({"p"})
_A_ELEMENT: Final = frozenset({"a"})
_LIST_ITEM: Final = frozenset({"li"})
_DEFINITION: Final = frozenset({"dd", "dt"})
_RUBY_ELEMENT: Final = frozenset({"ruby"})


class _Tree:
    """The HTML handed to the sanitizer, and the elements open at its end."""

    def __init__(self) -> None:
        self.out: list[str] = []
        self.names: list[str] = []
        self.kinds: list[list[int]] = [[] for _ in _KIND_MEMBERS]
        self.by_end: dict[str, list[int]] = {key: [] for key in _END_KEY.values()}
        # The position lists each element joins while open.
        self.lists_of: dict[str, tuple[list[int], ...]] = {
            name: (*(self.kinds[kind] for kind in _KINDS_OF[name]), self.by_end[_END_KEY[name]])
            for name in ALLOWED_TAGS
        }

    def find(self, kind: int, names: frozenset[str]) -> int:
        """Position of the nearest open element of ``kind`` if it is one of ``names``;
        else -1."""
        positions = self.kinds[kind]
        if positions and self.names[positions[-1]] in names:
            return positions[-1]
        return -1

    def push(self, name: str, tag: str) -> None:
        depth = len(self.names)
        if depth >= MAX_NESTING:
            raise BodyTooComplex(TOO_DEEP)
        self.names.append(name)
        for positions in self.lists_of[name]:
            positions.append(depth)
        self.out.append(tag)

    def close_to(self, position: int) -> None:
        """Close the open elements down to ``position``, each with its own end tag."""
        names, lists_of, out = self.names, self.lists_of, self.out
        while len(names) > position:
            name = names.pop()
            for positions in lists_of[name]:
                positions.pop()
            out.append(_END_TAG[name])

    def close_current(self) -> None:
        name = self.names.pop()
        for positions in self.lists_of[name]:
            positions.pop()
        self.out.append(_END_TAG[name])

    def start(self, name: str, tag: str) -> None:
        while True:  # a tag that closed part of a table is reconsidered where it lands
            table = self.kinds[_TABLE]
            context = self.names[table[-1]] if table else None
            if name in _TABLE_PARTS:
                if context is None or self._start_table_part(name, tag, table[-1], context):
                    return  # outside a table the parser ignores table parts
                continue
            if context is None or context in _CELLS:
                break
            # Directly inside a table anything else would be moved in front of it.
            if context == "colgroup":
                self.close_current()
                continue
            if name == "table":
                self.close_to(self.by_end["table"][-1])
                continue
            return
        if name in _PLAIN:
            self.push(name, tag)
            return
        if name == "li" or name in _DEFINITION:
            item = self.find(_LI, _LIST_ITEM) if name == "li" else self.find(_DD, _DEFINITION)
            if item >= 0:
                self.close_to(item)
        if name in _CLOSE_P and (paragraph := self.find(_P_SCOPE, _P)) >= 0:
            self.close_to(paragraph)
        if name in _HEADINGS and self.names and self.names[-1] in _HEADINGS:
            self.close_current()
        if name == "a" and (link := self.find(_A, _A_ELEMENT)) >= 0:
            self.close_to(link)
        if name in ("rp", "rt", "rtc") and self.find(_RUBY, _RUBY_ELEMENT) >= 0:
            implied = _RUBY_IMPLIED if name == "rtc" else _RUBY_IMPLIED - {"rtc"}
            while self.names[-1] in implied:
                self.close_current()
        if name in _VOID:
            self.out.append(tag)
        else:
            self.push(name, tag)

    def _start_table_part(self, name: str, tag: str, part: int, context: str) -> bool:
        """Open (or write) ``name`` inside table part ``context``; ``False`` when that part
        was closed first and ``name`` must be reconsidered."""
        if context in _CELLS:
            self.close_to(part)
            return False
        if context == "colgroup":
            if name != "col":
                self.close_to(part)
                return False
            self.out.append(tag)
        elif context == "tr":
            if name not in ("td", "th"):
                self.close_to(part)
                return False
            self.push(name, tag)
        elif context in ("tbody", "thead"):
            if name in ("td", "th"):
                self.push("tr", "<tr>")
            elif name != "tr":
                self.close_to(part)
                return False
            self.push(name, tag)
        elif name in ("tr", "td", "th"):  # rows directly in a table get a body
            self.push("tbody", "<tbody>")
            return False
        elif name == "col":
            self.push("colgroup", "<colgroup>")
            return False
        else:
            self.push(name, tag)
        return True

    def end(self, name: str) -> None:
        opened = self.by_end[_END_KEY[name]]
        if not opened or name in _VOID:
            return
        position = opened[-1]
        if name in _TABLE_PARTS:
            tables = self.by_end["table"]
            if tables and tables[-1] > position:
                return  # it belongs to the table around this one
        elif name != "table" and self.find(_SCOPE, _SCOPE_BARRIERS) > position:
            return  # an end tag does not reach out of a table cell
        self.close_to(position)


def shallow_html(html: str) -> str:
    """``html`` rewritten with only :data:`ALLOWED_TAGS`, every element closed by its own
    end tag; :class:`BodyTooComplex` when elements nest more than :data:`MAX_NESTING`."""
    tree = _Tree()
    names, out, table = tree.names, tree.out, tree.kinds[_TABLE]
    for piece in _PIECE.finditer(html):
        kind = piece.lastgroup
        if kind == "text" or kind == "lt":
            text = "&lt;" if kind == "lt" else piece[0]
            # Text ends a column group (it would be moved in front of the table otherwise).
            if names and names[-1] == "colgroup" and text.strip(_WHITESPACE):
                tree.close_current()
            out.append(text)
        elif kind == "start":
            start = piece["start"]
            name = start.lower() if start.isascii() else ""
            # Most tags open an element and nothing else: that path is kept short.
            if name in _PLAIN and (not table or names[table[-1]] in _CELLS):
                tree.push(name, piece[0])
            elif name == "input":
                tree.start(name, _CHECKED_BOX if _CHECKED.search(piece[0]) else _CHECKBOX)
            elif name in ALLOWED_TAGS:
                tree.start(name, piece[0])
        elif kind == "end":
            name = piece["end"].lower()
            if names and names[-1] == name:
                tree.close_current()
            elif name in ALLOWED_TAGS:
                tree.end(name)
    return "".join(out)
