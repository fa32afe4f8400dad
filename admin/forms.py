"""Form fields for the back office: what is stored is what the form shows, and every
field is checked by the rule the API and the services use (:mod:`cms.fields`)."""

import enum
from typing import Any

from markupsafe import Markup
from pydantic import TypeAdapter, ValidationError
from sqladmin.fields import SelectField
from sqladmin.forms import ModelConverter, converts
from sqlalchemy.orm import ColumnProperty
from wtforms import Field, Form
from wtforms import ValidationError as FormValidationError
from wtforms.fields.core import UnboundField
from wtforms.widgets import html_params

from cms.fields import sentence

# How a stored enum value is shown in a select ("published" → "Published").
CHOICE_LABELS: dict[str, str] = {}


def choice_label(value: str) -> str:
    return CHOICE_LABELS.get(value, value.replace("_", " ").capitalize())


class StoredValueConverter(ModelConverter):
    """SQLAdmin's converter, but an enum select marks the *stored* option as selected.

    SQLAdmin 0.32 coerces an enum to its ``name`` ("PUBLISHED") and compares that with
    the options' values ("published"), so no option is selected, the browser submits the
    first one, and saving a form unchanged unpublished the article or demoted the user.
    Here the form works on values throughout.
    """

    async def _prepare_kwargs(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        # SQLAdmin copies a field's form_args shallowly and then appends its own
        # validators to the list it got: the view's list itself, so every form built
        # added another Length and InputRequired (dozens of repeated messages after a
        # while). Each form gets lists of its own.
        field_args = kwargs.get("field_args")
        if field_args is not None:
            kwargs["field_args"] = {
                key: list(value) if isinstance(value, list) else value
                for key, value in field_args.items()
            }
        prepared: dict[str, Any] | None = await super()._prepare_kwargs(*args, **kwargs)
        return prepared

    @staticmethod
    def _string_common(prop: ColumnProperty[Any]) -> list[Any]:
        # SQLAdmin adds a Length check from the column's size; every text field here has
        # a FollowsRule with the field's real limit, said as the API says it. One message.
        return []

    @converts("Enum")  # type: ignore[untyped-decorator]
    def conv_enum(
        self, model: type, prop: ColumnProperty[Any], kwargs: dict[str, Any]
    ) -> UnboundField:
        values: list[str] = list(prop.columns[0].type.enums)  # type: ignore[attr-defined]
        kwargs["choices"] = [(value, choice_label(value)) for value in values]
        kwargs["coerce"] = _enum_value
        if prop.columns[0].nullable:
            kwargs.setdefault("allow_blank", True)
        return SelectField(**kwargs)


def _enum_value(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, enum.Enum):
        return str(value.value)
    return str(value)


class FollowsRule:
    """A WTForms validator that applies one of :mod:`cms.fields`'s annotated types, so
    the form refuses exactly what the API refuses, with the same sentence."""

    def __init__(self, kind: Any, field_name: str) -> None:
        self.adapter: TypeAdapter[Any] = TypeAdapter(kind)
        self.field_name = field_name

    def __call__(self, form: Form, field: Field) -> None:
        if field.data in (None, ""):
            return  # whether blank is allowed is the Optional/DataRequired validators' call
        try:
            self.adapter.validate_python(field.data)
        except ValidationError as exc:
            raise FormValidationError(sentence(self.field_name, exc)) from None


# Where the tag box asks for existing tags (admin/tags.py, mounted under /admin).
TAG_SUGGESTIONS_URL = "/admin/tag/suggest"


class TagsWidget:
    """A multiple select of the article's tags, each rendered ``selected`` in the page
    itself: submitted as is without JavaScript, and turned by select2 (``tags`` mode)
    into a box where new tags are typed in, offering the existing tags that start with
    what is typed (select2 reads its ajax settings from the ``data-ajax--*``
    attributes: no script of our own, nothing inline)."""

    def __call__(self, field: Field, **kwargs: Any) -> Markup:
        kwargs.setdefault("id", field.id)
        kwargs.setdefault("class", "form-control")
        kwargs.setdefault("data-ajax--url", TAG_SUGGESTIONS_URL)
        kwargs.setdefault("data-ajax--delay", "200")
        kwargs.setdefault("data-ajax--cache", "true")
        options = Markup("").join(
            Markup('<option value="{}" selected>{}</option>').format(name, name)
            for name in field.data or []
        )
        # html_params escapes every attribute value it is given.
        attributes = Markup(html_params(name=field.name, **kwargs))  # noqa: S704
        return Markup('<select multiple data-role="select2-tags" {}>{}</select>').format(
            attributes, options
        )


class TagsField(Field):  # type: ignore[misc]
    """Tag names, as many as chosen or typed; cleaned by the service's rule."""

    widget = TagsWidget()

    def process_formdata(self, valuelist: list[str]) -> None:
        self.data = list(valuelist)

    def process_data(self, value: Any) -> None:
        self.data = list(value or [])
