"""Read-only queries behind a flow's metrics: the outbox (``flow_messages``) aggregated in SQL.

Everything is counted and bucketed by the database, so a flow with millions of messages costs a few
aggregate queries, not a transfer of its rows. SQLite and PostgreSQL spell date arithmetic
differently; the two expressions below are the only dialect-specific parts. Percentiles use the
nearest-rank definition (the ``ceil(q·n)``-th smallest value) over at most :data:`LATENCY_SAMPLE`
values, sorted in Python so both databases answer the same number.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, Float, Integer, case, cast, func, select

from isthmus.adapters.storage.tables import flow_messages
from isthmus.integration import FlowMessage, MessageState
from isthmus.services.flow_metrics import MessageSummary, TimelineBucket

_m = flow_messages
_FAILED = (MessageState.DEAD_LETTERED.value, MessageState.DISCARDED.value)
LATENCY_SAMPLE = 500_000  # deliveries of the window the percentiles read (exact below this)


def _latency_ms(dialect: str) -> ColumnElement[Any]:
    """Milliseconds from acceptance to delivery."""
    if dialect == "sqlite":
        return (func.julianday(_m.c.delivered_at) - func.julianday(_m.c.created_at)) * 86_400_000.0
    return func.extract("epoch", _m.c.delivered_at - _m.c.created_at) * 1000.0


def _epoch_s(dialect: str) -> ColumnElement[Any]:
    """Seconds since 1970 of ``created_at`` (UTC: SQLite keeps naive UTC, PostgreSQL timestamptz)."""
    if dialect == "sqlite":  # julianday is much cheaper than strftime('%s'); 2440587.5 = 1970-01-01
        return (func.julianday(_m.c.created_at) - 2440587.5) * 86_400.0
    return func.extract("epoch", _m.c.created_at)


class SqlFlowMetrics:
    """:class:`isthmus.services.flow_metrics.FlowMetricsQueries` on SQL; opens a connection per call."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name

    def summary(self, flow_id: str) -> MessageSummary:
        with self._engine.connect() as db:
            counts = {
                MessageState(state): int(n)
                for state, n in db.execute(
                    select(_m.c.state, func.count()).where(_m.c.flow_id == flow_id).group_by(_m.c.state)
                )
            }
            row = db.execute(
                select(
                    func.max(_m.c.created_at),
                    func.max(_m.c.delivered_at),
                    func.min(
                        case(
                            (
                                _m.c.state.in_([MessageState.PENDING.value, MessageState.RETRYING.value]),
                                _m.c.created_at,
                            )
                        )
                    ),
                ).where(_m.c.flow_id == flow_id)
            ).one()
        return MessageSummary(
            counts=counts,
            last_accepted=_utc(row[0]),
            last_delivered=_utc(row[1]),
            oldest_backlog=_utc(row[2]),
        )

    def latency_percentiles(
        self, flow_id: str, quantiles: Iterable[float], *, since: datetime
    ) -> tuple[int, dict[float, float]]:
        # One unordered pass reading at most LATENCY_SAMPLE values, sorted here: three ORDER BY … OFFSET
        # queries over a computed expression took seconds on 200,000 messages in SQLite, and ordering
        # by id (to take the newest) costs a temporary B-tree of the whole window.
        latency = _latency_ms(self._dialect)
        delivered = (_m.c.flow_id == flow_id) & (_m.c.delivered_at.is_not(None)) & (_m.c.created_at >= since)
        query = select(cast(latency, Float)).where(delivered).limit(LATENCY_SAMPLE)
        with self._engine.connect() as db:
            values = sorted(max(0.0, float(v)) for v in db.execute(query).scalars())
        if not values:
            return 0, {}
        count = len(values)
        return count, {q: values[max(1, math.ceil(q * count)) - 1] for q in quantiles}  # nearest rank

    def timeline(self, flow_id: str, *, since: datetime, bucket_s: int) -> list[TimelineBucket]:
        epoch = _epoch_s(self._dialect)
        bucket = cast(func.floor(epoch / bucket_s), Integer).label("bucket")
        latency = _latency_ms(self._dialect)
        query = (
            select(
                bucket,
                func.count(),
                func.sum(case((_m.c.state.in_(_FAILED), 1), else_=0)),
                func.count(_m.c.delivered_at),
                func.avg(latency),
                func.max(latency),
            )
            .where((_m.c.flow_id == flow_id) & (_m.c.created_at >= since))
            .group_by(bucket)
            .order_by(bucket)
        )
        with self._engine.connect() as db:
            rows = db.execute(query).all()
        return [
            TimelineBucket(
                start_s=int(b) * bucket_s,
                messages=int(n),
                failures=int(failed or 0),
                delivered=int(delivered),
                latency_avg_ms=None if avg is None else max(0.0, float(avg)),
                latency_max_ms=None if top is None else max(0.0, float(top)),
            )
            for b, n, failed, delivered, avg, top in rows
        ]

    def counts_by_flow(self) -> dict[str, dict[MessageState, int]]:
        query = select(_m.c.flow_id, _m.c.state, func.count()).group_by(_m.c.flow_id, _m.c.state)
        found: dict[str, dict[MessageState, int]] = {}
        with self._engine.connect() as db:
            for flow_id, state, n in db.execute(query):
                found.setdefault(flow_id, {})[MessageState(state)] = int(n)
        return found

    def recent(self, flow_id: str, limit: int) -> list[FlowMessage]:
        query = select(_m).where(_m.c.flow_id == flow_id).order_by(_m.c.id.desc()).limit(limit)
        with self._engine.connect() as db:
            return [_message(row) for row in db.execute(query)]


def _message(row: Any) -> FlowMessage:
    # Own copy of the row mapping: the delivery repository's is private and changes with delivery work.
    return FlowMessage(
        id=row.id,
        flow_id=row.flow_id,
        idempotency_key=row.idempotency_key,
        state=MessageState(row.state),
        payload=row.payload,
        display=row.display,
        attempts=row.attempts,
        last_error=row.last_error,
        row_number=row.row_number,
        created_at=row.created_at,
        updated_at=row.updated_at,
        delivered_at=row.delivered_at,
    )


def _utc(value: datetime | str | None) -> datetime | None:
    """Aggregates bypass the column type: SQLite returns text, both may return naive values."""
    from datetime import UTC

    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
