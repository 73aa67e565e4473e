"""The audit trail as people read it: what changed, field by field (values already masked)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from isthmus.security import AuditRecord


@dataclass(frozen=True, slots=True)
class DiffRow:
    field: str
    before: str
    after: str
    changed: bool


def show(value: Any) -> str:
    """A value as one short line: lists joined, nested objects as compact text."""
    if value is None:
        return ""
    if isinstance(value, list):
        return "、".join(show(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {show(v)}" for k, v in value.items())
    return str(value)


def diff(record: AuditRecord) -> list[DiffRow]:
    """Changed fields first matter most: an update lists only what changed; a create or delete
    lists every field of the one side it has."""
    before, after = record.event.before, record.event.after
    if not isinstance(before, dict) or not isinstance(after, dict):
        if before is None and after is None:
            return []
        if isinstance(before, dict) or isinstance(after, dict):
            side = before if isinstance(before, dict) else after
            assert isinstance(side, dict)
            in_after = side is after
            return [
                DiffRow(k, "" if in_after else show(v), show(v) if in_after else "", True)
                for k, v in side.items()
            ]
        return [DiffRow("", show(before), show(after), before != after)]
    keys = list(dict.fromkeys([*before, *after]))
    return [
        DiffRow(k, show(before.get(k)), show(after.get(k)), True)
        for k in keys
        if before.get(k) != after.get(k)
    ]
