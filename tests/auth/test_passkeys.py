"""Passkeys at the service: registered and signed in with a software authenticator whose
answers py_webauthn verifies as it verifies a device's; a replayed or cloned key's
counter, a second answer to one challenge, an answer from another origin, refused."""

import json
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from cms.actors import Origin
from cms.audit.models import AuditEntry
from cms.auth import passkeys
from cms.auth.models import Passkey, PasskeyChallenge
from cms.config import Settings
from cms.db import Database, utcnow
from cms.errors import AuthenticationFailed, InvalidInput, PermissionDenied, TooManyAttempts
from cms.roles import Role
from cms.users.models import User
from tests.auth.soft_authenticator import SoftAuthenticator
from tests.conftest import UserFactory, make_settings

RP = passkeys.RelyingParty(id="localhost", name="CMS", origins=("http://localhost",))
ORIGIN = Origin(surface="admin", address="192.0.2.7")
SECRET = "a test secret that is long enough to sign things with"


def register(
    database: Database, user: User, device: SoftAuthenticator, name: str = "Laptop"
) -> Passkey:
    ceremony = database.run(passkeys.BeginRegistration(rp=RP, secret=SECRET), actor=user)
    assert passkeys.take_challenge(
        database, ceremony.challenge, purpose=passkeys.REGISTER, user_id=user.id, origin=ORIGIN
    )
    answer = json.dumps(device.register(ceremony.options))
    return database.run(
        passkeys.RegisterPasskey(
            passkey_name=name, credential=answer, challenge=ceremony.challenge, rp=RP
        ),
        actor=user,
    )


def begin_sign_in(database: Database) -> passkeys.Ceremony:
    return database.run(passkeys.BeginSignIn(rp=RP), origin=ORIGIN)


def test_a_client_may_begin_only_so_many_passkey_sign_ins(
    database: Database, database_url: str
) -> None:
    settings = make_settings(database_url, login_max_failures_per_client=3)
    for _ in range(3):
        passkeys.begin_sign_in(database, rp=RP, origin=ORIGIN, settings=settings)
    with pytest.raises(TooManyAttempts):
        passkeys.begin_sign_in(database, rp=RP, origin=ORIGIN, settings=settings)
    with database.sessionmaker() as session:
        assert len(session.scalars(select(PasskeyChallenge)).all()) == 3


def sign_in(
    database: Database,
    settings: Settings,
    answer: dict[str, object],
    ceremony: passkeys.Ceremony,
) -> User:
    return passkeys.sign_in(
        database,
        credential=json.dumps(answer),
        challenge=ceremony.challenge,
        rp=RP,
        origin=ORIGIN,
        settings=settings,
    )


def stored(database: Database, passkey_id: int) -> Passkey:
    with database.sessionmaker() as session:
        found = session.get(Passkey, passkey_id)
        assert found is not None
        return found


def trail(database: Database, action: str) -> list[AuditEntry]:
    with database.sessionmaker() as session:
        return list(
            session.scalars(
                select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
            )
        )


def test_a_registered_passkey_signs_in_and_its_count_follows(
    database: Database, settings: Settings, make_user: UserFactory
) -> None:
    user = make_user(role=Role.EDITOR)
    device = SoftAuthenticator()
    passkey = register(database, user, device)
    assert passkey.sign_count == 0 and passkey.transports == "internal"
    assert [entry.object_id for entry in trail(database, "passkey_added")] == [user.id]

    for expected in (1, 2):
        ceremony = begin_sign_in(database)
        assert json.loads(ceremony.options)["userVerification"] == "required"
        assert sign_in(database, settings, device.assertion(ceremony.options), ceremony).id == (
            user.id
        )
        assert stored(database, passkey.id).sign_count == expected
    assert stored(database, passkey.id).last_used_at is not None
    logins = trail(database, "login")
    assert [(entry.actor_id, entry.object_id) for entry in logins] == [(user.id, user.id)] * 2
    assert json.loads(logins[0].changes) == {"passkey": [None, "Laptop"]}


def test_a_sign_count_that_does_not_go_up_is_refused_and_audited(
    database: Database, settings: Settings, make_user: UserFactory
) -> None:
    user = make_user()
    device = SoftAuthenticator()
    passkey = register(database, user, device)
    ceremony = begin_sign_in(database)
    sign_in(database, settings, device.assertion(ceremony.options), ceremony)  # count 1

    # A copy of the key, signing correctly, reports a count already seen.
    ceremony = begin_sign_in(database)
    with pytest.raises(AuthenticationFailed):
        sign_in(database, settings, device.assertion(ceremony.options, count=1), ceremony)
    # And the stored count, moved on as if another copy had signed, is not caught up with.
    with database.engine.begin() as connection:
        connection.execute(update(Passkey).where(Passkey.id == passkey.id).values(sign_count=10))
    ceremony = begin_sign_in(database)
    with pytest.raises(AuthenticationFailed):
        sign_in(database, settings, device.assertion(ceremony.options, count=5), ceremony)

    refused = trail(database, "passkey_refused")
    assert [json.loads(entry.changes)["sign_count"] for entry in refused] == [[1, 1], [10, 5]]
    assert {entry.object_id for entry in refused} == {user.id}
    assert stored(database, passkey.id).sign_count == 10
    assert len(trail(database, "login")) == 1
    # One above the stored count signs in again.
    ceremony = begin_sign_in(database)
    sign_in(database, settings, device.assertion(ceremony.options, count=11), ceremony)
    assert stored(database, passkey.id).sign_count == 11


def test_a_passkey_that_does_not_count_is_not_held_to_a_count(
    database: Database, settings: Settings, make_user: UserFactory
) -> None:
    """Synced passkeys report 0 every time: nothing to compare."""
    user = make_user()
    device = SoftAuthenticator()
    passkey = register(database, user, device)
    for _ in range(2):
        ceremony = begin_sign_in(database)
        sign_in(database, settings, device.assertion(ceremony.options, count=0), ceremony)
    assert stored(database, passkey.id).sign_count == 0
    assert trail(database, "passkey_refused") == []


def test_a_challenge_is_answered_once(
    database: Database, settings: Settings, make_user: UserFactory
) -> None:
    user = make_user()
    device = SoftAuthenticator()
    register(database, user, device)
    ceremony = begin_sign_in(database)
    answer = device.assertion(ceremony.options, count=0)
    sign_in(database, settings, answer, ceremony)
    with pytest.raises(AuthenticationFailed, match="ran out or was already used"):
        sign_in(database, settings, answer, ceremony)


def test_an_expired_challenge_is_refused(
    database: Database, settings: Settings, make_user: UserFactory
) -> None:
    user = make_user()
    device = SoftAuthenticator()
    register(database, user, device)
    ceremony = begin_sign_in(database)
    with database.engine.begin() as connection:
        connection.execute(
            update(PasskeyChallenge).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    with pytest.raises(AuthenticationFailed, match="ran out"):
        sign_in(database, settings, device.assertion(ceremony.options), ceremony)


def test_an_answer_made_for_another_origin_is_refused(
    database: Database, settings: Settings, make_user: UserFactory
) -> None:
    user = make_user()
    device = SoftAuthenticator()
    register(database, user, device)
    ceremony = begin_sign_in(database)
    phished = device.assertion(ceremony.options, origin="https://cms.example.evil")
    with pytest.raises(AuthenticationFailed):
        sign_in(database, settings, phished, ceremony)
    [failed] = trail(database, "login_failed")
    assert failed.object_id == user.id and "not verified" in failed.changes


def test_an_unknown_passkey_and_a_deactivated_account_do_not_sign_in(
    database: Database, settings: Settings, make_user: UserFactory
) -> None:
    user = make_user()
    device = SoftAuthenticator()
    register(database, user, device)
    ceremony = begin_sign_in(database)
    with pytest.raises(AuthenticationFailed):
        sign_in(database, settings, SoftAuthenticator().assertion(ceremony.options), ceremony)
    with database.engine.begin() as connection:
        connection.execute(update(User).where(User.id == user.id).values(is_active=False))
    ceremony = begin_sign_in(database)
    with pytest.raises(AuthenticationFailed):
        sign_in(database, settings, device.assertion(ceremony.options), ceremony)
    assert len(trail(database, "login_failed")) == 2 and trail(database, "login") == []


def test_a_registration_answer_for_another_origin_or_unnamed_is_refused(
    database: Database, make_user: UserFactory
) -> None:
    user = make_user()
    device = SoftAuthenticator()
    for name, origin, field in [
        ("Phone", "https://elsewhere.example", "credential"),
        ("  ", None, "name"),
    ]:
        ceremony = database.run(passkeys.BeginRegistration(rp=RP, secret=SECRET), actor=user)
        answer = json.dumps(device.register(ceremony.options, origin=origin))
        with pytest.raises(InvalidInput) as refused:
            database.run(
                passkeys.RegisterPasskey(
                    passkey_name=name, credential=answer, challenge=ceremony.challenge, rp=RP
                ),
                actor=user,
            )
        assert refused.value.field == field
    with database.sessionmaker() as session:
        assert session.scalars(select(Passkey)).all() == []


def test_the_same_authenticator_is_not_registered_twice(
    database: Database, make_user: UserFactory
) -> None:
    user = make_user()
    device = SoftAuthenticator()
    register(database, user, device)
    ceremony = database.run(passkeys.BeginRegistration(rp=RP, secret=SECRET), actor=user)
    # The browser is told which credentials exist (it refuses to make another on them)…
    excluded = json.loads(ceremony.options)["excludeCredentials"]
    assert [item["id"] for item in excluded] == [device.register(ceremony.options)["id"]]
    # …and the server refuses one that comes anyway.
    with pytest.raises(InvalidInput, match="registered already"):
        database.run(
            passkeys.RegisterPasskey(
                passkey_name="Again",
                credential=json.dumps(device.register(ceremony.options)),
                challenge=ceremony.challenge,
                rp=RP,
            ),
            actor=user,
        )


def test_only_the_owner_and_admins_remove_a_passkey(
    database: Database, make_user: UserFactory
) -> None:
    owner = make_user()
    editor = make_user(role=Role.EDITOR)
    admin = make_user(role=Role.ADMIN)
    first = register(database, owner, SoftAuthenticator(), "First")
    second = register(database, owner, SoftAuthenticator(), "Second")
    with pytest.raises(PermissionDenied):
        database.run(passkeys.RemovePasskey(passkey_id=first.id), actor=editor)
    database.run(passkeys.RemovePasskey(passkey_id=first.id), actor=owner)
    database.run(passkeys.RemovePasskey(passkey_id=second.id), actor=admin)
    removed = trail(database, "passkey_removed")
    assert [(e.actor_id, e.object_id, json.loads(e.changes)) for e in removed] == [
        (owner.id, owner.id, {"passkey": ["First", None]}),
        (admin.id, owner.id, {"passkey": ["Second", None]}),
    ]


@pytest.mark.parametrize(
    ("configured", "site_url", "page", "rp_id"),
    [
        (None, None, "http://localhost:8000", "localhost"),
        (None, "https://example.com", "https://admin.example.com", "example.com"),
        (None, "https://example.com", "http://localhost:8000", "localhost"),
        ("example.com", None, "https://cms.example.com", "example.com"),
    ],
)
def test_the_relying_party_follows_the_settings(
    database_url: str, configured: str | None, site_url: str | None, page: str, rp_id: str
) -> None:
    settings = make_settings(database_url, webauthn_rp_id=configured, site_url=site_url)
    rp = passkeys.relying_party(settings, page, "CMS")
    assert rp.id == rp_id and page in rp.origins


def test_a_back_office_outside_the_configured_rp_id_says_so(database_url: str) -> None:
    settings = make_settings(database_url, webauthn_rp_id="example.com")
    with pytest.raises(InvalidInput, match=r"example\.com"):
        passkeys.relying_party(settings, "https://example.org", "CMS")


@pytest.mark.parametrize("page", ["http://127.0.0.1:8000", "http://[::1]:8000"])
def test_a_back_office_on_an_ip_address_is_told_to_use_a_host_name(
    database_url: str, page: str
) -> None:
    with pytest.raises(InvalidInput, match="host name"):
        passkeys.relying_party(make_settings(database_url), page, "CMS")
