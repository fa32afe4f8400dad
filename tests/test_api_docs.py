"""``/docs``: Swagger UI served by this installation under a same-origin policy."""

import base64
import hashlib
import json
from collections.abc import Iterator
from html.parser import HTMLParser
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Route, expect, sync_playwright

from cms.roles import Role
from tests.admin.test_browser import CHROMIUM, CHROMIUM_ARGS
from tests.conftest import DEFAULT_PASSWORD, LiveServer, UserFactory

CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


class PageParts(HTMLParser):
    """The addresses a page loads, and the text of its inline scripts."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts: list[str] = []
        self._in_script = False
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        url = attributes.get("src") or (attributes.get("href") if tag == "link" else None)
        if url:
            self.urls.append(url)
        # A data block (type="application/json") is never run, so CSP does not govern it.
        self._in_script = tag == "script" and not url and attributes.get("type") is None

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.inline_scripts.append(data)


def csp_directives(response: httpx.Response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    directives = (part.split() for part in policy.split(";") if part.strip())
    return {name: sources for name, *sources in directives}


def test_docs_loads_only_its_own_files_and_allows_no_other_host(api: httpx.Client) -> None:
    response = api.get("/docs")
    assert response.status_code == 200
    page = PageParts(response.text)
    assert page.inline_scripts == []
    assert len(page.urls) == 4  # stylesheet, icon, Swagger UI, the script that starts it
    for url in page.urls:
        assert not urlsplit(url).netloc and url.startswith("/docs/"), url
        asset = api.get(url)
        assert asset.status_code == 200, url
        suffix = url[url.rindex(".") :]
        assert asset.headers["Content-Type"].startswith(CONTENT_TYPES[suffix]), url
        assert len(asset.content) > 100, url
    directives = csp_directives(response)
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    sources = {source for values in directives.values() for source in values}
    assert sources <= {"'self'", "'none'", "data:"}, sources


def test_the_oauth2_redirect_page_may_run_only_its_own_script(api: httpx.Client) -> None:
    response = api.get("/docs/oauth2-redirect")
    assert response.status_code == 200
    scripts = PageParts(response.text).inline_scripts
    assert scripts and "swaggerUIRedirectOauth2" in scripts[0]
    hashes = [
        f"'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'"
        for script in scripts
    ]
    directives = csp_directives(response)
    assert directives["script-src"] == hashes
    assert directives["default-src"] == ["'none'"]


def test_only_the_docs_own_files_are_served(api: httpx.Client) -> None:
    for name in ["__init__.py", "..%2F..%2Fcms%2Fconfig.py", "missing.js"]:
        assert api.get(f"/docs/assets/{name}").status_code == 404, name
    assert api.get("/redoc").status_code == 404


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.mark.browser
def test_swagger_ui_renders_and_signs_in_with_no_network_but_loopback(
    chromium: Browser, live_server: LiveServer, api: httpx.Client, make_user: UserFactory
) -> None:
    user = make_user(role=Role.EDITOR)
    operations = sum(len(methods) for methods in api.get("/openapi.json").json()["paths"].values())
    context = chromium.new_context(base_url=live_server.url)
    elsewhere: list[str] = []

    def loopback_only(route: Route) -> None:
        if route.request.url.startswith(live_server.url + "/"):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    context.route("**/*", loopback_only)
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("console", lambda message: _keep_errors(message, errors))
    try:
        page.goto("/docs")
        expect(page.locator(".opblock")).to_have_count(operations)

        page.click("button.authorize")
        page.fill("#oauth_username", user.email)
        page.fill("#oauth_password", DEFAULT_PASSWORD)
        page.click(".auth-btn-wrapper button.authorize")
        expect(page.get_by_role("heading", name="Authorized", exact=True)).to_be_visible()
        page.click(".auth-btn-wrapper button.btn-done")

        me = page.locator("#operations-users-read_me_users_me_get")
        me.locator(".opblock-summary").click()
        me.get_by_role("button", name="Try it out").click()
        me.get_by_role("button", name="Execute").click()
        body = me.locator(".live-responses-table .response-col_description pre").first
        expect(body).to_contain_text(user.email)
        assert json.loads(body.inner_text())["email"] == user.email
    finally:
        context.close()
    assert elsewhere == []
    assert errors == []


def _keep_errors(message: ConsoleMessage, errors: list[str]) -> None:
    if message.type == "error":  # Chromium reports CSP violations here
        errors.append(message.text)
