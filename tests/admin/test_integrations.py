"""The back office's webhook and API key pages: admins only, POST + CSRF, a secret shown
once, the delivery log with Send test and Redeliver."""

import re
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select

from cms.apikeys import keys
from cms.apikeys.models import ApiKey
from cms.asgi import build_app
from cms.audit.models import AuditEntry
from cms.db import Database
from cms.roles import Role
from cms.webhooks.dispatcher import Dispatcher
from cms.webhooks.models import OutboxEvent, WebhookEndpoint
from tests.admin.browser_forms import form_on, post_form
from tests.admin.conftest import signed_in
from tests.conftest import TEST_SECRET_KEY, LiveServer, UserFactory, make_settings
from tests.webhooks.conftest import Receiver, receiving


@pytest.fixture
def permissive(database: Database) -> Iterator[LiveServer]:
    """The app with webhooks to loopback allowed (a development setting)."""
    settings = make_settings(database.url, webhooks_allow_private_targets=True)
    with LiveServer(build_app(settings)) as server:
        yield server


@pytest.fixture
def admin_browser(permissive: LiveServer, make_user: UserFactory) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=permissive.url, timeout=30) as client:
        yield signed_in(client, make_user(role=Role.ADMIN))


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as state:
        yield state


def shown_once(page: httpx.Response) -> str:
    assert page.headers["cache-control"] == "no-store"
    match = re.search(r'<pre class="cms-shown-once"><code>([^<]+)</code>', page.text)
    assert match, page.text
    return match.group(1)


def test_an_admin_adds_an_endpoint_sees_its_secret_once_and_its_log(
    admin_browser: httpx.Client, database: Database, receiver: Receiver
) -> None:
    page = admin_browser.get("/admin/integrations/webhooks")
    assert page.status_code == 200
    form = form_on(page, "/webhooks/add")
    added = post_form(
        admin_browser,
        form.action,
        [*form.with_changes(url=receiver.url), ("events", "ping")],
    )
    assert added.status_code == 200, added.text
    secret = shown_once(added)
    assert secret.startswith("whsec_")
    with database.sessionmaker() as session:
        endpoint = session.scalars(select(WebhookEndpoint)).one()
    listed = admin_browser.get("/admin/integrations/webhooks")
    assert receiver.url in listed.text and secret not in listed.text

    log = admin_browser.get(f"/admin/integrations/webhooks/{endpoint.id}")
    sent = post_form(admin_browser, form_on(log, "/ping").action, form_on(log, "/ping").fields)
    assert sent.status_code == 302
    with database.sessionmaker() as session:
        assert session.scalars(select(OutboxEvent.type)).all() == ["ping"]
    with Dispatcher(database, site_key=TEST_SECRET_KEY, allow_private=True) as dispatcher:
        while dispatcher.run_once():
            pass
    assert len(receiver.received) == 1
    log = admin_browser.get(f"/admin/integrations/webhooks/{endpoint.id}")
    assert "#1" in log.text and "200" in log.text and "ping" in log.text

    again = form_on(log, "/redeliver")
    assert post_form(admin_browser, again.action, again.fields).status_code == 302
    with Dispatcher(database, site_key=TEST_SECRET_KEY, allow_private=True) as dispatcher:
        while dispatcher.run_once():
            pass
    assert len(receiver.received) == 2
    ids = {item.headers["webhook-id"] for item in receiver.received}
    assert len(ids) == 1  # a redelivery is the same message
    with database.sessionmaker() as session:
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.object_type == "webhook")
        ).all()
    assert sorted(actions) == ["add_webhook", "ping_webhook", "redeliver_webhook"]


def test_a_loopback_target_is_refused_where_private_targets_are_not_allowed(
    browser: httpx.Client, database: Database, make_user: UserFactory
) -> None:
    signed_in(browser, make_user(role=Role.ADMIN))
    form = form_on(browser.get("/admin/integrations/webhooks"), "/webhooks/add")
    answer = post_form(browser, form.action, form.with_changes(url="http://127.0.0.1:9/x"))
    assert answer.status_code == 302
    page = browser.get(answer.headers["location"])
    assert "private, loopback or link-local" in page.text
    with database.sessionmaker() as session:
        assert session.scalars(select(WebhookEndpoint)).all() == []


def test_editors_do_not_see_or_use_the_integration_pages(
    browser: httpx.Client, make_user: UserFactory
) -> None:
    signed_in(browser, make_user(role=Role.EDITOR))
    assert browser.get("/admin/integrations/webhooks").status_code == 403
    assert browser.get("/admin/integrations/apikeys").status_code == 403
    assert "Webhooks" not in browser.get("/admin/").text


def test_a_post_without_the_csrf_token_changes_nothing(
    admin_browser: httpx.Client, database: Database, receiver: Receiver
) -> None:
    answer = admin_browser.post("/admin/integrations/webhooks/add", data={"url": receiver.url})
    assert answer.status_code == 403
    with database.sessionmaker() as session:
        assert session.scalars(select(WebhookEndpoint)).all() == []


def test_an_admin_makes_rotates_and_revokes_a_key(
    admin_browser: httpx.Client, permissive: LiveServer, database: Database
) -> None:
    page = admin_browser.get("/admin/integrations/apikeys")
    form = form_on(page, "/apikeys/create")
    made = post_form(
        admin_browser,
        form.action,
        [*form.with_changes(name="Site build"), ("scopes", "content:read")],
    )
    assert made.status_code == 200, made.text
    key = shown_once(made)
    assert keys.parse(key) is not None
    api = httpx.Client(base_url=permissive.url, timeout=30)
    with api:
        assert api.get("/articles/", headers={"X-API-Key": key}).status_code == 200
        listed = admin_browser.get("/admin/integrations/apikeys")
        assert "Site build" in listed.text and key not in listed.text
        rotate = form_on(listed, "/rotate")
        rotated = shown_once(post_form(admin_browser, rotate.action, rotate.fields))
        assert api.get("/articles/", headers={"X-API-Key": rotated}).status_code == 200
        revoke = form_on(admin_browser.get("/admin/integrations/apikeys"), "/revoke")
        assert post_form(admin_browser, revoke.action, revoke.fields).status_code == 302
        assert api.get("/articles/", headers={"X-API-Key": rotated}).status_code == 401
    with database.sessionmaker() as session:
        assert session.scalars(select(ApiKey.revoked_at)).one() is not None
