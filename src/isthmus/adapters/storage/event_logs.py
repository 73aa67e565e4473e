"""The event-log registry on SQL: one row per imported log (the events live in Parquet files)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from isthmus.adapters.storage.tables import event_logs
from isthmus.errors import Conflict
from isthmus.mining import LogStatistics, StoredLog

_t = event_logs


def _from_row(row: Any) -> StoredLog:
    return StoredLog(
        id=row.id,
        name=row.name,
        file=row.file,
        source_format=row.source_format,
        statistics=LogStatistics(
            events=row.events,
            cases=row.cases,
            activities=row.activities,
            variants=row.variants,
            first_event=row.first_event,
            last_event=row.last_event,
            columns=tuple(row.columns),
        ),
        imported_at=row.imported_at,
        imported_by=row.imported_by,
        process_id=row.process_id,
    )


class SqlEventLogRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def add(self, log: StoredLog) -> StoredLog:
        s = log.statistics
        values = {
            "id": log.id,
            "name": log.name,
            "file": log.file,
            "source_format": log.source_format,
            "events": s.events,
            "cases": s.cases,
            "activities": s.activities,
            "variants": s.variants,
            "first_event": s.first_event,
            "last_event": s.last_event,
            "columns": list(s.columns),
            "imported_at": log.imported_at,
            "imported_by": log.imported_by,
            "process_id": log.process_id,
        }
        try:
            with self._db.begin_nested():
                self._db.execute(insert(_t).values(**values))
        except IntegrityError as exc:
            raise Conflict("an event log with id {id} exists", id=log.id) from exc
        stored = self.get(log.id)
        assert stored is not None
        return stored

    def get(self, log_id: str) -> StoredLog | None:
        row = self._db.execute(select(_t).where(_t.c.id == log_id)).first()
        return _from_row(row) if row else None

    def list(self) -> list[StoredLog]:
        rows = self._db.execute(select(_t).order_by(_t.c.imported_at.desc(), _t.c.id)).all()
        return [_from_row(r) for r in rows]

    def link(self, log_id: str, process_id: str | None) -> None:
        self._db.execute(update(_t).where(_t.c.id == log_id).values(process_id=process_id))
