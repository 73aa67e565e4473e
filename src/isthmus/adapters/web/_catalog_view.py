"""The catalog list as a person asks for it: search, filters, sort, page — all plain GET params,
so a filtered view is a link that can be shared and works without JavaScript."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from isthmus.adapters.web._catalog_form import computed_score
from isthmus.adapters.web._redirects import with_query
from isthmus.catalog import Priority, Process, ProcessQuery, SortField
from isthmus.errors import IsthmusError
from isthmus.i18n import N_

PAGE_SIZE = 50
PRIORITY_LABELS = {Priority.HIGH: N_("High"), Priority.MEDIUM: N_("Medium"), Priority.LOW: N_("Low")}
# The table's sortable headers, in the guide's column order (msgids of the headers).
SORTABLE = {
    SortField.ID: N_("Process ID"),
    SortField.NAME: N_("Process name"),
    SortField.DEPARTMENT: N_("Department"),
    SortField.OWNER: N_("Process owner"),
    SortField.KEY_NODES: N_("Key nodes"),
    SortField.AVG_HOURS: N_("Average handling time (hours)"),
    SortField.PRIORITY: N_("Optimization priority"),
}


def _enum_or_none(kind: type[Priority] | type[SortField], text: str) -> Any:
    try:
        return kind(text)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class CatalogView:
    search: str = ""
    department: str = ""
    priority: Priority | None = None
    sort: SortField = SortField.ID
    descending: bool = False
    page: int = 1

    @classmethod
    def parse(cls, params: dict[str, str]) -> CatalogView:
        """Lenient: an unknown sort or priority falls back to the default, never an error page."""
        page = params.get("page", "1")
        return cls(
            search=params.get("search", "").strip()[:200],
            department=params.get("department", "").strip(),
            priority=_enum_or_none(Priority, params.get("priority", "")),
            sort=_enum_or_none(SortField, params.get("sort", "")) or SortField.ID,
            descending=params.get("order") == "desc",
            page=max(int(page), 1) if page.isdigit() else 1,
        )

    def query(self) -> ProcessQuery:
        return ProcessQuery(
            search=self.search,
            department=self.department or None,
            priority=self.priority,
            sort=self.sort,
            descending=self.descending,
            limit=PAGE_SIZE,
            offset=(self.page - 1) * PAGE_SIZE,
        )

    def url(self, **changes: Any) -> str:
        view = replace(self, **changes)
        return with_query(
            "/catalog",
            search=view.search,
            department=view.department,
            priority=view.priority.value if view.priority else None,
            sort=view.sort.value if view.sort is not SortField.ID else None,
            order="desc" if view.descending else None,
            page=view.page if view.page > 1 else None,
        )

    def page_url(self, page: int) -> str:
        return self.url(page=page)

    def sort_url(self, field: SortField) -> str:
        """Clicking the current sort column flips the order; another column sorts ascending."""
        descending = not self.descending if field is self.sort else False
        return self.url(sort=field, descending=descending, page=1)

    def aria_sort(self, field: SortField) -> str:
        if field is not self.sort:
            return "none"
        return "descending" if self.descending else "ascending"


def chart_data(processes: list[Process]) -> list[dict[str, Any]]:
    """Average handling hours per process for the bar chart (float is fine for drawing)."""
    return [
        {"id": p.id, "name": p.name, "hours": float(p.avg_hours), "priority": p.priority.value}
        for p in processes
    ]


def problem_cells(problem: IsthmusError) -> tuple[str, str, str]:
    """Sheet, row and column of an import problem, as table cells ("" where unknown)."""
    where = problem.location
    if where is None:
        return "", "", ""
    # A spreadsheet row is ``row``; a CSV or text line is ``line``.
    row = getattr(where, "row", None)
    row = where.line if row is None else row
    column = where.column if where.column is not None else where.field
    return where.sheet or "", "" if row is None else str(row), "" if column is None else str(column)


def score_text(process: Process) -> str | None:
    score = computed_score(process)
    return None if score is None else f"{score:.2f}"
