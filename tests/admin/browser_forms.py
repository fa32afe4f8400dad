"""Submitting back-office forms the way a browser without JavaScript does: read the form
the page shows (inputs with their values, checked boxes, selected options, textareas)
and post exactly that, with whatever a person typed on top.

Tests that hand-build form data prove the service; these prove the form.
"""

import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlencode, urljoin

import httpx


@dataclass
class ShownForm:
    action: str
    method: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    # name -> the values a select or a set of radio buttons offers
    options: dict[str, list[str]] = field(default_factory=dict)

    def values(self) -> dict[str, str]:
        return dict(self.fields)

    def with_changes(self, **changes: str | None) -> list[tuple[str, str]]:
        """The fields as shown, with ``changes`` typed in (``None`` unticks/removes)."""
        result = [(name, value) for name, value in self.fields if name not in changes]
        result += [(name, value) for name, value in changes.items() if value is not None]
        return result


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[ShownForm] = []
        self._select: tuple[str, list[tuple[str, bool]]] | None = None
        self._multiple = False
        self._option_value: str | None = None
        self._option_text: list[str] = []
        self._option_selected = False
        self._textarea: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {key: value or "" for key, value in attrs}
        if tag == "form":
            self.forms.append(ShownForm(action=a.get("action", ""), method=a.get("method", "get")))
            return
        if not self.forms:
            return
        form = self.forms[-1]
        if tag == "input" and "name" in a and "disabled" not in a:
            kind = a.get("type", "text").lower()
            if kind in ("checkbox", "radio"):
                if kind == "radio":
                    form.options.setdefault(a["name"], []).append(a.get("value", "on"))
                if "checked" in a:
                    form.fields.append((a["name"], a.get("value", "on")))
            elif kind not in ("submit", "button", "image", "reset", "file"):
                form.fields.append((a["name"], a.get("value", "")))
        elif tag == "select" and "name" in a:
            self._select = (a["name"], [])
            self._multiple = "multiple" in a
            if a.get("data-role") == "select2-ajax" and a.get("data-json"):
                # What the page's script does on load: the stored choice becomes the
                # selected option (SQLAdmin renders it as JSON for select2).
                self._select[1].extend(
                    (str(item["id"]), True) for item in json.loads(a["data-json"])
                )
        elif tag == "option" and self._select is not None:
            self._option_value = a.get("value")
            self._option_text = []
            self._option_selected = "selected" in a
        elif tag == "textarea" and "name" in a:
            self._textarea = (a["name"], [])

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea[1].append(data)
        elif self._option_value is not None or self._select is not None:
            self._option_text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "option" and self._select is not None:
            value = self._option_value
            if value is None:
                value = "".join(self._option_text).strip()
            self._select[1].append((value, self._option_selected))
            self._option_value = None
        elif tag == "select" and self._select is not None and self.forms:
            name, options = self._select
            chosen = [value for value, selected in options if selected]
            if self._multiple:
                self.forms[-1].fields.extend((name, value) for value in chosen)
            # A browser submits the first option when none is marked selected: exactly
            # the behaviour that once unpublished articles on an unchanged save.
            elif chosen or options:
                self.forms[-1].fields.append((name, chosen[0] if chosen else options[0][0]))
            self.forms[-1].options[name] = [value for value, _ in options]
            self._select = None
        elif tag == "textarea" and self._textarea is not None and self.forms:
            name, parts = self._textarea
            # HTML drops one newline right after <textarea>.
            text = "".join(parts)
            self.forms[-1].fields.append((name, text[1:] if text.startswith("\n") else text))
            self._textarea = None


def forms_on(html: str) -> list[ShownForm]:
    parser = _FormParser()
    parser.feed(html)
    return parser.forms


def form_on(page: httpx.Response, action_contains: str = "") -> ShownForm:
    """The page's form whose action contains ``action_contains`` (POST forms first)."""
    candidates = [form for form in forms_on(page.text) if action_contains in form.action]
    candidates.sort(key=lambda form: form.method.lower() != "post")
    assert candidates, f"no form with action containing {action_contains!r} on {page.url}"
    form = candidates[0]
    form.action = urljoin(str(page.url), form.action)
    return form


def csrf_token_on(page: httpx.Response) -> str:
    match = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text)
    assert match, f"no CSRF token on {page.url}"
    return match.group(1)


def submit(
    client: httpx.Client,
    form_page: str,
    action_contains: str = "",
    *,
    save: str | None = "Save",
    **changes: str | None,
) -> httpx.Response:
    """Open ``form_page``, and submit its form (by default the one that posts back to the
    page itself) as shown, with ``changes`` typed in."""
    page = client.get(form_page)
    assert page.status_code == 200, (form_page, page.status_code)
    form = form_on(page, action_contains or form_page.split("?")[0])
    data = form.with_changes(**changes)
    if save is not None:
        data.append(("save", save))
    return post_form(client, form.action, data)


def post_form(client: httpx.Client, url: str, fields: list[tuple[str, str]]) -> httpx.Response:
    """POST ``fields`` (repeated names allowed) as a browser encodes a form."""
    return client.post(
        url,
        content=urlencode(fields).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
