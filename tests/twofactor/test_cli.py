"""``cms reset-two-factor``: the way back in when the only admin loses their phone."""

from sqlalchemy import select
from typer.testing import CliRunner

from cms.audit.models import AuditEntry
from cms.cli import app
from cms.db import Database
from cms.roles import Role
from cms.twofactor import service as twofactor
from cms.users.models import User
from tests.conftest import TEST_SECRET_KEY, UserFactory
from tests.twofactor.conftest import Enrol


def test_reset_two_factor_from_the_command_line(
    make_user: UserFactory, enrol: Enrol, database: Database
) -> None:
    enrolled = enrol(make_user(role=Role.ADMIN))
    env = {
        "CMS_DATABASE_URL": database.url,
        "CMS_ENVIRONMENT": "test",
        "CMS_SECRET_KEY": TEST_SECRET_KEY,
    }
    result = CliRunner().invoke(app, ["reset-two-factor", enrolled.user.email], env=env)
    assert result.exit_code == 0, result.output
    with database.sessionmaker() as session:
        assert not twofactor.has_second_factor(enrolled.user.id, session)
        user = session.get(User, enrolled.user.id)
        assert user is not None and user.session_version == enrolled.user.session_version + 1
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "two_factor_reset")
        ).one()
    assert entry.surface == "cli" and entry.object_id == enrolled.user.id
    missing = CliRunner().invoke(app, ["reset-two-factor", "ghost@example.com"], env=env)
    assert missing.exit_code == 1 and "no user" in missing.output
