"""Helpers for the readers' site: publishing through the API and reading pages apart."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

import httpx

Login = Callable[..., dict[str, str]]


def publish(api: httpx.Client, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    """A published article, created through the API."""
    response = api.post("/articles/", json={"status": "published", **fields}, headers=headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


class Page(HTMLParser):
    """What a page says to a crawler: its meta tags, links, JSON-LD and scripts."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}
        self.links: list[dict[str, str]] = []
        self.anchors: list[str] = []
        self.scripts: list[tuple[str, str]] = []
        self.title = ""
        self._in: str | None = None
        self._script_type = ""
        self._buffer: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "meta":
            key = values.get("property") or values.get("name")
            if key:
                self.meta[key] = values.get("content", "")
        elif tag == "link":
            self.links.append(values)
        elif tag == "a":
            self.anchors.append(values.get("href", ""))
        elif tag in ("script", "title"):
            self._in, self._script_type, self._buffer = tag, values.get("type", ""), []

    def handle_data(self, data: str) -> None:
        if self._in is not None:
            self._buffer.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == self._in:
            text = "".join(self._buffer)
            if tag == "title":
                self.title = text
            else:
                self.scripts.append((self._script_type, text))
            self._in = None

    def link(self, rel: str) -> dict[str, str] | None:
        return next((link for link in self.links if link.get("rel") == rel), None)

    def json_ld(self) -> Any:
        [data] = [text for kind, text in self.scripts if kind == "application/ld+json"]
        return json.loads(data)


def older_link(text: str) -> str | None:
    """The "Older articles" link of a list page."""
    found = re.search(r'<a href="([^"]+)" rel="next">', text)
    return found.group(1).replace("&amp;", "&") if found else None
