"""Per-flow metrics for table 2 and the flow page: messages, failures, latency percentiles, last run,
backlog, and the same over time for a chart.

Read-only: it never takes a write lock and never touches the delivery path (``FlowService``), so a
busy flow page cannot slow deliveries down. The numbers come from a small port,
:class:`FlowMetricsQueries`, that a database answers with aggregates (the SQL adapter is
``isthmus.adapters.storage.flow_metrics``).

Definitions: *failures* are dead-lettered plus discarded messages; *backlog* is pending plus retrying;
*latency* is acceptance → delivery of the messages accepted in the window, percentiles by nearest rank.

Cost at volume: the counts and times are all-time but read from indexes (an index-only count by
state, seeks for the times); the chart and the percentiles read only the window (default the last
24 h). Percentiles are exact on PostgreSQL; on SQLite they read at most the window's newest 100,000
deliveries, and the report says whether they covered the whole window (``latency_exact``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from isthmus.errors import InvalidInput
from isthmus.integration import FlowMessage, MessageState
from isthmus.security import Principal
from isthmus.services.ports import Clock

QUANTILES = (0.5, 0.95, 0.99)


@dataclass(frozen=True, slots=True)
class Window:
    """How far back the chart and the percentiles look, and the width of one chart bar."""

    name: str
    span: timedelta
    bucket_s: int


WINDOWS = {
    "1h": Window("1h", timedelta(hours=1), 60),
    "24h": Window("24h", timedelta(hours=24), 3600),
    "7d": Window("7d", timedelta(days=7), 6 * 3600),
    "30d": Window("30d", timedelta(days=30), 86_400),
}
DEFAULT_WINDOW = "24h"


@dataclass(frozen=True, slots=True)
class MessageSummary:
    """All-time counts per state and the times that say whether a flow is alive."""

    counts: dict[MessageState, int]
    last_accepted: datetime | None
    last_delivered: datetime | None
    oldest_backlog: datetime | None


@dataclass(frozen=True, slots=True)
class Latency:
    """Nearest-rank latency percentiles of a window's deliveries (in records: a chunk counts its rows).

    ``sample``: how many records the percentiles were ranked over; ``exact``: whether that was every
    delivery of the window (False when a bounded method read only the newest ones)."""

    sample: int
    percentiles: dict[float, float]
    exact: bool = True


@dataclass(frozen=True, slots=True)
class TimelineBucket:
    """Messages accepted in one bar of the chart (``start_s``: seconds since 1970, UTC)."""

    start_s: int
    messages: int = 0
    failures: int = 0
    delivered: int = 0
    latency_avg_ms: float | None = None
    latency_max_ms: float | None = None


class FlowMetricsQueries(Protocol):
    """Aggregates over one flow's outbox messages.

    ``summary`` counts every message of the flow by state. ``latency_percentiles`` ranks the
    deliveries of the messages accepted at or after ``since``: for each quantile q the ``ceil(q·n)``-th
    smallest acceptance→delivery time in milliseconds (nothing when n = 0), over all of them or, where
    the database has no percentile aggregate, over a bounded newest part (``exact`` False). ``timeline`` groups the
    messages accepted at or after ``since`` into buckets of ``bucket_s`` seconds aligned to the Unix
    epoch, oldest first, omitting empty buckets.
    """

    def summary(self, flow_id: str) -> MessageSummary: ...

    def latency_percentiles(
        self, flow_id: str, quantiles: Iterable[float], *, since: datetime
    ) -> Latency: ...

    def timeline(self, flow_id: str, *, since: datetime, bucket_s: int) -> list[TimelineBucket]: ...

    def recent(self, flow_id: str, limit: int) -> list[FlowMessage]:
        """The flow's ``limit`` most recently accepted messages, newest first."""
        ...

    def counts_by_flow(self) -> dict[str, dict[MessageState, int]]:
        """Every flow's messages counted by state, in one query (flows without messages are absent)."""
        ...


@dataclass(frozen=True, slots=True)
class FlowMetricsReport:
    flow_id: str
    window: str
    since: datetime
    until: datetime
    messages: int
    delivered: int
    failures: int
    backlog: int
    by_state: dict[str, int]
    latency_ms: dict[str, float]
    latency_sample: int
    last_run: datetime | None
    last_delivered: datetime | None
    oldest_backlog: datetime | None
    timeline: tuple[TimelineBucket, ...] = field(default=())
    latency_exact: bool = True

    def as_dict(self) -> dict[str, Any]:
        """The JSON of ``GET /api/v1/flows/{id}/metrics``."""
        return {
            "flow": self.flow_id,
            "window": self.window,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "messages": self.messages,
            "delivered": self.delivered,
            "failures": self.failures,
            "backlog": self.backlog,
            "by_state": self.by_state,
            "latency_ms": self.latency_ms,
            "latency_sample": self.latency_sample,
            "latency_exact": self.latency_exact,
            "last_run": _iso(self.last_run),
            "last_delivered": _iso(self.last_delivered),
            "oldest_backlog": _iso(self.oldest_backlog),
            "timeline": [
                {
                    "start": datetime.fromtimestamp(b.start_s, tz=self.since.tzinfo).isoformat(),
                    "messages": b.messages,
                    "failures": b.failures,
                    "delivered": b.delivered,
                    "latency_avg_ms": _rounded(b.latency_avg_ms),
                    "latency_max_ms": _rounded(b.latency_max_ms),
                }
                for b in self.timeline
            ],
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


class FlowMetricsService:
    """Metrics of one flow. ``require_flow`` checks that the flow exists (and ``flow:read``)."""

    def __init__(
        self, queries: FlowMetricsQueries, clock: Clock, require_flow: Callable[[Principal, str], object]
    ) -> None:
        self._queries = queries
        self._clock = clock
        self._require_flow = require_flow

    def metrics(self, principal: Principal, flow_id: str, window: str = DEFAULT_WINDOW) -> FlowMetricsReport:
        """Counts over all time; latency and the chart over ``window`` (``1h``, ``24h``, ``7d`` or ``30d``)."""
        principal.require("flow:read")
        chosen = WINDOWS.get(window)
        if chosen is None:
            raise InvalidInput(
                "window: expected one of {allowed}, got {value!r}", allowed=", ".join(WINDOWS), value=window
            )
        self._require_flow(principal, flow_id)
        until = self._clock.now()
        since = until - chosen.span
        summary = self._queries.summary(flow_id)
        latency = self._queries.latency_percentiles(flow_id, QUANTILES, since=since)
        found = self._queries.timeline(flow_id, since=since, bucket_s=chosen.bucket_s)
        counts = summary.counts
        return FlowMetricsReport(
            flow_id=flow_id,
            window=chosen.name,
            since=since,
            until=until,
            messages=sum(counts.values()),
            delivered=counts.get(MessageState.DELIVERED, 0),
            failures=counts.get(MessageState.DEAD_LETTERED, 0) + counts.get(MessageState.DISCARDED, 0),
            backlog=counts.get(MessageState.PENDING, 0) + counts.get(MessageState.RETRYING, 0),
            by_state={state.value: counts.get(state, 0) for state in MessageState},
            latency_ms={f"p{round(q * 100)}": round(v, 1) for q, v in latency.percentiles.items()},
            latency_sample=latency.sample,
            latency_exact=latency.exact,
            last_run=summary.last_accepted,
            last_delivered=summary.last_delivered,
            oldest_backlog=summary.oldest_backlog,
            timeline=_filled(found, since, until, chosen.bucket_s),
        )

    def overview(self, principal: Principal) -> dict[str, dict[str, int]]:
        """Per flow: messages, failures and backlog — the figures table 2 shows beside each row."""
        principal.require("flow:read")
        found: dict[str, dict[str, int]] = {}
        for flow_id, counts in self._queries.counts_by_flow().items():
            found[flow_id] = {
                "messages": sum(counts.values()),
                "failures": counts.get(MessageState.DEAD_LETTERED, 0) + counts.get(MessageState.DISCARDED, 0),
                "backlog": counts.get(MessageState.PENDING, 0) + counts.get(MessageState.RETRYING, 0),
            }
        return found

    def recent(self, principal: Principal, flow_id: str, limit: int = 20) -> list[FlowMessage]:
        """The latest messages of a flow, newest first (the page shows their masked copy)."""
        principal.require("flow:read")
        self._require_flow(principal, flow_id)
        return self._queries.recent(flow_id, max(1, min(limit, 500)))


def _filled(
    found: list[TimelineBucket], since: datetime, until: datetime, bucket_s: int
) -> tuple[TimelineBucket, ...]:
    """Every bucket of the window, empty ones as zeros, so the chart's time axis has no gaps."""
    by_start = {b.start_s: b for b in found}
    first = int(since.timestamp()) // bucket_s * bucket_s
    last = int(until.timestamp()) // bucket_s * bucket_s
    return tuple(by_start.get(s, TimelineBucket(s)) for s in range(first, last + 1, bucket_s))
