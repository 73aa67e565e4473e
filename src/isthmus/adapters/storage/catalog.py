"""The process catalog on SQL."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    String,
    case,
    cast,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from isthmus.adapters.storage.tables import process_slas, processes
from isthmus.catalog import NodeSla, Priority, PriorityScores, Process, ProcessId, ProcessQuery, SortField
from isthmus.errors import Conflict, NotFound

# Sorting by priority means high → medium → low, not alphabetical.
_PRIORITY_RANK = {Priority.HIGH.value: 0, Priority.MEDIUM.value: 1, Priority.LOW.value: 2}


def _row_values(process: Process) -> dict[str, Any]:
    return {
        "id": process.id,
        "name": process.name,
        "department": process.department,
        "system_support": process.system_support,
        "owner": process.owner,
        "roles": list(process.roles),
        "key_nodes": process.key_nodes,
        "avg_hours": process.avg_hours,
        "pain_points": list(process.pain_points),
        "priority": process.priority.value,
        "priority_manual": process.priority_manual,
        "value_score": process.scores.value if process.scores else None,
        "pain_score": process.scores.pain if process.scores else None,
        "ease_score": process.scores.ease if process.scores else None,
    }


def _from_row(row: Any) -> Process:
    scores = None
    if row.value_score is not None:
        scores = PriorityScores(value=row.value_score, pain=row.pain_score, ease=row.ease_score)
    return Process(
        id=ProcessId(row.id),
        name=row.name,
        department=row.department,
        system_support=row.system_support,
        owner=row.owner,
        roles=tuple(row.roles),
        key_nodes=row.key_nodes,
        avg_hours=Decimal(row.avg_hours).normalize() if row.avg_hours is not None else Decimal(0),
        pain_points=tuple(row.pain_points),
        priority=Priority(row.priority),
        priority_manual=row.priority_manual,
        scores=scores,
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class SqlProcessRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def get(self, process_id: ProcessId) -> Process | None:
        row = self._db.execute(select(processes).where(processes.c.id == process_id)).first()
        return _from_row(row) if row else None

    def add(self, process: Process, now: datetime) -> Process:
        values = _row_values(process) | {"version": 1, "created_at": now, "updated_at": now}
        if self.get(process.id) is not None:
            raise Conflict("process {id} already exists", id=process.id)
        try:
            with self._db.begin_nested():
                self._db.execute(insert(processes).values(**values))
        except IntegrityError as exc:
            raise Conflict("process {id} already exists", id=process.id) from exc
        return process.with_changes(version=1, created_at=now, updated_at=now)

    def update(self, process: Process, now: datetime) -> Process:
        result = self._db.execute(
            update(processes)
            .where(processes.c.id == process.id, processes.c.version == process.version)
            .values(**_row_values(process), version=process.version + 1, updated_at=now)
        )
        if result.rowcount != 1:
            if self.get(process.id) is None:
                raise NotFound("no process with id {id}", id=process.id)
            raise Conflict(
                "process {id} was changed by someone else since version {version}; reload and retry",
                id=process.id,
                version=process.version,
            )
        return process.with_changes(version=process.version + 1, updated_at=now)

    def delete(self, process_id: ProcessId) -> None:
        result = self._db.execute(delete(processes).where(processes.c.id == process_id))
        if result.rowcount != 1:
            raise NotFound("no process with id {id}", id=process_id)

    def query(self, query: ProcessQuery) -> tuple[list[Process], int]:
        conditions: list[ColumnElement[bool]] = []
        if query.search.strip():
            needle = f"%{_escape_like(query.search.strip().lower())}%"
            conditions.append(
                or_(
                    *(
                        func.lower(col).like(needle, escape="\\")
                        for col in (
                            processes.c.id,
                            processes.c.name,
                            processes.c.department,
                            processes.c.owner,
                            cast(processes.c.roles, String),
                            cast(processes.c.pain_points, String),
                        )
                    )
                )
            )
        if query.department:
            conditions.append(processes.c.department == query.department)
        if query.owner:
            conditions.append(processes.c.owner == query.owner)
        if query.priority:
            conditions.append(processes.c.priority == query.priority.value)
        total = self._db.execute(select(func.count()).select_from(processes).where(*conditions)).scalar_one()
        rows = self._db.execute(
            select(processes)
            .where(*conditions)
            .order_by(*self._order(query))
            .limit(query.limit)
            .offset(query.offset)
        ).all()
        return [_from_row(r) for r in rows], int(total)

    def _order(self, query: ProcessQuery) -> list[Any]:
        column: Any
        if query.sort is SortField.PRIORITY:
            column = case(_PRIORITY_RANK, value=processes.c.priority, else_=3)
        else:
            column = processes.c[query.sort.value]
        primary = column.desc() if query.descending else column.asc()
        return [primary, processes.c.id.asc()]

    def all(self) -> list[Process]:
        return [_from_row(r) for r in self._db.execute(select(processes).order_by(processes.c.id)).all()]

    def slas(self, process_id: ProcessId) -> tuple[NodeSla, ...]:
        rows = self._db.execute(
            select(process_slas.c.node, process_slas.c.duration)
            .where(process_slas.c.process_id == process_id)
            .order_by(process_slas.c.position)
        ).all()
        return tuple(NodeSla(r.node, r.duration) for r in rows)

    def all_slas(self) -> dict[ProcessId, tuple[NodeSla, ...]]:
        found: dict[ProcessId, list[NodeSla]] = {}
        rows = self._db.execute(
            select(process_slas).order_by(process_slas.c.process_id, process_slas.c.position)
        ).all()
        for r in rows:
            found.setdefault(ProcessId(r.process_id), []).append(NodeSla(r.node, r.duration))
        return {k: tuple(v) for k, v in found.items()}

    def replace_slas(self, process_id: ProcessId, slas: tuple[NodeSla, ...]) -> None:
        if self.get(process_id) is None:
            raise NotFound("no process with id {id}", id=process_id)
        self._db.execute(delete(process_slas).where(process_slas.c.process_id == process_id))
        if slas:
            self._db.execute(
                insert(process_slas),
                [
                    {"process_id": process_id, "position": i, "node": s.node, "duration": s.duration}
                    for i, s in enumerate(slas)
                ],
            )


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
