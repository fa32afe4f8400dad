"""Changing and reading the site settings.

:class:`UpdateSiteSettings` is the one way to change them (the back office's *Site
settings* page and ``cms site set`` run it): admins only, every value checked by the
rules of :mod:`cms.site_settings.fields`, audited as "field: before → after". Saving what
is already stored writes nothing, not even an audit entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

from sqlalchemy import Connection

from cms import permissions
from cms.actions import Action
from cms.audit import service as audit
from cms.changes import UNSET, ChangeSet, Unset
from cms.db import UnitOfWork, utcnow
from cms.errors import InvalidInput, PermissionDenied
from cms.fields import validated
from cms.media.models import MediaAsset
from cms.site_settings import reads
from cms.site_settings.fields import (
    MAX_NAV_LINKS,
    NavLabel,
    NavUrl,
    SiteDescription,
    SiteName,
    collapsed,
    one_line,
)
from cms.site_settings.models import SETTINGS_ID, SiteSettings
from cms.site_settings.values import (
    DEFAULTS,
    NavLink,
    SiteSettingsValues,
    nav_from_json,
    nav_to_json,
)

ONLY_ADMINS = "Only admins may change the site settings"


@dataclass(frozen=True, kw_only=True)
class SiteSettingsChanges(ChangeSet):
    """What to change; a field left :data:`~cms.changes.UNSET` stays as it is.
    ``logo_id=None`` removes the logo; ``nav`` replaces every link, in order."""

    name: str | Unset = UNSET
    description: str | Unset = UNSET
    logo_id: int | Unset | None = UNSET
    nav: tuple[NavLink, ...] | Unset = UNSET


def checked_nav(links: Sequence[NavLink]) -> tuple[NavLink, ...]:
    """``links`` normalised and checked; :class:`InvalidInput` for ``nav`` naming the
    link (counted from 1) and what is wrong with it."""
    if len(links) > MAX_NAV_LINKS:
        raise InvalidInput("nav", f"Navigation: at most {MAX_NAV_LINKS} links (found {len(links)})")
    result = []
    for number, link in enumerate(links, start=1):
        try:
            label = validated(NavLabel, "label", one_line(link.label))
            url = validated(NavUrl, "address", one_line(link.url))
        except InvalidInput as exc:
            raise InvalidInput("nav", f"Navigation link {number}: {exc.message}") from None
        result.append(NavLink(label=label, url=url))
    return tuple(result)


def checked(changes: SiteSettingsChanges) -> SiteSettingsChanges:
    """``changes`` normalised (surrounding space dropped, a description on one line) and
    checked field by field; :class:`InvalidInput` naming the first field that fails."""
    name, description, nav = changes.name, changes.description, changes.nav
    if not isinstance(name, Unset):
        if not one_line(name):
            raise InvalidInput("name", "Name must not be blank: every page shows it")
        name = validated(SiteName, "name", one_line(name))
    if not isinstance(description, Unset):
        description = validated(SiteDescription, "description", collapsed(description))
    if not isinstance(nav, Unset):
        nav = checked_nav(nav)
    return SiteSettingsChanges(name=name, description=description, logo_id=changes.logo_id, nav=nav)


@dataclass(frozen=True, kw_only=True)
class UpdateSiteSettings(Action[frozenset[str]]):
    """Change the site settings; returns the names of the fields that changed (none when
    ``changes`` holds what is stored)."""

    name: ClassVar[str] = "update"
    changes: SiteSettingsChanges
    # What the site shows while nothing was saved (defaults_from(settings)): a first
    # save of the form as shown then stores nothing either.
    defaults: SiteSettingsValues = DEFAULTS

    @cached_property
    def _checked(self) -> SiteSettingsChanges:
        return checked(self.changes)

    def prepare(self) -> None:
        """Check every value before the transaction begins."""
        self._checked  # noqa: B018 (computed and kept)

    def __call__(self, uow: UnitOfWork) -> frozenset[str]:
        if not permissions.can_manage_site_settings(uow.actor):
            raise PermissionDenied(ONLY_ADMINS)
        changes = self._checked
        session = uow.session
        row = session.get(SiteSettings, SETTINGS_ID, with_for_update=True)
        before = _stored(row, self.defaults)
        after = dict(before)
        for field, value in changes.given().items():
            after[field] = value
        if after["logo_id"] != before["logo_id"] and after["logo_id"] is not None:
            _usable_logo(uow, after["logo_id"])
        differences = {
            field: (_shown(before[field]), _shown(after[field]))
            for field in ("name", "description", "logo_id", "nav")
            if after[field] != before[field]
        }
        if not differences:
            return frozenset()
        if row is None:
            row = SiteSettings(id=SETTINGS_ID)
            session.add(row)
        row.name = after["name"]
        row.description = after["description"]
        row.logo_id = after["logo_id"]
        row.nav = nav_to_json(after["nav"])
        row.updated_at = utcnow()
        row.updated_by_id = uow.actor.id if uow.actor is not None else None
        session.flush()
        audit.record(
            uow,
            action=self.name,
            object_type="site_settings",
            object_id=SETTINGS_ID,
            object_repr=row.name,
            changes=differences,
        )
        uow.after_commit(reads.forget)
        return frozenset(differences)


def _stored(row: SiteSettings | None, defaults: SiteSettingsValues) -> dict[str, Any]:
    if row is None:
        return {
            "name": defaults.name,
            "description": defaults.description,
            "logo_id": defaults.logo_id,
            "nav": defaults.nav,
        }
    return {
        "name": row.name,
        "description": row.description,
        "logo_id": row.logo_id,
        "nav": nav_from_json(row.nav),
    }


def _shown(value: Any) -> Any:
    """A value as the audit trail keeps it: links as "Label (url)"."""
    if isinstance(value, tuple):
        return [str(link) for link in value]
    return value


def _usable_logo(uow: UnitOfWork, asset_id: int) -> None:
    if uow.session.get(MediaAsset, asset_id) is None:
        raise InvalidInput(
            "logo_id", f"No image {asset_id} in the media library; upload it there first"
        )


def site_settings(
    connection: Connection, defaults: SiteSettingsValues = DEFAULTS
) -> SiteSettingsValues:
    """The site settings as stored (``defaults`` until an admin saves them)."""
    return reads.read_settings(connection, defaults)
