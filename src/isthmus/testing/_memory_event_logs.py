"""An in-memory :class:`~isthmus.services.ports.EventLogRepository` (registry rows only; the
Parquet files are the service's business)."""

from __future__ import annotations

import dataclasses

from isthmus.errors import Conflict
from isthmus.mining import StoredLog


class InMemoryEventLogRepository:
    """Registered logs by id, with the port's contract.

    Example:
        >>> InMemoryEventLogRepository().list()
        []
    """

    def __init__(self, rows: dict[str, StoredLog] | None = None) -> None:
        self._rows: dict[str, StoredLog] = {} if rows is None else rows

    def add(self, log: StoredLog) -> StoredLog:
        if log.id in self._rows:
            raise Conflict("an event log with id {id} exists", id=log.id)
        self._rows[log.id] = log
        return log

    def get(self, log_id: str) -> StoredLog | None:
        return self._rows.get(log_id)

    def list(self) -> list[StoredLog]:
        return sorted(self._rows.values(), key=lambda r: (-r.imported_at.timestamp(), r.id))

    def link(self, log_id: str, process_id: str | None) -> None:
        if log_id in self._rows:
            self._rows[log_id] = dataclasses.replace(self._rows[log_id], process_id=process_id)
