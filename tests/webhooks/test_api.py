"""``/webhooks/`` over real HTTP: admins and keys with webhooks:manage, nobody else."""

from collections.abc import Iterator

import httpx
import pytest
from standardwebhooks import Webhook

from cms.actors import SYSTEM
from cms.apikeys import service as apikeys
from cms.asgi import build_app
from cms.db import Database
from cms.roles import Role
from tests.conftest import LiveServer, UserFactory, make_settings
from tests.webhooks.conftest import DispatcherFactory, Receiver


@pytest.fixture
def permissive(database: Database) -> Iterator[httpx.Client]:
    """The API with webhooks to loopback allowed (a development setting)."""
    settings = make_settings(database.url, webhooks_allow_private_targets=True)
    with (
        LiveServer(build_app(settings)) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        yield client


def key_with(database: Database, *scopes: str) -> dict[str, str]:
    made: apikeys.NewKey = database.run(
        apikeys.CreateKey(key_name="hooks", scopes=scopes), actor=SYSTEM
    )
    return {"X-API-Key": made.key}


def token_for(client: httpx.Client, email: str) -> dict[str, str]:
    answer = client.post(
        "/auth/token", data={"username": email, "password": "correct horse battery"}
    )
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def test_a_key_with_webhooks_manage_adds_lists_pings_and_removes(
    permissive: httpx.Client,
    database: Database,
    receiver: Receiver,
    make_dispatcher: DispatcherFactory,
) -> None:
    headers = key_with(database, "webhooks:manage")
    added = permissive.post(
        "/webhooks/", json={"url": receiver.url, "events": ["ping"]}, headers=headers
    )
    assert added.status_code == 201, added.text
    body = added.json()
    assert body["secret"].startswith("whsec_") and body["events"] == ["ping"]
    assert added.headers["location"] == f"/webhooks/{body['id']}"
    listed = permissive.get("/webhooks/", headers=headers)
    assert listed.status_code == 200
    assert [e["url"] for e in listed.json()] == [receiver.url]
    assert "secret" not in listed.json()[0]
    assert permissive.post(f"/webhooks/{body['id']}/ping", headers=headers).status_code == 202
    dispatcher = make_dispatcher()
    while dispatcher.run_once():
        pass
    [request] = receiver.received
    assert Webhook(body["secret"]).verify(request.body, request.headers)["type"] == "ping"
    assert permissive.delete(f"/webhooks/{body['id']}", headers=headers).status_code == 204
    assert permissive.delete(f"/webhooks/{body['id']}", headers=headers).status_code == 404
    assert permissive.get("/webhooks/", headers=headers).json() == []


def test_only_admins_and_keys_with_the_scope_manage_webhooks(
    api: httpx.Client, database: Database, make_user: UserFactory
) -> None:
    editor = make_user(role=Role.EDITOR)
    admin = make_user(role=Role.ADMIN)
    assert api.get("/webhooks/").status_code == 401
    assert api.get("/webhooks/", headers=token_for(api, editor.email)).status_code == 403
    reader = key_with(database, "content:read", "drafts:read", "articles:write")
    assert api.get("/webhooks/", headers=reader).status_code == 403
    assert api.post("/webhooks/", json={"url": "http://x.test/"}, headers=reader).status_code == 403
    assert api.get("/webhooks/", headers=token_for(api, admin.email)).status_code == 200


def test_a_private_target_is_a_422_that_says_why(api: httpx.Client, database: Database) -> None:
    answer = api.post(
        "/webhooks/",
        json={"url": "http://169.254.169.254/latest/meta-data/"},
        headers=key_with(database, "webhooks:manage"),
    )
    assert answer.status_code == 422
    assert "private, loopback or link-local" in answer.text
    unknown = api.post(
        "/webhooks/",
        json={"url": "http://127.0.0.1/", "events": ["article.eaten"]},
        headers=key_with(database, "webhooks:manage"),
    )
    assert unknown.status_code == 422
