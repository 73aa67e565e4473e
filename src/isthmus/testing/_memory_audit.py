"""The hash-chained audit trail in memory, like ``adapters/storage/audit.py``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime

from isthmus.security import GENESIS_HASH, AuditEvent, AuditRecord, chain
from isthmus.testing._memory_tables import Tables, fresh, json_value, utc


class InMemoryAuditRepository:
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    def append(self, event: AuditEvent) -> AuditRecord:
        # Appenders are serialised by the store's lock, held for the whole unit of work.
        last_seq, last_hash = self._t.audit_head or (0, GENESIS_HASH)
        record = chain(last_seq + 1, event, last_hash)
        # Store what the SQL columns would give back: UTC time, before/after through JSON.
        stored_event = replace(
            event, at=utc(event.at), before=json_value(event.before), after=json_value(event.after)
        )
        self._t.audit_log.append(replace(record, event=stored_event))
        self._t.audit_head = (record.seq, record.hash)
        return record

    def records(self) -> Iterator[AuditRecord]:
        for record in tuple(self._t.audit_log):
            yield fresh(record)

    def head(self) -> tuple[int, str] | None:
        return self._t.audit_head

    def search(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        object_type: str | None = None,
        object_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[AuditRecord], int]:
        """Newest first. ``action`` is a prefix; ``since`` is inclusive, ``until`` exclusive."""

        def wanted(record: AuditRecord) -> bool:
            event = record.event
            return (
                (not actor or event.actor == actor)
                and (not action or event.action.startswith(action))
                and (not object_type or event.object_type == object_type)
                and (not object_id or event.object_id == object_id)
                and (not since or event.at >= since)
                and (not until or event.at < until)
            )

        found = [r for r in reversed(self._t.audit_log) if wanted(r)]
        return [fresh(r) for r in found[offset : offset + limit]], len(found)
