"""Roles, in increasing order of power: ``author < editor < admin``."""

from enum import StrEnum


class Role(StrEnum):
    AUTHOR = "author"
    EDITOR = "editor"
    ADMIN = "admin"

    @property
    def is_staff(self) -> bool:
        """Editors and admins: they work on everyone's articles and use the back office."""
        return self is not Role.AUTHOR
