"""The permission policy: the one place that answers "may this user do X to this object"
and "which rows may this user see".

The REST API and every back-office route ask these functions; nothing else decides.
``None`` stands for an anonymous caller; an actor is a user or the system actor (the
CLI), which has an admin's authority. Roles: ``author < editor < admin``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, exists, false, or_, true

from cms.actors import Actor
from cms.articles.models import Article, TrashedArticle
from cms.media.models import MediaAsset
from cms.previews.models import PreviewLink
from cms.roles import Role
from cms.users.models import User

# Fields a user may change on their own account; the rest need an admin.
SELF_EDITABLE_USER_FIELDS = frozenset({"name", "password"})


def is_staff(user: Actor | None) -> bool:
    return user is not None and user.is_active and user.role.is_staff


def is_admin(user: Actor | None) -> bool:
    return user is not None and user.is_active and user.role is Role.ADMIN


# Articles


def published_articles(moment: datetime | ColumnElement[datetime]) -> ColumnElement[bool]:
    """Rows anyone may read: published, with a publication time that has come."""
    return Article.visible_at(moment)


def visible_articles(
    user: Actor | None, moment: datetime | ColumnElement[datetime]
) -> ColumnElement[bool]:
    """Rows ``user`` may read: staff see all, authors also their own drafts.

    The only visibility rule: lists, single reads, feeds and the back office all filter
    with it in SQL."""
    if is_staff(user):
        return true()
    if user is not None and user.is_active:
        return or_(published_articles(moment), Article.author_id == user.id)
    return published_articles(moment)


def can_manage_tags(user: Actor | None) -> bool:
    """Rename, merge and delete tags, which reach every article carrying them: staff."""
    return is_staff(user)


def can_create_article(user: Actor | None) -> bool:
    return user is not None and user.is_active


def can_edit_article(user: Actor | None, article: Article) -> bool:
    """Edit, publish or delete: the author themselves, or staff."""
    if is_staff(user):
        return True
    return user is not None and user.is_active and article.author_id == user.id


def editable_articles(user: Actor | None) -> ColumnElement[bool]:
    """Rows ``user`` may edit, publish or delete: the SQL twin of :func:`can_edit_article`.

    The back office shows an author these rows only; staff see every row."""
    if is_staff(user):
        return true()
    if user is not None and user.is_active:
        return Article.author_id == user.id
    return false()


def can_share_preview(user: Actor | None, article: Article) -> bool:
    """Share, list and revoke an article's preview links: whoever may edit it (the
    author, or staff)."""
    return can_edit_article(user, article)


def previewable_articles(
    link_id: int | ColumnElement[int],
    secret_digest: str | ColumnElement[str],
    moment: datetime | ColumnElement[datetime],
) -> ColumnElement[bool]:
    """Rows a preview token opens to anyone holding it: the one article its link
    belongs to, while the link is neither revoked nor expired. (The token's signature
    was checked before: a forged one never reaches SQL.)"""
    return exists().where(
        PreviewLink.id == link_id,
        PreviewLink.article_id == Article.id,
        PreviewLink.secret_hash == secret_digest,
        PreviewLink.revoked_at.is_(None),
        PreviewLink.expires_at > moment,
    )


def can_choose_author(user: Actor | None) -> bool:
    """Whether ``user`` may credit an article to someone else (an author writes as themselves)."""
    return is_staff(user)


def can_read_history(user: Actor | None, article: Article) -> bool:
    """An article's earlier versions: for whoever may edit it, not for every reader."""
    return can_edit_article(user, article)


def can_write_as(user: Actor | None, author_id: int) -> bool:
    """Whether ``user`` may create an article credited to ``author_id``."""
    if is_staff(user):
        return True
    return user is not None and user.is_active and user.id == author_id


# Users


def can_list_users(user: Actor | None) -> bool:
    return is_staff(user)


def visible_users(user: Actor | None) -> ColumnElement[bool]:
    """Rows ``user`` may read: staff see everyone, others only themselves."""
    if is_staff(user):
        return true()
    if user is not None and user.is_active:
        return User.id == user.id
    return false()


def can_view_user(user: Actor | None, target: User) -> bool:
    return is_staff(user) or _is_self(user, target)


def _is_self(user: Actor | None, target: User) -> bool:
    return user is not None and user.is_active and user.id is not None and user.id == target.id


def can_create_user(user: Actor | None, *, allow_signup: bool) -> bool:
    """Anyone while sign-up is open; otherwise admins only."""
    return allow_signup or is_admin(user)


def can_assign_role(user: Actor | None) -> bool:
    return is_admin(user)


def can_edit_user(user: Actor | None, target: User, fields: frozenset[str]) -> bool:
    """Admins change anything; everyone else only their own name and password."""
    if is_admin(user):
        return True
    return _is_self(user, target) and fields <= SELF_EDITABLE_USER_FIELDS


def can_delete_user(user: Actor | None, target: User) -> bool:
    return is_admin(user)


def can_use_back_office(user: Actor | None) -> bool:
    """Every active account: an author's back office holds their own articles only."""
    return user is not None and user.is_active


def can_manage_sign_ins(user: Actor | None, owner_id: int) -> bool:
    """Who sees and ends an account's sessions and removes its passkeys: the account
    itself, and admins for anyone's."""
    if is_admin(user):
        return True
    return user is not None and user.is_active and user.id is not None and user.id == owner_id


# The editorial record


def can_read_audit(user: Actor | None) -> bool:
    return is_admin(user)


# The trash. Whoever deletes an article can undo it: admins see and restore everything
# in the trash; everyone else sees and restores what they deleted themselves (an editor's
# own mistake, not another's deletion). Deleting for good stays with admins.


def visible_trash(user: Actor | None) -> ColumnElement[bool]:
    """Trashed rows ``user`` may see and restore: admins all, others their own deletes."""
    if is_admin(user):
        return true()
    if user is not None and user.is_active and user.id is not None:
        return TrashedArticle.deleted_by_id == user.id
    return false()


def can_restore_from_trash(user: Actor | None, trashed: TrashedArticle) -> bool:
    """The row twin of :func:`visible_trash`."""
    if is_admin(user):
        return True
    return (
        user is not None
        and user.is_active
        and user.id is not None
        and trashed.deleted_by_id == user.id
    )


def can_purge_trash(user: Actor | None) -> bool:
    """Delete a trashed article for good, with its history: admins only."""
    return is_admin(user)


def can_manage_webhooks(user: Actor | None) -> bool:
    """Add, list and remove webhook endpoints, read their deliveries, redeliver."""
    return is_admin(user)


# The site's own settings (name, description, logo, navigation)


def can_manage_site_settings(user: Actor | None) -> bool:
    """Change what every page of the site shows: admins only."""
    return is_admin(user)


# Media


def can_upload_media(user: Actor | None) -> bool:
    """Any signed-in writer may upload images."""
    return user is not None and user.is_active


def can_manage_media(user: Actor | None, asset: MediaAsset) -> bool:
    """Read the details of, change or delete an asset: its uploader, or staff."""
    if is_staff(user):
        return True
    return user is not None and user.is_active and asset.uploaded_by_id == user.id


def visible_media(user: Actor | None) -> ColumnElement[bool]:
    """Assets ``user`` may list and read: staff all, others their own uploads. (The
    renditions themselves are public at their addresses, like the articles using them.)"""
    if is_staff(user):
        return true()
    if user is not None and user.is_active and user.id is not None:
        return MediaAsset.uploaded_by_id == user.id
    return false()


# Two-factor sign-in


def can_manage_own_two_factor(user: Actor | None) -> bool:
    """Set up, replace or switch off one's own second factor: any account with a row."""
    return user is not None and user.id is not None and user.is_active


def can_reset_two_factor(user: Actor | None, target: User) -> bool:
    """Switch off someone else's second factor (a lost phone): admins, for others (their
    own is on their account page, behind a code or their password)."""
    return is_admin(user) and user is not None and user.id != target.id


def can_set_two_factor_policy(user: Actor | None) -> bool:
    return is_admin(user)


# Accounts managed by email


def can_invite(user: Actor | None) -> bool:
    """Invite someone by email with a role, list and revoke pending invitations: admins."""
    return is_admin(user)


def can_change_own_email(user: Actor | None, target: User) -> bool:
    """Anyone may ask to change their own address; it changes once the new one confirms."""
    return _is_self(user, target)
