"""How a person asks for a slice of the catalog: search, filters, sort and a page."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from isthmus.catalog._process import Priority


class SortField(StrEnum):
    ID = "id"
    NAME = "name"
    DEPARTMENT = "department"
    OWNER = "owner"
    KEY_NODES = "key_nodes"
    AVG_HOURS = "avg_hours"
    PRIORITY = "priority"


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcessQuery:
    """``search`` matches id, name, department, owner, roles and pain points (case-insensitive)."""

    search: str = ""
    department: str | None = None
    priority: Priority | None = None
    owner: str | None = None
    sort: SortField = SortField.ID
    descending: bool = False
    limit: int = 50
    offset: int = 0
