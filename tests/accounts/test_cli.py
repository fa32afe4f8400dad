"""``cms invite`` and ``cms mail run --once``, sending through a real SMTP server."""

from sqlalchemy import select
from typer.testing import CliRunner

from cms.accounts.models import AccountLink
from cms.cli import app
from cms.db import Database
from tests.conftest import TEST_SECRET_KEY, UserFactory
from tests.mail_server import SmtpServer, link_in


def test_cms_invite_queues_an_invitation_and_cms_mail_run_sends_it(
    database: Database, smtp: SmtpServer, make_user: UserFactory
) -> None:
    env = {
        "CMS_DATABASE_URL": database.url,
        "CMS_ENVIRONMENT": "test",
        "CMS_SECRET_KEY": TEST_SECRET_KEY,
        "CMS_SMTP_URL": smtp.url,
        "CMS_SITE_URL": "https://cms.example.org",
    }
    runner = CliRunner()
    invited = runner.invoke(app, ["invite", "Writer@Example.com", "--role", "editor"], env=env)
    assert invited.exit_code == 0, invited.output
    assert "Invited writer@example.com as editor" in invited.output
    assert smtp.inbox.messages == []
    sent = runner.invoke(app, ["mail", "run", "--once"], env=env)
    assert sent.exit_code == 0, sent.output
    assert "Handled 1 messages." in sent.output
    [message] = smtp.inbox.to("writer@example.com")
    assert link_in(message).startswith("https://cms.example.org/admin/invitation?token=")
    with database.reading() as session:
        [link] = session.scalars(select(AccountLink)).all()
    assert link.role == "editor" and link.created_by_id is None

    make_user(email="taken@example.com")
    refused = runner.invoke(app, ["invite", "taken@example.com"], env=env)
    assert refused.exit_code == 1
    assert "already has an account" in refused.output
