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
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Float, Integer, case, cast, func, select

from isthmus.adapters.storage.tables import flow_messages
from isthmus.integration import FlowMessage, MessageState, records_in
from isthmus.services.flow_metrics import MessageSummary, TimelineBucket

_m = flow_messages
_FAILED = (MessageState.DEAD_LETTERED.value, MessageState.DISCARDED.value)
_SINGLE = _m.c.idempotency_key.not_like("chunk:%")  # a message of one record; else a chunk of rows
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
            counts = _records_by_state(db, _m.c.flow_id == flow_id)
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
        # by id (to take the newest) costs a temporary B-tree of the whole window. A chunk message's
        # latency counts once per record it carries.
        latency = cast(_latency_ms(self._dialect), Float)
        delivered = (_m.c.flow_id == flow_id) & (_m.c.delivered_at.is_not(None)) & (_m.c.created_at >= since)
        with self._engine.connect() as db:
            weighted = [
                (max(0.0, float(v)), 1)
                for v in db.execute(
                    select(latency).where(delivered & _SINGLE).limit(LATENCY_SAMPLE)
                ).scalars()
            ]
            weighted += [
                (max(0.0, float(v)), records_in(key))
                for v, key in db.execute(select(latency, _m.c.idempotency_key).where(delivered & ~_SINGLE))
            ]
        return _nearest_ranks(weighted, quantiles)

    def timeline(self, flow_id: str, *, since: datetime, bucket_s: int) -> list[TimelineBucket]:
        bucket = cast(func.floor(_epoch_s(self._dialect) / bucket_s), Integer).label("bucket")
        latency = _latency_ms(self._dialect)
        window = (_m.c.flow_id == flow_id) & (_m.c.created_at >= since)
        singles = (
            select(
                bucket,
                func.count(),
                func.sum(case((_m.c.state.in_(_FAILED), 1), else_=0)),
                func.count(_m.c.delivered_at),
                func.avg(latency),
                func.max(latency),
            )
            .where(window & _SINGLE)
            .group_by(bucket)
        )
        chunks = select(bucket, _m.c.state, latency, _m.c.idempotency_key).where(window & ~_SINGLE)
        found: dict[int, _Bar] = {}
        with self._engine.connect() as db:
            for b, n, failed, delivered, avg, top in db.execute(singles):
                found[int(b)] = _Bar(
                    int(n), int(failed or 0), int(delivered), float(avg or 0) * int(delivered), top
                )
            for b, state, value, key in db.execute(chunks):
                found.setdefault(int(b), _Bar()).add(records_in(key), state, value)
        return [found[b].bucket(b * bucket_s) for b in sorted(found)]

    def counts_by_flow(self) -> dict[str, dict[MessageState, int]]:
        found: dict[str, dict[MessageState, int]] = {}
        single = (
            select(_m.c.flow_id, _m.c.state, func.count()).where(_SINGLE).group_by(_m.c.flow_id, _m.c.state)
        )
        chunks = select(_m.c.flow_id, _m.c.state, _m.c.idempotency_key).where(~_SINGLE)
        with self._engine.connect() as db:
            for flow_id, state, n in db.execute(single):
                found.setdefault(flow_id, {})[MessageState(state)] = int(n)
            for flow_id, state, key in db.execute(chunks):
                counts = found.setdefault(flow_id, {})
                counts[MessageState(state)] = counts.get(MessageState(state), 0) + records_in(key)
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


def _records_by_state(db: Connection, where: ColumnElement[bool]) -> dict[MessageState, int]:
    """Records per state: a chunk message (one message, many rows) counts the rows in its key."""
    counts = {
        MessageState(state): int(n)
        for state, n in db.execute(
            select(_m.c.state, func.count()).where(where & _SINGLE).group_by(_m.c.state)
        )
    }
    for state, key in db.execute(select(_m.c.state, _m.c.idempotency_key).where(where & ~_SINGLE)):
        counts[MessageState(state)] = counts.get(MessageState(state), 0) + records_in(key)
    return counts


def _nearest_ranks(
    weighted: list[tuple[float, int]], quantiles: Iterable[float]
) -> tuple[int, dict[float, float]]:
    """For each q the ``ceil(q·n)``-th smallest value, ``n`` the total weight."""
    weighted.sort()
    total = sum(w for _, w in weighted)
    if total == 0:
        return 0, {}
    found: dict[float, float] = {}
    for q in quantiles:
        rank, seen = max(1, math.ceil(q * total)), 0
        for value, weight in weighted:
            seen += weight
            if seen >= rank:
                found[q] = value
                break
    return total, found


@dataclass
class _Bar:
    """One chart bar being summed: single messages from SQL, chunk messages added row-weighted."""

    messages: int = 0
    failures: int = 0
    delivered: int = 0
    latency_sum: float = 0.0
    latency_max: float | None = None

    def add(self, records: int, state: str, latency: float | None) -> None:
        self.messages += records
        self.failures += records if state in _FAILED else 0
        if latency is not None:
            self.delivered += records
            self.latency_sum += float(latency) * records
            self.latency_max = max(float(latency), self.latency_max or float(latency))

    def bucket(self, start_s: int) -> TimelineBucket:
        return TimelineBucket(
            start_s=start_s,
            messages=self.messages,
            failures=self.failures,
            delivered=self.delivered,
            latency_avg_ms=max(0.0, self.latency_sum / self.delivered) if self.delivered else None,
            latency_max_ms=None if self.latency_max is None else max(0.0, float(self.latency_max)),
        )
