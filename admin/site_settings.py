"""The back office's *Site settings* page, admins only: the site's name, description,
logo (an image of the media library) and navigation links, saved by
:class:`~cms.site_settings.service.UpdateSiteSettings` (audited; a form saved unchanged
writes nothing).

The form works without JavaScript: it always shows :data:`MAX_NAV_LINKS` link rows, the
stored links first and empty rows after them; an empty row is no link, and links keep the
order of their rows. A refused value is said under its field, with what was typed kept.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from anyio import to_thread
from sqladmin.authentication import login_required
from sqladmin.flash import Flash
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from wtforms import FieldList, Form, FormField, RadioField, StringField, TextAreaField
from wtforms import ValidationError as FormValidationError
from wtforms.validators import DataRequired

from admin.auth import current_user
from admin.forms import FollowsRule
from admin.views import AdminError
from cms import permissions
from cms.db import Database
from cms.errors import InvalidInput
from cms.media import service as media
from cms.media.models import MediaAsset
from cms.media.projection import from_asset
from cms.site_settings.fields import (
    DESCRIPTION_MAX_LENGTH,
    MAX_NAV_LINKS,
    NAV_LABEL_MAX_LENGTH,
    NAV_URL_MAX_LENGTH,
    SITE_NAME_MAX_LENGTH,
    NavLabel,
    NavUrl,
    SiteDescription,
    SiteName,
    collapsed,
    one_line,
)
from cms.site_settings.reads import read_settings
from cms.site_settings.service import SiteSettingsChanges, UpdateSiteSettings
from cms.site_settings.values import NavLink, SiteSettingsValues, defaults_from
from cms.users.models import User

if TYPE_CHECKING:
    from admin.pages import Pages

# The newest images offered as a logo (the current logo is offered too, however old).
LOGO_CHOICES_SHOWN = 60
NO_LOGO = ""


def _stripped(value: str | None) -> str:
    return one_line(value or "")


def _collapsed(value: str | None) -> str:
    return collapsed(value or "")


class NavRowForm(Form):  # type: ignore[misc]
    """One navigation link: both its label and its address, or neither (no link)."""

    label = StringField(
        "Label",
        filters=[_stripped],
        validators=[FollowsRule(NavLabel, "label")],
        render_kw={"class": "form-control", "maxlength": NAV_LABEL_MAX_LENGTH},
    )
    url = StringField(
        "Address",
        filters=[_stripped],
        validators=[FollowsRule(NavUrl, "address")],
        render_kw={
            "class": "form-control",
            "maxlength": NAV_URL_MAX_LENGTH,
            "placeholder": "/about or https://example.com/",
        },
    )

    def validate(self, extra_validators: Any = None) -> bool:
        valid: bool = super().validate(extra_validators)
        if self.label.data and not self.url.data and not self.url.errors:
            self.url.errors.append("Give this link an address, or clear its label")
            valid = False
        if self.url.data and not self.label.data and not self.label.errors:
            self.label.errors.append("Give this link a label, or clear its address")
            valid = False
        return valid

    def link(self) -> NavLink | None:
        if not self.label.data and not self.url.data:
            return None
        return NavLink(label=self.label.data, url=self.url.data)


class LogoField(RadioField):  # type: ignore[misc]
    """A choice of image; one deleted since the page was shown is said so."""

    def pre_validate(self, form: Form) -> None:
        if self.data not in {value for value, _label in self.choices}:
            raise FormValidationError(
                "That image is no longer in the media library; choose another"
            )


class SiteSettingsForm(Form):  # type: ignore[misc]
    name = StringField(
        "Site name",
        filters=[_stripped],
        validators=[DataRequired("Enter the site's name"), FollowsRule(SiteName, "name")],
        render_kw={"class": "form-control", "maxlength": SITE_NAME_MAX_LENGTH},
    )
    description = TextAreaField(
        "Description",
        description="One or two sentences: search engines and link previews show it "
        "for pages that have none of their own. Line breaks become spaces.",
        filters=[_collapsed],
        validators=[FollowsRule(SiteDescription, "description")],
        render_kw={"class": "form-control", "rows": 3, "maxlength": DESCRIPTION_MAX_LENGTH},
    )
    logo = LogoField("Logo", choices=[(NO_LOGO, "No logo")], default=NO_LOGO)
    nav = FieldList(FormField(NavRowForm), min_entries=MAX_NAV_LINKS, max_entries=MAX_NAV_LINKS)

    def changes(self) -> SiteSettingsChanges:
        logo = self.logo.data
        return SiteSettingsChanges(
            name=self.name.data,
            description=self.description.data,
            logo_id=int(logo) if logo else None,
            nav=tuple(link for row in self.nav for link in [row.form.link()] if link),
        )


def _form_for(stored: SiteSettingsValues) -> SiteSettingsForm:
    return SiteSettingsForm(
        data={
            "name": stored.name,
            "description": stored.description,
            "logo": str(stored.logo_id) if stored.logo_id is not None else NO_LOGO,
            "nav": [{"label": link.label, "url": link.url} for link in stored.nav],
        }
    )


class SiteSettingsPages:
    def __init__(self, pages: Pages, database: Database) -> None:
        self.pages = pages
        self.database = database
        self._admin_ref = pages.admin  # login_required looks for it on the endpoint's owner

    def routes(self) -> list[Route]:
        return [
            Route("/site-settings", self.page, methods=["GET", "POST"], name="site-settings"),
        ]

    def _admin_only(self, request: Request) -> User:
        user = current_user(request)
        if user is None or not permissions.can_manage_site_settings(user):
            raise HTTPException(403, "Only admins change the site settings.")
        return user

    @login_required
    async def page(self, request: Request) -> Response:
        user = self._admin_only(request)
        defaults = defaults_from(request.app.state.settings)
        stored = await to_thread.run_sync(
            self.database.read, lambda connection: read_settings(connection, defaults)
        )
        if request.method == "GET":
            form = _form_for(stored)
            return await self._render(request, user, form, stored)
        form = SiteSettingsForm(await request.form())
        images = await self._offer_logos(user, form, stored)
        error = None
        if form.validate():
            view = self.pages._view("user")
            try:
                changed = await view.run_as_actor(
                    request, UpdateSiteSettings(changes=form.changes(), defaults=defaults)
                )
            except AdminError as exc:
                error = _show_on_field(form, exc)
            else:
                if changed:
                    Flash.success(request, "The site settings are saved.")
                else:
                    Flash.info(request, "Nothing was changed: the form held what is stored.")
                return RedirectResponse(str(request.url_for("admin:site-settings")), 302)
        return await self._render(
            request, user, form, stored, images, error=error or _NOT_SAVED, status_code=400
        )

    async def _offer_logos(
        self, user: User, form: SiteSettingsForm, stored: SiteSettingsValues
    ) -> list[dict[str, Any]]:
        """Fill the logo field's choices: the newest images and the current logo."""

        def load() -> list[dict[str, Any]]:
            with self.database.reading() as session:
                assets = list(media.list_media(session, viewer=user, limit=LOGO_CHOICES_SHOWN))
                if stored.logo_id is not None and all(a.id != stored.logo_id for a in assets):
                    current = session.get(MediaAsset, stored.logo_id)
                    if current is not None:
                        assets.insert(0, current)
                return [from_asset(asset) for asset in assets]

        images = await to_thread.run_sync(load)
        form.logo.choices = [
            (NO_LOGO, "No logo"),
            *((str(image["id"]), image["alt"] or f"Image {image['id']}") for image in images),
        ]
        return images

    async def _render(
        self,
        request: Request,
        user: User,
        form: SiteSettingsForm,
        stored: SiteSettingsValues,
        images: list[dict[str, Any]] | None = None,
        error: str | None = None,
        status_code: int = 200,
    ) -> Response:
        if images is None:
            images = await self._offer_logos(user, form, stored)
        return await self.pages.render(
            request,
            "cms/site_settings.html",
            {
                "title": "Site settings",
                "form": form,
                "images": images,
                "stored": stored,
                "error": error,
            },
            status_code=status_code,
        )


_NOT_SAVED = "Nothing was saved: correct the fields marked below."


def _show_on_field(form: SiteSettingsForm, exc: AdminError) -> str:
    """The service's refusal under the field it names (the form's own rules catch most
    before it), and the message above the form."""
    cause = exc.__cause__
    fields = {"name": form.name, "description": form.description, "logo_id": form.logo}
    target = fields.get(cause.field) if isinstance(cause, InvalidInput) else None
    if target is None:
        return f"Nothing was saved: {exc}"
    target.errors = [*target.errors, str(exc)]
    return _NOT_SAVED
