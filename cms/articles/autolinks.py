"""GFM's autolink extension: bare ``www.`` links, ``http(s)://`` URLs and email addresses
found in a run of plain text.

The rules are the GitHub Flavored Markdown spec's: a link starts at the beginning of the
text, after whitespace or after one of ``*`` ``_`` ``~`` ``(``; a domain is letters, digits,
``-`` and ``_`` separated by dots, with no ``_`` in its last two segments (``www.`` links
need a dot beyond ``www``); the path runs to whitespace or ``<``; then trailing
punctuation, unbalanced closing parentheses and a trailing entity-like ``&name;`` are left
out. An email address is ``[A-Za-z0-9.+_-]+@`` then dot-separated ``[A-Za-z0-9_-]`` labels.

Each scan moves forward only (a failed candidate resumes past the domain it read), so a
text is read a bounded number of times whatever it holds.
"""

import re
from collections.abc import Iterator
from typing import Final

# A candidate's start: "www." or a scheme, where the spec lets a link begin.
_START: Final = re.compile(r"(?<![^\s*_~(])(?:(?i:https?://)|www\.)")
# The domain's characters (Unicode letters and digits) and the path that may follow.
_DOMAIN: Final = re.compile(r"[^\W]*+(?:[.-][^\W]*+)*+", re.UNICODE)
_PATH: Final = re.compile(r"[^\s<]*+")
_TRAILING: Final = frozenset("?!.,:*_~")
_ENTITY_END: Final = re.compile(r"&[A-Za-z0-9]++;\Z")
# Email: the local part is the run of these before "@" (ASCII only, as cmark-gfm reads it).
_LOCAL: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.+-_")
_EMAIL_DOMAIN: Final = re.compile(r"[A-Za-z0-9_.-]*+")


def _valid_domain(domain: str, *, need_dot: bool) -> bool:
    if not domain or not domain[0].isalnum():
        return False
    segments = domain.split(".")
    if need_dot and len(segments) < 2:
        return False
    return "_" not in segments[-1] and (len(segments) < 2 or "_" not in segments[-2])


def _trim(link: str) -> str:
    """``link`` without what the spec leaves out at its end."""
    opening = link.count("(")
    closing = link.count(")")
    while link:
        last = link[-1]
        if last in _TRAILING:
            link = link[:-1]
        elif last == ")" and closing > opening:
            link = link[:-1]
            closing -= 1
        elif last == ";":
            entity = _ENTITY_END.search(link)
            link = link[: entity.start()] if entity else link[:-1]
        else:
            break
    return link


def _urls(text: str, *, at_start: bool) -> Iterator[tuple[int, int, str]]:
    """``(start, end, href)`` of each ``www.`` or ``http(s)://`` link in ``text``."""
    position, end = 0, len(text)
    while (found := _START.search(text, position, end)) is not None:
        if found.start() == 0 and not at_start:
            position = 1
            continue
        begin = found.end()
        domain_end = _DOMAIN.match(text, begin, end).end()  # type: ignore[union-attr]
        is_www = found[0] == "www."
        domain = text[found.start() if is_www else begin : domain_end]
        # Dots end the domain but may not: "www.a.b." has the domain "www.a.b".
        if not _valid_domain(domain.rstrip("."), need_dot=is_www) or (
            is_www and not text[begin : begin + 1].isalnum()
        ):
            # Only a "www." after a "_" in the last two segments can still start a link
            # inside this domain; resuming there keeps the scan linear.
            last_dot = text.rfind(".", begin, domain_end)
            position = max(text.rfind(".", begin, last_dot) + 1, begin) if last_dot > 0 else begin
            position = max(position, begin)
            continue
        path_end = _PATH.match(text, domain_end, end).end()  # type: ignore[union-attr]
        link = _trim(text[found.start() : path_end])
        if len(link) <= len(found[0]):
            position = path_end
            continue
        yield found.start(), found.start() + len(link), ("http://" + link if is_www else link)
        position = found.start() + len(link)


def _emails(text: str, start: int, end: int) -> Iterator[tuple[int, int, str]]:
    """``(start, end, href)`` of each email address in ``text[start:end]``."""
    position = start
    while (at := text.find("@", position, end)) >= 0:
        local = at
        while local > position and text[local - 1] in _LOCAL:
            local -= 1
        domain_end = _EMAIL_DOMAIN.match(text, at + 1, end).end()  # type: ignore[union-attr]
        domain = text[at + 1 : domain_end].rstrip(".")
        labels = domain.split(".")
        if local == at or len(labels) < 2 or not all(labels) or domain[-1] in "-_":
            position = at + 1
            continue
        href = "mailto:"
        scheme = local - len("mailto:")
        if (
            scheme >= position
            and text.startswith("mailto:", scheme)
            and (scheme == 0 or not text[scheme - 1].isalnum())
        ):
            local, href = scheme, ""
        stop = at + 1 + len(domain)
        yield local, stop, href + text[local:stop]
        position = stop


def autolinks(text: str, *, at_start: bool = True) -> list[tuple[int, int, str]]:
    """The GFM autolinks in ``text``, in order, as ``(start, end, href)``; ``text[start:end]``
    is the link's text. An address inside a URL belongs to the URL. ``at_start`` says
    whether a link may begin at the text's first character (what precedes it allows one)."""
    found: list[tuple[int, int, str]] = []
    position = 0
    for url in _urls(text, at_start=at_start):
        found.extend(_emails(text, position, url[0]))
        found.append(url)
        position = url[1]
    found.extend(_emails(text, position, len(text)))
    return found
