"""Typed change sets: what a write asks to change, field by field.

A PATCH body, a back-office form and a CLI command all become one of these before they
reach a service, so a service never guesses at the keys of a ``dict``. A field left at
:data:`UNSET` is not changed; ``None`` is a value (it clears a nullable field).
"""

from dataclasses import fields
from enum import Enum
from typing import Any, Final


class _Unset(Enum):
    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = _Unset.UNSET
Unset = _Unset


class ChangeSet:
    """Base for change sets: :meth:`given` lists the fields that were set."""

    def given(self) -> dict[str, Any]:
        return {
            field.name: getattr(self, field.name)
            for field in fields(self)  # type: ignore[arg-type]
            if getattr(self, field.name) is not UNSET
        }

    def __bool__(self) -> bool:
        return bool(self.given())
