"""Actions on chosen rows (publish, unpublish, delete, restore, purge): asked on a page
that names every row, done by a POST, each row permission-checked, all rows in one unit
of work (all happen, or none and the page says why)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cms.db import UnitOfWork

# What an action is given besides the row: the choices its confirmation page asked for.
Choices = Mapping[str, str]


@dataclass(frozen=True)
class RowAction:
    """One action a view offers on its rows."""

    name: str
    label: str
    # "Publish {rows}?": {rows} becomes "3 articles".
    question: str
    # "Published {names}.": {names} becomes the rows' labels.
    done: str
    # What the authorization backend is asked for each row.
    permission: str
    perform: Callable[[UnitOfWork, int, Choices], Any]
    danger: bool = False
    # Extra fields the confirmation page shows (a template name), e.g. for a choice.
    choices_template: str | None = None
    # A button on each row of the list that POSTs at once, with no confirmation page:
    # only for what is undone as easily (restoring from the trash).
    in_row: bool = False

    def ask(self, count: int, noun: str) -> str:
        return self.question.format(rows=f"{count} {noun}" + ("" if count == 1 else "s"))

    def report(self, names: list[str]) -> str:
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        return self.done.format(names=shown)
