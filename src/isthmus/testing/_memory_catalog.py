"""The process catalog in memory, behaving like ``adapters/storage/catalog.py``."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from isthmus.catalog import NodeSla, Priority, Process, ProcessId, ProcessQuery, SortField
from isthmus.errors import Conflict, NotFound
from isthmus.testing._memory_tables import Tables, utc

# Sorting by priority means high → medium → low, not alphabetical (as in SQL).
_PRIORITY_RANK = {Priority.HIGH: 0, Priority.MEDIUM: 1, Priority.LOW: 2}
_CENTS = Decimal("0.01")


def _stored(process: Process, *, version: int, created_at: datetime, updated_at: datetime) -> Process:
    # avg_hours is a NUMERIC(12, 2) column that is read back normalised.
    return process.with_changes(
        roles=tuple(process.roles),
        pain_points=tuple(process.pain_points),
        avg_hours=process.avg_hours.quantize(_CENTS).normalize(),
        version=version,
        created_at=created_at,
        updated_at=updated_at,
    )


def _matches(process: Process, query: ProcessQuery) -> bool:
    needle = query.search.strip().lower()
    if needle:
        texts = (process.id, process.name, process.department, process.owner)
        if not any(needle in text.lower() for text in (*texts, *process.roles, *process.pain_points)):
            return False
    if query.department and process.department != query.department:
        return False
    if query.owner and process.owner != query.owner:
        return False
    return not (query.priority and process.priority is not query.priority)


def _sort_value(process: Process, sort: SortField) -> Any:
    if sort is SortField.PRIORITY:
        return _PRIORITY_RANK[process.priority]
    return getattr(process, sort.value)


class InMemoryProcessRepository:
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    def get(self, process_id: ProcessId) -> Process | None:
        return self._t.processes.get(process_id)

    def add(self, process: Process, now: datetime) -> Process:
        if process.id in self._t.processes:
            raise Conflict("process {id} already exists", id=process.id)
        now = utc(now)
        self._t.processes[process.id] = _stored(process, version=1, created_at=now, updated_at=now)
        return process.with_changes(version=1, created_at=now, updated_at=now)

    def update(self, process: Process, now: datetime) -> Process:
        current = self._t.processes.get(process.id)
        if current is None:
            raise NotFound("no process with id {id}", id=process.id)
        if current.version != process.version:
            raise Conflict(
                "process {id} was changed by someone else since version {version}; reload and retry",
                id=process.id,
                version=process.version,
            )
        now = utc(now)
        assert current.created_at is not None
        self._t.processes[process.id] = _stored(
            process, version=process.version + 1, created_at=current.created_at, updated_at=now
        )
        return process.with_changes(version=process.version + 1, updated_at=now)

    def delete(self, process_id: ProcessId) -> None:
        if self._t.processes.pop(process_id, None) is None:
            raise NotFound("no process with id {id}", id=process_id)
        self._t.process_slas.pop(process_id, None)  # ON DELETE CASCADE

    def query(self, query: ProcessQuery) -> tuple[list[Process], int]:
        found = sorted((p for p in self._t.processes.values() if _matches(p, query)), key=lambda p: p.id)
        # Stable sort: ties keep the ascending id order, as SQL's secondary ORDER BY id does.
        found.sort(key=lambda p: _sort_value(p, query.sort), reverse=query.descending)
        return found[query.offset : query.offset + query.limit], len(found)

    def all(self) -> list[Process]:
        return sorted(self._t.processes.values(), key=lambda p: p.id)

    def slas(self, process_id: ProcessId) -> tuple[NodeSla, ...]:
        return self._t.process_slas.get(process_id, ())

    def all_slas(self) -> dict[ProcessId, tuple[NodeSla, ...]]:
        return {k: v for k, v in sorted(self._t.process_slas.items()) if v}

    def replace_slas(self, process_id: ProcessId, slas: tuple[NodeSla, ...]) -> None:
        if process_id not in self._t.processes:
            raise NotFound("no process with id {id}", id=process_id)
        self._t.process_slas[process_id] = tuple(slas)
