"""The hash-chained audit trail on SQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, insert, select, update

from isthmus.adapters.storage.tables import audit_head, audit_log
from isthmus.security import GENESIS_HASH, AuditEvent, AuditRecord, chain

HEAD_ID = 1
_STREAM_BATCH = 1000


def _record(row: Any) -> AuditRecord:
    event = AuditEvent(
        actor=row.actor,
        action=row.action,
        object_type=row.object_type,
        object_id=row.object_id,
        before=row.before,
        after=row.after,
        at=row.at,
    )
    return AuditRecord(seq=row.seq, event=event, prev_hash=row.prev_hash, hash=row.hash)


class SqlAuditRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def append(self, event: AuditEvent) -> AuditRecord:
        # FOR UPDATE serialises appenders on PostgreSQL; SQLite ignores it, but there every write
        # transaction already holds the database's write lock (BEGIN IMMEDIATE).
        row = self._db.execute(
            select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == HEAD_ID).with_for_update()
        ).first()
        if row is None:
            self._db.execute(insert(audit_head).values(id=HEAD_ID, seq=0, hash=GENESIS_HASH))
            last_seq, last_hash = 0, GENESIS_HASH
        else:
            last_seq, last_hash = int(row.seq), str(row.hash)
        record = chain(last_seq + 1, event, last_hash)
        self._db.execute(
            insert(audit_log).values(
                seq=record.seq,
                at=event.at,
                actor=event.actor,
                action=event.action,
                object_type=event.object_type,
                object_id=event.object_id,
                before=event.before,
                after=event.after,
                prev_hash=record.prev_hash,
                hash=record.hash,
            )
        )
        self._db.execute(
            update(audit_head).where(audit_head.c.id == HEAD_ID).values(seq=record.seq, hash=record.hash)
        )
        return record

    def records(self) -> Iterator[AuditRecord]:
        # Keyset pagination: constant memory however long the trail is.
        after = 0
        while True:
            rows = self._db.execute(
                select(audit_log)
                .where(audit_log.c.seq > after)
                .order_by(audit_log.c.seq)
                .limit(_STREAM_BATCH)
            ).all()
            if not rows:
                return
            for row in rows:
                yield _record(row)
            after = rows[-1].seq

    def head(self) -> tuple[int, str] | None:
        """None while nothing was appended (the head row migration 0001 seeds holds sequence 0)."""
        row = self._db.execute(
            select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == HEAD_ID)
        ).first()
        if row is None or int(row.seq) == 0:
            return None
        return int(row.seq), str(row.hash)

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
        conditions: list[ColumnElement[bool]] = []
        if actor:
            conditions.append(audit_log.c.actor == actor)
        if action:
            conditions.append(audit_log.c.action.startswith(action, autoescape=True))
        if object_type:
            conditions.append(audit_log.c.object_type == object_type)
        if object_id:
            conditions.append(audit_log.c.object_id == object_id)
        if since:
            conditions.append(audit_log.c.at >= since)
        if until:
            conditions.append(audit_log.c.at < until)
        total = self._db.execute(select(func.count()).select_from(audit_log).where(*conditions)).scalar_one()
        rows = self._db.execute(
            select(audit_log).where(*conditions).order_by(audit_log.c.seq.desc()).limit(limit).offset(offset)
        ).all()
        return [_record(r) for r in rows], int(total)
