"""A process of the catalog: one row of the guide's table 1 (流程现状分析表)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, NewType

from isthmus.errors import InvalidInput, Location

ProcessId = NewType("ProcessId", str)

PROCESS_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MAX_TEXT = 500
MAX_LIST_ITEMS = 50


class Priority(StrEnum):
    """优化优先级 — the guide's 高/中/低."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


@dataclass(frozen=True, slots=True)
class PriorityScores:
    """The inputs of the priority formula, each 1 (least) to 5 (most).

    The guide picks processes that are *high-value, clear-pain and easy to land* first (ch. 2,
    phase 1); ``ease`` is how easy the change is, so 5 means easiest.
    """

    value: int
    pain: int
    ease: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Process:
    """One catalog entry. Lists are tuples so a process is hashable and immutable."""

    id: ProcessId
    name: str
    department: str = ""
    system_support: str = ""
    owner: str = ""
    roles: tuple[str, ...] = ()
    key_nodes: int = 0
    avg_hours: Decimal = Decimal(0)
    pain_points: tuple[str, ...] = ()
    priority: Priority = Priority.MEDIUM
    priority_manual: bool = True
    scores: PriorityScores | None = None
    version: int = 1
    created_at: datetime | None = field(default=None, compare=False)
    updated_at: datetime | None = field(default=None, compare=False)

    def as_record(self) -> dict[str, Any]:
        """The public JSON shape (the English column names of ``isthmus catalog list --json``)."""
        return {
            "id": self.id,
            "name": self.name,
            "department": self.department,
            "system_support": self.system_support,
            "owner": self.owner,
            "roles": list(self.roles),
            "key_nodes": self.key_nodes,
            "avg_hours": _number(self.avg_hours),
            "pain_points": list(self.pain_points),
            "priority": self.priority.value,
            "priority_manual": self.priority_manual,
            "scores": None
            if self.scores is None
            else {
                "value": self.scores.value,
                "pain": self.scores.pain,
                "ease": self.scores.ease,
            },
            "version": self.version,
        }

    def with_changes(self, **changes: Any) -> Process:
        return replace(self, **changes)


def _number(value: Decimal) -> int | float:
    """JSON numbers: integers stay integers; hours are stored with at most 2 decimals."""
    return int(value) if value == value.to_integral_value() else float(value)


def validate_process(process: Process, *, location: Location | None = None) -> list[InvalidInput]:
    """Every problem with ``process``; an empty list means it may be stored."""
    problems: list[InvalidInput] = []
    base = location or Location()

    def bad(field_name: str, template: str, **params: Any) -> None:
        where = Location(file=base.file, sheet=base.sheet, row=base.row, field=field_name)
        problems.append(InvalidInput(template, location=where, **params))

    if not PROCESS_ID_PATTERN.match(process.id):
        bad(
            "id",
            "expected a process id of letters, digits, '-', '_' or '.' (like SAL-ORD-001), got {value!r}",
            value=process.id,
        )
    if not process.name.strip():
        bad("name", "expected a process name, got an empty value")
    _check_texts(process, bad)
    _check_lists(process, bad)
    if not 0 <= process.key_nodes <= 10_000:
        bad("key_nodes", "expected a whole number from 0 to 10000, got {value}", value=process.key_nodes)
    if not Decimal(0) <= process.avg_hours <= Decimal(1_000_000):
        bad("avg_hours", "expected hours from 0 to 1000000, got {value}", value=str(process.avg_hours))
    if process.scores is not None:
        for name in ("value", "pain", "ease"):
            score = getattr(process.scores, name)
            if not 1 <= score <= 5:
                bad(f"{name}_score", "expected a score from 1 to 5, got {value}", value=score)
    return problems


def _check_texts(process: Process, bad: Callable[..., None]) -> None:
    for name in ("name", "department", "system_support", "owner"):
        value: str = getattr(process, name)
        if len(value) > MAX_TEXT:
            bad(name, "expected at most {limit} characters, got {length}", limit=MAX_TEXT, length=len(value))
        if "\n" in value or _has_control(value):
            bad(name, "expected a single line of text without control characters")


def _check_lists(process: Process, bad: Callable[..., None]) -> None:
    for name in ("roles", "pain_points"):
        items: tuple[str, ...] = getattr(process, name)
        if len(items) > MAX_LIST_ITEMS:
            bad(name, "expected at most {limit} entries, got {count}", limit=MAX_LIST_ITEMS, count=len(items))
        for item in items:
            if not item.strip() or "\n" in item or _has_control(item) or len(item) > MAX_TEXT:
                bad(name, "expected non-empty single-line entries, got {value!r}", value=item)
    for role in process.roles:
        if any(sep in role for sep in ROLE_SEPARATORS):
            bad("roles", "a role name cannot contain a list separator, got {value!r}", value=role)


def _has_control(text: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" for ch in text)


ROLE_SEPARATORS = ("、", ",", "，", ";", "；")
