"""The messages the account links go out in, written when they are sent.

Each composer is registered with :func:`cms.mail.queue.composer` under the kind the
actions in :mod:`cms.accounts.service` queue. None includes a password.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from cms.accounts import service
from cms.accounts.models import AccountLink, LinkPurpose
from cms.config import Settings
from cms.db import UnitOfWork
from cms.mail.models import QueuedMail
from cms.mail.queue import composer
from cms.mail.transport import Letter
from cms.users.models import User
from cms.users.service import get_user_by_email

# Where each link opens: the back office's pages, which the API's token also works with.
RESET_PATH = "/admin/password-reset/confirm"
INVITATION_PATH = "/admin/invitation"
EMAIL_CHANGE_PATH = "/admin/account/email/confirm"


def _url(settings: Settings, data: dict[str, Any], path: str, token: str) -> str:
    base = (settings.site_url or str(data.get("base") or "")).rstrip("/")
    return f"{base}{path}?token={token}"


@composer(service.RESET_MAIL)
def password_reset(
    uow: UnitOfWork, row: QueuedMail, data: dict[str, Any], settings: Settings
) -> Letter | None:
    user = get_user_by_email(uow.session, row.to_address)
    if user is None or not user.is_active:
        return None  # nobody to write to: nothing is sent, and the requester is not told
    minutes = settings.password_reset_expire_minutes
    link = service.new_link(
        uow,
        LinkPurpose.PASSWORD_RESET,
        email=user.email,
        lifetime=timedelta(minutes=minutes),
        user=user,
    )
    lasts = (
        f"{minutes} minutes"
        if minutes % 60
        else f"{minutes // 60} hour" + ("s" if minutes > 60 else "")
    )
    return Letter(
        subject="Reset your password",
        text=(
            f"Someone, probably you, asked to reset the password of the account {user.email}."
            f"\n\nThe link below lets you choose a new one. It works once, for {lasts}, and "
            "stops working if you ask for another link or your password changes meanwhile."
        ),
        reason="a password reset was asked for this address",
        link=_url(settings, data, RESET_PATH, service.link_token(link, settings.secret)),
        link_label="Choose a new password",
    )


@composer(service.INVITATION_MAIL)
def invitation(
    uow: UnitOfWork, row: QueuedMail, data: dict[str, Any], settings: Settings
) -> Letter | None:
    link = uow.session.get(AccountLink, int(data["link"]))
    if link is None or link.used_at is not None or link.revoked_at is not None:
        return None  # revoked (or replaced) before it could be sent
    inviter = uow.session.get(User, link.created_by_id) if link.created_by_id else None
    who = inviter.display_name if inviter is not None else "An admin"
    reason = f"{inviter.display_name if inviter is not None else 'an admin'} invited this address"
    days = (link.expires_at - link.created_at).days
    return Letter(
        subject="You are invited to the CMS",
        text=(
            f"{who} invited you to write for this site as {_article(link.role)} "
            f"{link.role}.\n\nOpen the link below to choose your name and a password; your "
            f"account is made then. The link works once, for {days} days."
        ),
        reason=reason,
        link=_url(settings, data, INVITATION_PATH, service.link_token(link, settings.secret)),
        link_label="Accept the invitation",
    )


@composer(service.EMAIL_CHANGE_MAIL)
def email_change(
    uow: UnitOfWork, row: QueuedMail, data: dict[str, Any], settings: Settings
) -> Letter | None:
    link = uow.session.get(AccountLink, int(data["link"]))
    if link is None or link.used_at is not None or link.revoked_at is not None:
        return None
    user = uow.session.get(User, link.user_id) if link.user_id else None
    if user is None:
        return None
    return Letter(
        subject="Confirm your new email address",
        text=(
            f"The account {user.email} asked to use this address, {link.email}, from now on."
            "\n\nOpen the link below to confirm; the address changes then, not before. "
            f"The link works once, for {_hours(link)} hours."
        ),
        reason="this address was given as the new email of an account",
        link=_url(settings, data, EMAIL_CHANGE_PATH, service.link_token(link, settings.secret)),
        link_label="Confirm this address",
    )


def _hours(link: AccountLink) -> int:
    return round((link.expires_at - link.created_at).total_seconds() / 3600)


def _article(role: str | None) -> str:
    return "an" if (role or "")[:1] in ("a", "e") else "a"
