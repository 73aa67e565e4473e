"""The flow metrics' SQL at volume-shaped inputs, on SQLite and PostgreSQL: every figure equals a
brute-force computation over the same messages (chunks weighted by their records), the bounded SQLite
percentiles say when they are not exact, and the indexes are the ones the queries rely on."""

from __future__ import annotations

import math
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text

from isthmus.adapters.storage.flow_metrics import SqlFlowMetrics, _nearest_ranks
from isthmus.bootstrap import Container
from isthmus.integration import EXAMPLE, MessageState, NewMessage, records_in
from isthmus.security import SYSTEM
from isthmus.testing import FakeClock

NOW = datetime(2024, 6, 1, 9, 0, tzinfo=UTC)
FLOW = "crm-erp-orders"
STATES = list(MessageState)


def _seed(
    container: Container, rng: random.Random, n: int
) -> list[tuple[str, datetime, MessageState, float]]:
    made = []
    with container.database.unit_of_work() as uow:
        for i in range(n):
            key = f"chunk:{i}-{i + 9}:{rng.randint(2, 40)}:{i:04x}" if rng.random() < 0.15 else f"k{i}"
            at = NOW - timedelta(minutes=rng.randint(1, 3 * 24 * 60))
            state = rng.choice(STATES)
            latency = float(rng.randint(1, 5000))
            stored = uow.flows.add_message(
                NewMessage(flow_id=FLOW, idempotency_key=key, payload={"i": i}, display={}), at
            )
            assert stored is not None
            delivered = at + timedelta(milliseconds=latency) if state is MessageState.DELIVERED else None
            uow.flows.save_message(
                replace(stored, state=state, attempts=1, updated_at=at, delivered_at=delivered)
            )
            made.append((key, at, state, latency))
        uow.commit()
    return made


def _nearest(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


@pytest.mark.parametrize("seed", [1, 2])
def test_every_figure_equals_a_brute_force_count(container: Container, clock: FakeClock, seed: int) -> None:
    container.flows.deploy(SYSTEM, EXAMPLE)
    made = _seed(container, random.Random(seed), 150)
    clock.set(NOW)

    report = container.flow_metrics.metrics(SYSTEM, FLOW)  # 24 h

    by_state = {s.value: sum(records_in(k) for k, _, st, _ in made if st is s) for s in STATES}
    assert report.by_state == by_state
    assert report.messages == sum(by_state.values())
    assert report.last_run == max(at for _, at, _, _ in made)
    backlog = [at for _, at, st, _ in made if st in (MessageState.PENDING, MessageState.RETRYING)]
    assert report.oldest_backlog == (min(backlog) if backlog else None)
    delivered = [(k, at, lat) for k, at, st, lat in made if st is MessageState.DELIVERED]
    assert report.last_delivered == max(at + timedelta(milliseconds=lat) for _, at, lat in delivered)
    since = NOW - timedelta(hours=24)
    window = [lat for k, at, lat in delivered for _ in range(records_in(k)) if at >= since]
    assert report.latency_sample == len(window)
    assert report.latency_exact
    for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        assert report.latency_ms[name] == pytest.approx(_nearest(window, q), abs=1.0)
    assert sum(b.messages for b in report.timeline) == sum(
        records_in(k) for k, at, _, _ in made if at >= since
    )
    assert sum(b.delivered for b in report.timeline) == len(window)


def test_sqlite_percentiles_read_the_newest_deliveries_and_say_so(
    container: Container, clock: FakeClock
) -> None:
    if container.database.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL ranks every delivery in SQL")
    container.flows.deploy(SYSTEM, EXAMPLE)
    with container.database.unit_of_work() as uow:
        for i in range(10):  # newest first: latencies 100, 200, … 1000 ms; the newest a chunk of 5
            at = NOW - timedelta(minutes=i + 1)
            key = "chunk:1-5:5:aa" if i == 0 else f"k{i}"
            stored = uow.flows.add_message(
                NewMessage(flow_id=FLOW, idempotency_key=key, payload={}, display={}), at
            )
            assert stored is not None
            done = at + timedelta(milliseconds=100 * (i + 1))
            uow.flows.save_message(replace(stored, state=MessageState.DELIVERED, delivered_at=done))
        uow.commit()
    queries = SqlFlowMetrics(container.database.engine, latency_sample=4)

    bounded = queries.latency_percentiles(FLOW, [0.5, 0.99], since=NOW - timedelta(hours=1))
    whole = SqlFlowMetrics(container.database.engine).latency_percentiles(
        FLOW, [0.5, 0.99], since=NOW - timedelta(hours=1)
    )

    # the newest 4 messages: 100 ms ×5 records, 200, 300, 400 → 8 records
    assert (bounded.sample, bounded.exact) == (8, False)
    assert bounded.percentiles == {0.5: pytest.approx(100.0, abs=1), 0.99: pytest.approx(400.0, abs=1)}
    assert (whole.sample, whole.exact) == (14, True)
    assert whole.percentiles[0.99] == pytest.approx(1000.0, abs=1)


def test_the_queries_are_answered_from_the_indexes(container: Container) -> None:
    engine = container.database.engine
    with engine.connect() as db:
        if engine.dialect.name == "postgresql":
            [definition] = db.execute(
                text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_flow_messages_chunks'")
            ).scalars()
            assert "'chunk:%'" in definition  # one percent sign: the queries' predicate, verbatim
            return
        plans = {
            sql: " ".join(str(r[-1]) for r in db.execute(text("EXPLAIN QUERY PLAN " + sql), {"f": FLOW}))
            for sql in (
                "SELECT state, count(*) FROM flow_messages WHERE flow_id = :f GROUP BY state",
                "SELECT state, idempotency_key FROM flow_messages WHERE flow_id = :f"
                " AND idempotency_key LIKE 'chunk:%'",
                "SELECT created_at, delivered_at, state FROM flow_messages WHERE flow_id = :f"
                " AND created_at >= '2024-01-01' ORDER BY created_at DESC",
            )
        }
    assert all("COVERING INDEX" in plan for plan in plans.values()), plans
    assert any("ix_flow_messages_chunks" in plan for plan in plans.values()), plans


@given(
    values=st.lists(st.integers(0, 50), max_size=40),
    extra=st.lists(st.tuples(st.integers(0, 50), st.integers(1, 30)), max_size=6),
    q=st.sampled_from([0.01, 0.5, 0.95, 0.99, 1.0]),
)
def test_nearest_ranks_of_plain_and_weighted_values_equal_the_expanded_list(
    values: list[int], extra: list[tuple[int, int]], q: float
) -> None:
    expanded = [float(v) for v in values] + [float(v) for v, w in extra for _ in range(w + 1)]
    total, found = _nearest_ranks(
        sorted(float(v) for v in values + [v for v, _ in extra]), sorted((float(v), w) for v, w in extra), [q]
    )
    assert total == len(expanded)
    assert found == ({q: _nearest(expanded, q)} if expanded else {})
