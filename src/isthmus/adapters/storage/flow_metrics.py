"""Read-only queries behind a flow's metrics: the outbox (``flow_messages``) aggregated in SQL.

Built to stay fast at millions of messages per flow (``bench/flow_metrics.py``). Three indexes of
``flow_messages`` carry it (migration 0014):

- ``(flow_id, state, delivered_at, created_at)``: counts by state (an index-only count), the last
  delivery (one seek) and the oldest backlog message (one seek per backlog state);
- ``(flow_id, created_at, delivered_at, state)``: everything over a time window — the chart's buckets
  and the latency percentiles — read from the index alone, never from the rows with their payloads;
- a partial index of the chunk messages only (``idempotency_key LIKE 'chunk:%'``), which are few: a
  chunk carries many records (its row count is in its key) and every figure counts records, so the
  queries above count each message once and the chunks' extra records are added from this index.

Percentiles use the nearest-rank definition (the ``ceil(q·n)``-th smallest value, records weighted).
PostgreSQL computes them exactly in SQL (``percentile_disc`` over every delivery of the window).
SQLite has no percentile aggregate: it reads the latencies of the window's newest
:data:`LATENCY_SAMPLE` deliveries (newest first, in index order: no sort of the window) and ranks them
here — exact whenever the window holds fewer deliveries, which the default 24 h window does below
100,000 deliveries a day; otherwise the percentiles describe the newest 100,000 and say so
(``exact`` False).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Integer,
    and_,
    bindparam,
    case,
    cast,
    func,
    select,
    text,
)

from isthmus.adapters.storage.tables import CHUNK_KEYS, UtcDateTime, flow_messages
from isthmus.integration import FlowMessage, MessageState, records_in
from isthmus.services.flow_metrics import Latency, MessageSummary, TimelineBucket

_m = flow_messages
_FAILED = (MessageState.DEAD_LETTERED.value, MessageState.DISCARDED.value)
_BACKLOG = (MessageState.PENDING.value, MessageState.RETRYING.value)
# The partial index's own predicate, spelled identically (literal, not a bound parameter) so that
# both planners see the query implies it.
_CHUNK = text(CHUNK_KEYS)
LATENCY_SAMPLE = 100_000  # SQLite: deliveries of the window the percentiles read at most


def _latency_ms(dialect: str) -> ColumnElement[Any]:
    """Milliseconds from acceptance to delivery (PostgreSQL: ``date_part`` is double precision;
    ``extract`` answers numeric, several times slower to aggregate)."""
    if dialect == "sqlite":
        return (func.julianday(_m.c.delivered_at) - func.julianday(_m.c.created_at)) * 86_400_000.0
    return func.date_part("epoch", _m.c.delivered_at - _m.c.created_at) * 1000.0


def _epoch_s(dialect: str) -> ColumnElement[Any]:
    """Seconds since 1970 of ``created_at`` (UTC: SQLite keeps naive UTC, PostgreSQL timestamptz)."""
    if dialect == "sqlite":  # julianday is much cheaper than strftime('%s'); 2440587.5 = 1970-01-01
        return (func.julianday(_m.c.created_at) - 2440587.5) * 86_400.0
    return func.date_part("epoch", _m.c.created_at)


# PostgreSQL: every delivery of the window once — read from the window index alone, no row visited —
# and a chunk's further records as repeats of its latency (generate_series over the few chunk rows of
# the partial index), ranked by percentile_disc: the nearest rank, as on SQLite.
_PG_PERCENTILES = text(
    """
    SELECT count(*), percentile_disc(CAST(:quantiles AS float8[])) WITHIN GROUP (ORDER BY lat)
    FROM (
        SELECT date_part('epoch', delivered_at - created_at) * 1000.0 AS lat
        FROM flow_messages
        WHERE flow_id = :flow AND created_at >= :since AND delivered_at IS NOT NULL
        UNION ALL
        SELECT date_part('epoch', c.delivered_at - c.created_at) * 1000.0
        FROM flow_messages AS c
        CROSS JOIN generate_series(2, CASE WHEN c.idempotency_key ~ '^chunk:[^:]*:[0-9]+:[^:]*$'
                                           THEN split_part(c.idempotency_key, ':', 3)::bigint ELSE 1 END)
        WHERE c.flow_id = :flow AND c.created_at >= :since AND c.delivered_at IS NOT NULL
          AND c.idempotency_key LIKE 'chunk:%'
    ) AS weighted
    """
)


class SqlFlowMetrics:
    """:class:`isthmus.services.flow_metrics.FlowMetricsQueries` on SQL; opens a connection per call."""

    def __init__(self, engine: Engine, latency_sample: int = LATENCY_SAMPLE) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name
        self._latency_sample = latency_sample

    def summary(self, flow_id: str) -> MessageSummary:
        flow = _m.c.flow_id == flow_id

        def seek(aggregate: Any, *where: ColumnElement[bool]) -> Any:
            return select(aggregate).where(flow, *where).scalar_subquery()

        backlog = [
            seek(func.min(_m.c.created_at), _m.c.state == state, _m.c.delivered_at.is_(None))
            for state in _BACKLOG
        ]
        times = select(
            seek(func.max(_m.c.created_at)),
            seek(func.max(_m.c.delivered_at), _m.c.state == MessageState.DELIVERED.value),
            *backlog,
        )
        with self._engine.connect() as db:
            counts = {
                MessageState(state): int(n)
                for state, n in db.execute(select(_m.c.state, func.count()).where(flow).group_by(_m.c.state))
            }
            for state, key in db.execute(select(_m.c.state, _m.c.idempotency_key).where(flow, _CHUNK)):
                counts[MessageState(state)] += records_in(key) - 1
            row = db.execute(times).one()
        oldest = [t for t in (_utc(row[2]), _utc(row[3])) if t is not None]
        return MessageSummary(
            counts=counts,
            last_accepted=_utc(row[0]),
            last_delivered=_utc(row[1]),
            oldest_backlog=min(oldest) if oldest else None,
        )

    def latency_percentiles(self, flow_id: str, quantiles: Iterable[float], *, since: datetime) -> Latency:
        wanted = list(quantiles)
        if self._dialect == "postgresql":
            with self._engine.connect() as db:
                n, values = db.execute(
                    _PG_PERCENTILES, {"flow": flow_id, "since": since, "quantiles": wanted}
                ).one()
            if not n:
                return Latency(0, {}, exact=True)
            found = {q: max(0.0, float(v)) for q, v in zip(wanted, values, strict=True)}
            return Latency(int(n), found, exact=True)
        return self._sampled_percentiles(flow_id, wanted, since)

    def _sampled_percentiles(self, flow_id: str, quantiles: list[float], since: datetime) -> Latency:
        # Only the latency values come back (no timestamps to parse row by row: that cost more than
        # the query); the sample's oldest acceptance time is looked up once when the bound cuts.
        latency = _latency_ms(self._dialect)
        window = and_(_m.c.flow_id == flow_id, _m.c.created_at >= since, _m.c.delivered_at.is_not(None))
        newest = select(latency).where(window).order_by(_m.c.created_at.desc())
        with self._engine.connect() as db:
            values = db.execute(newest.limit(self._latency_sample + 1)).scalars().all()
            exact = len(values) <= self._latency_sample
            values = values[: self._latency_sample]
            extra: list[tuple[float, int]] = []
            floor: Any = since
            if not exact and values:
                floor = db.execute(
                    select(_m.c.created_at)
                    .where(window)
                    .order_by(_m.c.created_at.desc())
                    .offset(self._latency_sample - 1)
                    .limit(1)
                ).scalar_one()
            if values:  # a chunk's further records; when sampling, only the chunks inside the sample
                chunks = select(latency, _m.c.idempotency_key).where(window, _m.c.created_at >= floor, _CHUNK)
                extra = [
                    (float(v), records_in(key) - 1) for v, key in db.execute(chunks) if records_in(key) > 1
                ]
        total, found = _nearest_ranks(sorted(float(v) for v in values), sorted(extra), quantiles)
        return Latency(total, {q: max(0.0, v) for q, v in found.items()}, exact=exact)

    def timeline(self, flow_id: str, *, since: datetime, bucket_s: int) -> list[TimelineBucket]:
        bucket = cast(func.floor(_epoch_s(self._dialect) / bucket_s), Integer).label("bucket")
        latency = _latency_ms(self._dialect)
        window = and_(_m.c.flow_id == flow_id, _m.c.created_at >= since)
        figures = (
            func.count(),
            func.sum(case((_m.c.state.in_(_FAILED), 1), else_=0)),
            func.count(_m.c.delivered_at),
            func.avg(latency),
            func.max(latency),
        )
        chunks = select(_m.c.created_at, _m.c.state, latency, _m.c.idempotency_key).where(window, _CHUNK)
        found: dict[int, _Bar] = {}
        with self._engine.connect() as db:
            if self._dialect == "sqlite":
                rows = self._sqlite_buckets(db, flow_id, since, bucket_s, figures)
            else:
                rows = [tuple(r) for r in db.execute(select(bucket, *figures).where(window).group_by(bucket))]
            for b, n, failed, delivered, avg, top in rows:
                if n:
                    found[int(b)] = _Bar(
                        int(n), int(failed or 0), int(delivered), float(avg or 0) * int(delivered), top
                    )
            for at, state, value, key in db.execute(chunks):  # bucketed here, by the exact time
                b = int(at.timestamp()) // bucket_s
                found.setdefault(b, _Bar()).add(records_in(key) - 1, state, value)
        return [found[b].bucket(b * bucket_s) for b in sorted(found)]

    @staticmethod
    def _sqlite_buckets(
        db: Connection, flow_id: str, since: datetime, bucket_s: int, figures: tuple[Any, ...]
    ) -> list[tuple[Any, ...]]:
        """SQLite: one range query per bar instead of GROUP BY (which sorts the whole window in a
        temporary B-tree: ~40 % slower at 1M rows); each reads its slice of the window's index."""
        last = db.execute(select(func.max(_m.c.created_at)).where(_m.c.flow_id == flow_id)).scalar()
        end = _utc(last)
        if end is None or end < since:
            return []
        one = select(*figures).where(
            _m.c.flow_id == flow_id,
            _m.c.created_at >= bindparam("start", type_=UtcDateTime()),
            _m.c.created_at < bindparam("stop", type_=UtcDateTime()),
        )
        rows = []
        b = int(since.timestamp()) // bucket_s
        while b * bucket_s <= end.timestamp():
            start = max(since, datetime.fromtimestamp(b * bucket_s, tz=UTC))
            stop = datetime.fromtimestamp((b + 1) * bucket_s, tz=UTC)
            rows.append((b, *db.execute(one, {"start": start, "stop": stop}).one()))
            b += 1
        return rows

    def counts_by_flow(self) -> dict[str, dict[MessageState, int]]:
        found: dict[str, dict[MessageState, int]] = {}
        every = select(_m.c.flow_id, _m.c.state, func.count()).group_by(_m.c.flow_id, _m.c.state)
        chunks = select(_m.c.flow_id, _m.c.state, _m.c.idempotency_key).where(_CHUNK)
        with self._engine.connect() as db:
            for flow_id, state, n in db.execute(every):
                found.setdefault(flow_id, {})[MessageState(state)] = int(n)
            for flow_id, state, key in db.execute(chunks):
                found[flow_id][MessageState(state)] += records_in(key) - 1
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
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _nearest_ranks(
    values: list[float], extra: list[tuple[float, int]], quantiles: Iterable[float]
) -> tuple[int, dict[float, float]]:
    """For each q the ``ceil(q·n)``-th smallest value: ``values`` (sorted) count once each, ``extra``
    (sorted ``(value, weight)``) ``weight`` times more; ``n`` is the total weight. A merge of the two,
    so the common case — few or no chunk messages — costs a look-up in plain sorted floats."""
    total = len(values) + sum(w for _, w in extra)
    if total == 0:
        return 0, {}
    found: dict[float, float] = {}
    for q in quantiles:
        rank = max(1, math.ceil(q * total))
        seen, i = 0, 0  # weight counted so far; values[:i] counted
        for value, weight in extra:
            below = bisect.bisect_right(values, value, lo=i)
            if seen + below - i >= rank:
                break
            seen, i = seen + below - i + weight, below
            if seen >= rank:
                found[q] = value
                break
        if q not in found:
            found[q] = values[i + rank - seen - 1]
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
