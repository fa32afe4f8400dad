"""GitHub-flavoured Markdown written out as HTML the way github.com writes it.

pulldown-cmark (through pyromark) parses: CommonMark with tables, strikethrough, task lists
and footnotes. Its events are written here rather than by its own HTML writer, because
github.com adds what that writer lacks: bare URLs, ``www.`` links and email addresses
become links (:mod:`cms.articles.autolinks`, on plain text only, never inside code, links
or raw HTML), headings get an id to link to, footnotes are numbered in order of first
reference and gathered in a section at the end with links back, and a fenced code block
keeps its language as ``class="language-…"``.

Every id is ``user-content-`` and a name (headings: github's slug of their text, a repeat
numbered ``-1``, ``-2``…; footnotes: ``fn-N`` and ``fnref-N``, ``fnref-N-2``… for further
references to note N), so that no id of an article can clash with one of the page around it.
The output is raw (raw HTML passes through); :mod:`cms.articles.rendering` bounds and
sanitizes it.
"""

import html
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import quote

import pyromark

from cms.articles.autolinks import autolinks

OPTIONS: Final = (
    pyromark.Options.ENABLE_TABLES
    | pyromark.Options.ENABLE_STRIKETHROUGH
    | pyromark.Options.ENABLE_TASKLISTS
    | pyromark.Options.ENABLE_FOOTNOTES
)
ID_PREFIX: Final = "user-content-"
FOOTNOTES_LABEL: Final = ID_PREFIX + "footnote-label"
_ALIGN: Final = {
    "None": "",
    "Left": ' style="text-align: left"',
    "Center": ' style="text-align: center"',
    "Right": ' style="text-align: right"',
}
# pulldown-cmark's own choice of what stays unescaped in a URL.
_HREF_SAFE: Final = "-_.!~*'();/?:@&=+$,%#"
_SIMPLE_START: Final = {
    "Emphasis": "<em>",
    "Strong": "<strong>",
    "Strikethrough": "<del>",
    "TableRow": "<tr>",
    "HtmlBlock": "",
}
_SIMPLE_END: Final = {
    "Emphasis": "</em>",
    "Strong": "</strong>",
    "Strikethrough": "</del>",
    "TableRow": "</tr>\n",
    "HtmlBlock": "",
    "Paragraph": "</p>\n",
    "Item": "</li>\n",
    "CodeBlock": "</code></pre>\n",
}
# After these a bare link may begin (the spec: line start, whitespace, "*", "_", "~", "(").
_OPENS_LINKS: Final = frozenset({"Emphasis", "Strong", "Strikethrough"})
# Text without these holds no autolink: most text skips the scan.
_MAY_LINK: Final = re.compile(r"www\.|://|@").search
_NOT_SLUG_ASCII: Final = re.compile(r"[^a-z0-9_ -]")
_PARAGRAPH_END: Final = "</p>\n"
_RAW_LINK: Final = re.compile(r"<(/?)a(?=[\s/>])", re.IGNORECASE)


class OutputTooLarge(Exception):
    """The HTML grew past the limit the caller set."""


def escape_href(url: str) -> str:
    """``url`` percent-encoded as pulldown-cmark encodes it, then escaped for an attribute."""
    return html.escape(quote(url, safe=_HREF_SAFE), quote=True)


def slug(text: str) -> str:
    """github's anchor for a heading's text: lower case, punctuation and symbols dropped,
    each space a ``-``."""
    if text.isascii():
        return _NOT_SLUG_ASCII.sub("", text.lower()).replace(" ", "-")
    kept = (
        char for char in text.lower() if char in "-_ " or unicodedata.category(char)[0] in "LNM"
    )
    return "".join(kept).replace(" ", "-")


@dataclass
class _Footnote:
    number: int = 0
    references: int = 0
    body: list[str] = field(default_factory=list)


@dataclass
class _Writer:
    """The HTML of one document, written event by event."""

    limit: int
    id_marker: str
    out: list[str] = field(default_factory=list)
    size: int = 0
    # Each heading's place (the list and index of its start tag), level and slug.
    headings: list[tuple[list[str], int, int, str]] = field(default_factory=list)
    footnotes: dict[str, _Footnote] = field(default_factory=dict)
    referenced: list[_Footnote] = field(default_factory=list)
    outer: list[list[str]] = field(default_factory=list)  # around footnote definitions
    # Open Markdown links and raw <a> elements: no autolinks inside.
    links: int = 0
    raw_links: int = 0
    image: int = 0  # open images: their content is the alt text
    alt: list[str] = field(default_factory=list)
    alt_title: str = ""
    code_block: bool = False
    heading: tuple[int, int, list[str]] | None = None  # placeholder index, level, text
    table_alignments: tuple[str, ...] = ()
    in_head: bool = False
    table_body: bool = False
    cell: int = 0
    links_may_start: bool = True
    ids: set[str] = field(default_factory=set)

    def id(self, name: str) -> str:
        """The ``id`` attribute for ``name``, marked as this writer's own."""
        self.ids.add(ID_PREFIX + name)
        return f' id="{self.id_marker}{ID_PREFIX}{name}"'

    def write(self, piece: str) -> None:
        self.size += len(piece)
        if self.size > self.limit:
            raise OutputTooLarge
        self.out.append(piece)

    def text(self, text: str) -> None:
        if self.image:
            self.alt.append(text)
            return
        if self.heading is not None:
            self.heading[2].append(text)
        if self.code_block or self.links or self.raw_links or not _MAY_LINK(text):
            self.write(html.escape(text, quote=False))
            return
        position = 0
        for start, end, href in autolinks(text, at_start=self.links_may_start):
            self.write(html.escape(text[position:start], quote=False))
            self.write(
                f'<a href="{escape_href(href)}">{html.escape(text[start:end], quote=False)}</a>'
            )
            position = end
        self.write(html.escape(text[position:], quote=False))

    def heading_ids(self) -> None:
        """Give each heading its id, in document order, once the footnotes have theirs: a
        slug already taken (by a heading or a footnote) is numbered ``-1``, ``-2``…"""
        taken = {name.removeprefix(ID_PREFIX) for name in self.ids}
        counts: dict[str, int] = {}
        for out, index, level, base in self.headings:
            anchor = base
            if anchor in taken:
                count = counts.get(base, 0)
                while anchor in taken:
                    count += 1
                    anchor = f"{base}-{count}"
                counts[base] = count
            taken.add(anchor)
            out[index] = f"<h{level}{self.id(anchor)}>"

    def footnote(self, label: str) -> _Footnote:
        # Labels match case-insensitively, as link labels do.
        return self.footnotes.setdefault(label.casefold(), _Footnote())

    def reference(self, label: str) -> None:
        note = self.footnote(label)
        if not note.number:
            self.referenced.append(note)
            note.number = len(self.referenced)
        note.references += 1
        number = note.number
        suffix = "" if note.references == 1 else f"-{note.references}"
        self.write(
            f'<sup><a href="#{ID_PREFIX}fn-{number}"{self.id(f"fnref-{number}{suffix}")}'
            f' data-footnote-ref="" aria-describedby="{FOOTNOTES_LABEL}">{number}</a></sup>'
        )

    def footnotes_section(self) -> None:
        if not self.referenced:
            return
        self.write(
            f'<section data-footnotes="">\n<h2{self.id("footnote-label")}>Footnotes</h2>\n<ol>\n'
        )
        for note in self.referenced:
            number = note.number
            if self.size + 120 * note.references > self.limit:
                raise OutputTooLarge
            backrefs = " ".join(
                f'<a href="#{ID_PREFIX}fnref-{number}{"" if n == 1 else f"-{n}"}"'
                f' data-footnote-backref="" aria-label="Back to reference {number}'
                f'{"" if n == 1 else f"-{n}"}">↩{"" if n == 1 else f"<sup>{n}</sup>"}</a>'
                for n in range(1, note.references + 1)
            )
            body = "".join(note.body)
            if body.endswith(_PARAGRAPH_END):
                body = f"{body.removesuffix(_PARAGRAPH_END)} {backrefs}{_PARAGRAPH_END}"
            else:
                body = f"{body}{backrefs}\n"
            self.write(f"<li{self.id(f'fn-{number}')}>\n{body}</li>\n")
        self.write("</ol>\n</section>\n")

    def start(self, tag: Any) -> None:
        if isinstance(tag, str):
            if self.image:
                return
            if tag == "Paragraph":
                self.write("<p>")
                self.links_may_start = True
            elif tag == "Item":
                self.write("<li>")
                self.links_may_start = True
            elif tag == "TableHead":
                self.in_head, self.cell = True, 0
                self.write("<thead><tr>")
            elif tag == "TableCell":
                align = (
                    self.table_alignments[self.cell]
                    if self.cell < len(self.table_alignments)
                    else "None"
                )
                self.write(f"<{'th' if self.in_head else 'td'}{_ALIGN[align]}>")
                self.links_may_start = True
            else:
                if tag == "TableRow":
                    self.cell = 0
                    if not self.table_body:  # a table without rows has no body
                        self.table_body = True
                        self.write("<tbody>\n")
                self.write(_SIMPLE_START.get(tag, ""))
                if tag in _OPENS_LINKS:
                    self.links_may_start = True
            return
        ((kind, value),) = tag.items()
        if kind == "Link":
            if self.image:
                return
            self.links += 1
            href = value["dest_url"]
            if value["link_type"] == "Email":
                href = "mailto:" + href
            title = f' title="{html.escape(value["title"])}"' if value["title"] else ""
            self.write(f'<a href="{escape_href(href)}"{title}>')
        elif kind == "Image":
            self.image += 1
            if self.image == 1:
                self.alt = []
                self.write(f'<img src="{escape_href(value["dest_url"])}" alt="')
                self.alt_title = value["title"]
        elif self.image:
            return
        elif kind == "Heading":
            level = int(value["level"][1])
            self.write("")  # the placeholder, filled in at the end of the heading
            self.heading = (len(self.out) - 1, level, [])
            self.links_may_start = True
        elif kind == "BlockQuote":
            self.write("<blockquote>\n")
        elif kind == "CodeBlock":
            self.code_block = True
            language = ""
            if value != "Indented":
                info = value["Fenced"].split()
                if info:
                    language = f' class="language-{html.escape(info[0])}"'
            self.write(f"<pre><code{language}>")
        elif kind == "List":
            if value is None:
                self.write("<ul>\n")
            elif value == 1:
                self.write("<ol>\n")
            else:
                self.write(f'<ol start="{value}">\n')
        elif kind == "Table":
            self.table_alignments, self.table_body = value, False
            self.write("<table>")
        elif kind == "FootnoteDefinition":
            self.outer.append(self.out)
            note = self.footnote(value)
            if note.body:  # a label defined twice: the first definition counts
                self.out = []
            else:
                self.out = note.body

    def end(self, tag: Any) -> None:
        if isinstance(tag, str):
            if tag == "Image":
                self.image -= 1
                if not self.image:
                    title = self.alt_title
                    title_attribute = f' title="{html.escape(title)}"' if title else ""
                    self.write(f'{html.escape("".join(self.alt))}"{title_attribute} />')
                self.links_may_start = False
                return
            if self.image:
                return
            if tag == "Link":
                self.links -= 1
                self.write("</a>")
                self.links_may_start = False
            elif tag == "CodeBlock":
                self.code_block = False
                self.write("</code></pre>\n")
            elif tag == "TableHead":
                self.in_head = False
                self.write("</tr></thead>\n")
            elif tag == "TableCell":
                self.write("</th>" if self.in_head else "</td>")
                self.cell += 1
            elif tag == "Table":
                self.write("</tbody></table>\n" if self.table_body else "</table>\n")
            elif tag == "FootnoteDefinition":
                self.out = self.outer.pop()
            else:
                self.write(_SIMPLE_END.get(tag, ""))
                if tag in _OPENS_LINKS:
                    self.links_may_start = True
            return
        ((kind, value),) = tag.items()
        if self.image:
            return
        if kind == "Heading" and self.heading is not None:
            index, level, words = self.heading
            self.heading = None
            base = slug("".join(words))
            self.headings.append((self.out, index, level, base))
            # The start tag is written at the end; its size counts now (and a numbered
            # repeat's suffix, generously).
            self.size += len(self.id_marker) + len(ID_PREFIX) + len(base) + 24
            if self.size > self.limit:
                raise OutputTooLarge
            self.write(f"</h{level}>\n")
        elif kind == "BlockQuote":
            self.write("</blockquote>\n")
        elif kind == "List":
            self.write("</ol>\n" if value else "</ul>\n")


@dataclass(frozen=True)
class Rendered:
    """A document's HTML, unsanitized, and the ids it generated (each written in it as
    ``id_marker`` + id, so that they can be told apart from ids in its raw HTML)."""

    html: str
    ids: frozenset[str]


def to_html(markdown: str, *, limit: int, id_marker: str = "") -> Rendered:
    """The HTML github.com would write for ``markdown``, unsanitized;
    :class:`OutputTooLarge` once it passes ``limit`` characters."""
    writer = _Writer(limit=limit, id_marker=id_marker)
    value: Any  # each event's payload, its type told by its kind
    for event in pyromark.events(markdown, options=OPTIONS):
        if isinstance(event, str):
            if writer.image:
                if event != "Rule":
                    writer.alt.append(" " if event == "SoftBreak" else "")
                continue
            if event == "SoftBreak":
                writer.write("\n")
            elif event == "HardBreak":
                writer.write("<br />\n")
            else:
                writer.write("<hr />\n")
            writer.links_may_start = True
            continue
        ((kind, value),) = event.items()
        if kind == "Text":
            writer.text(value)
            writer.links_may_start = value[-1:].isspace() or value[-1:] in ("*", "_", "~", "(")
        elif kind == "Start":
            writer.start(value)
        elif kind == "End":
            writer.end(value)
        elif kind == "Code":
            if writer.image:
                writer.alt.append(value)
                continue
            if writer.heading is not None:
                writer.heading[2].append(value)
            writer.write(f"<code>{html.escape(value, quote=False)}</code>")
            writer.links_may_start = False
        elif kind in ("Html", "InlineHtml"):
            if writer.image:
                continue
            if kind == "InlineHtml" and (raw := _RAW_LINK.match(value)):
                writer.raw_links = max(0, writer.raw_links + (-1 if raw[1] else 1))
            writer.write(value)
            writer.links_may_start = False
        elif kind == "FootnoteReference":
            if not writer.image:
                writer.reference(value)
            writer.links_may_start = False
        elif kind == "TaskListMarker":
            writer.write(
                '<input type="checkbox" disabled=""' + (' checked=""' if value else "") + " /> "
            )
            writer.links_may_start = True
    writer.footnotes_section()
    writer.heading_ids()
    return Rendered("".join(writer.out), frozenset(writer.ids))
