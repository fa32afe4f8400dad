"""`cms webhooks add | list | remove | ping | run --once` against the test database."""

from standardwebhooks import Webhook
from typer.testing import CliRunner

from cms.articles import actions
from cms.articles.changes import ArticleDraft
from cms.articles.models import ArticleStatus
from cms.cli import app
from cms.db import Database
from cms.roles import Role
from tests.conftest import TEST_SECRET_KEY, UserFactory
from tests.webhooks.conftest import Receiver


def env(database: Database, *, allow_private: bool = True) -> dict[str, str]:
    return {
        "CMS_DATABASE_URL": database.url,
        "CMS_ENVIRONMENT": "test",
        "CMS_SECRET_KEY": TEST_SECRET_KEY,
        "CMS_WEBHOOKS_ALLOW_PRIVATE_TARGETS": "true" if allow_private else "false",
    }


def test_add_list_run_and_remove(
    database: Database, receiver: Receiver, make_user: UserFactory
) -> None:
    runner = CliRunner()
    added = runner.invoke(
        app, ["webhooks", "add", receiver.url, "--event", "article.published"], env=env(database)
    )
    assert added.exit_code == 0, added.output
    lines = dict(line.split(": ", 1) for line in added.output.strip().splitlines())
    endpoint_id, secret = lines["id"], lines["secret"]
    assert secret.startswith("whsec_")

    listed = runner.invoke(app, ["webhooks", "list"], env=env(database))
    assert listed.exit_code == 0, listed.output
    assert f"{endpoint_id}\tenabled\tarticle.published\t{receiver.url}" in listed.output
    assert secret not in listed.output

    editor = make_user(role=Role.EDITOR)
    database.run(
        actions.CreateArticle(draft=ArticleDraft(title="Out", status=ArticleStatus.PUBLISHED)),
        actor=editor,
    )
    ran = runner.invoke(app, ["webhooks", "run", "--once"], env=env(database))
    assert ran.exit_code == 0, ran.output
    [request] = receiver.received
    assert Webhook(secret).verify(request.body, request.headers)["type"] == "article.published"

    pinged = runner.invoke(app, ["webhooks", "ping", endpoint_id], env=env(database))
    assert pinged.exit_code == 0, pinged.output
    assert runner.invoke(app, ["webhooks", "run", "--once"], env=env(database)).exit_code == 0
    assert len(receiver.received) == 2

    removed = runner.invoke(app, ["webhooks", "remove", endpoint_id], env=env(database))
    assert removed.exit_code == 0, removed.output
    listed = runner.invoke(app, ["webhooks", "list"], env=env(database))
    assert listed.output.strip() == ""


def test_a_private_target_is_refused_with_a_clear_message(database: Database) -> None:
    result = CliRunner().invoke(
        app,
        ["webhooks", "add", "http://127.0.0.1:9/hooks"],
        env=env(database, allow_private=False),
    )
    assert result.exit_code == 1
    assert "private, loopback or link-local" in result.output
    assert "Traceback" not in result.output


def test_removing_an_unknown_endpoint_says_so(database: Database) -> None:
    result = CliRunner().invoke(app, ["webhooks", "remove", "999"], env=env(database))
    assert result.exit_code == 1
    assert "No webhook endpoint with that id" in result.output


def test_rotate_prints_a_new_secret_once(database: Database, receiver: Receiver) -> None:
    runner = CliRunner()
    added = runner.invoke(app, ["webhooks", "add", receiver.url], env=env(database))
    old = dict(line.split(": ", 1) for line in added.output.strip().splitlines())
    rotated = runner.invoke(
        app, ["webhooks", "rotate", old["id"], "--grace", "60"], env=env(database)
    )
    assert rotated.exit_code == 0, rotated.output
    new = dict(line.split(": ", 1) for line in rotated.output.strip().splitlines())
    assert new["id"] == old["id"] and new["secret"].startswith("whsec_")
    assert new["secret"] != old["secret"]
