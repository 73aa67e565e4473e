"""Retention's deletes on SQL (``services/retention.py``): bounded batches, one transaction each.

Each batch deletes ``WHERE id IN (SELECT id … LIMIT n)``: a short write transaction (on SQLite the
write lock is held for one batch, not for the whole purge). Delivered messages are found per flow on
the flow metrics' index ``(flow_id, state, delivered_at, …)``; finished jobs on ``(state, run_at)``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, Engine, and_, delete, func, not_, or_, select, text

from isthmus.adapters.storage.tables import CHUNK_KEYS, flow_messages, integration_flows, jobs
from isthmus.integration import MessageState, chunk_file
from isthmus.jobs import JobState
from isthmus.services.retention import KEEP_DEDUPE

_FINISHED = (JobState.DONE.value, JobState.CANCELLED.value)


def _finished_jobs(before: datetime) -> ColumnElement[bool]:
    keep = or_(*(jobs.c.dedupe_key.like(pattern) for pattern in KEEP_DEDUPE))
    return and_(
        jobs.c.state.in_(_FINISHED),
        jobs.c.updated_at < before,
        or_(jobs.c.dedupe_key.is_(None), not_(keep)),
    )


def _delivered(flow_id: str, before: datetime) -> ColumnElement[bool]:
    return and_(
        flow_messages.c.flow_id == flow_id,
        flow_messages.c.state == MessageState.DELIVERED.value,
        flow_messages.c.delivered_at < before,
    )


class SqlRetention:
    """:class:`isthmus.services.retention.RetentionStore` on SQL."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def count_jobs(self, before: datetime) -> int:
        with self._engine.connect() as db:
            return int(db.execute(select(func.count()).where(_finished_jobs(before))).scalar_one())

    def purge_jobs(self, before: datetime, limit: int) -> int:
        batch = select(jobs.c.id).where(_finished_jobs(before)).limit(limit).scalar_subquery()
        with self._engine.begin() as db:
            return int(db.execute(delete(jobs).where(jobs.c.id.in_(batch))).rowcount)

    def _flows(self) -> list[str]:
        with self._engine.connect() as db:
            return list(db.execute(select(integration_flows.c.flow_id).distinct()).scalars())

    def count_messages(self, before: datetime) -> int:
        with self._engine.connect() as db:
            return sum(
                int(db.execute(select(func.count()).where(_delivered(flow, before))).scalar_one())
                for flow in self._flows()
            )

    def purge_messages(self, before: datetime, limit: int) -> int:
        deleted = 0
        for flow in self._flows():
            if deleted >= limit:
                break
            batch = (
                select(flow_messages.c.id)
                .where(_delivered(flow, before))
                .limit(limit - deleted)
                .scalar_subquery()
            )
            with self._engine.begin() as db:
                deleted += int(
                    db.execute(delete(flow_messages).where(flow_messages.c.id.in_(batch))).rowcount
                )
        return deleted

    def chunk_files_in_use(self) -> set[str]:
        """Files named by chunk messages that may still be delivered or replayed (pending, retrying,
        dead-lettered); the partial index on chunk messages keeps this small."""
        done = (MessageState.DELIVERED.value, MessageState.DISCARDED.value)
        query = select(flow_messages.c.payload).where(text(CHUNK_KEYS), flow_messages.c.state.not_in(done))
        with self._engine.connect() as db:
            names = (chunk_file(payload) for payload in db.execute(query).scalars())
            return {name for name in names if name}
