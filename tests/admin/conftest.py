"""Fixtures for the back office: a cookie-keeping HTTP client that signs in the way the
login page asks (with its CSRF token)."""

from collections.abc import Iterator

import httpx
import pytest

from cms.db import Database
from cms.users.models import User
from tests.admin.browser_forms import form_on, post_form
from tests.conftest import DEFAULT_PASSWORD, LiveServer


@pytest.fixture
def browser(live_server: LiveServer, database: Database) -> Iterator[httpx.Client]:
    """A cookie-keeping HTTP client, like a browser without JavaScript."""
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        yield client


def admin_login(
    client: httpx.Client, email: str, password: str = DEFAULT_PASSWORD
) -> httpx.Response:
    """Fill in and submit the login form the login page shows."""
    form = form_on(client.get("/admin/login"), "/admin/login")
    data = form.with_changes(username=email, password=password)
    return post_form(client, form.action, data)


def signed_in(client: httpx.Client, user: User, password: str = DEFAULT_PASSWORD) -> httpx.Client:
    response = admin_login(client, user.email, password)
    assert response.status_code == 302, response.text
    return client


def sign_out(client: httpx.Client) -> httpx.Response:
    """Press "Sign out" on the confirmation page."""
    form = form_on(client.get("/admin/logout"), "/admin/logout")
    return post_form(client, form.action, form.fields)
