"""Flow metrics on SQLite and PostgreSQL: counts by state, nearest-rank latency percentiles, the
chart's buckets (empty ones filled), the window and permission checks; and flow test runs as jobs."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from isthmus.bootstrap import Container
from isthmus.errors import InvalidInput, NotFound, PermissionDenied
from isthmus.integration import EXAMPLE, MessageState, NewMessage
from isthmus.integration import TestStatus as FlowTestStatus
from isthmus.security import SYSTEM, Role
from isthmus.services.flow_metrics import TimelineBucket, _filled
from isthmus.services.flow_tests import FlowTestRuns, RunState
from isthmus.testing import FakeClock
from tests.conftest import principal_with

START = datetime(2024, 6, 1, 9, 0, tzinfo=UTC)


def _message(container: Container, key: str, at: datetime, state: MessageState, latency_ms: float) -> None:
    with container.database.unit_of_work() as uow:
        stored = uow.flows.add_message(
            NewMessage(flow_id="crm-erp-orders", idempotency_key=key, payload={"k": key}, display={}), at
        )
        assert stored is not None
        delivered = at + timedelta(milliseconds=latency_ms) if state is MessageState.DELIVERED else None
        uow.flows.save_message(
            replace(stored, state=state, attempts=1, updated_at=at, delivered_at=delivered)
        )
        uow.commit()


def test_counts_percentiles_and_the_timeline(container: Container, clock: FakeClock) -> None:
    container.flows.deploy(SYSTEM, EXAMPLE)
    for i in range(1, 101):  # 100 delivered in the last hours, latencies 10, 20 … 1000 ms
        _message(container, f"d{i}", START - timedelta(minutes=i), MessageState.DELIVERED, 10.0 * i)
    _message(container, "dead", START - timedelta(hours=2, minutes=30), MessageState.DEAD_LETTERED, 0)
    _message(container, "gone", START - timedelta(hours=2, minutes=31), MessageState.DISCARDED, 0)
    _message(container, "wait", START - timedelta(hours=5), MessageState.PENDING, 0)
    _message(container, "again", START - timedelta(hours=3), MessageState.RETRYING, 0)
    _message(container, "old", START - timedelta(days=3), MessageState.DELIVERED, 99_999)
    clock.set(START)

    report = container.flow_metrics.metrics(principal_with(Role.AUDITOR), "crm-erp-orders")

    assert (report.messages, report.delivered, report.failures, report.backlog) == (105, 101, 2, 2)
    # Nearest rank over the 100 in the window (the 3-day-old one is outside): ceil(q·100)-th value.
    assert report.latency_ms == {"p50": 500.0, "p95": 950.0, "p99": 990.0}
    assert report.latency_sample == 100
    assert report.last_run == START - timedelta(minutes=1)
    assert report.oldest_backlog == START - timedelta(hours=5)
    assert len(report.timeline) == 25  # 24 hourly bars plus the current one, empty ones included
    assert sum(b.messages for b in report.timeline) == 104
    assert sum(b.failures for b in report.timeline) == 2
    last_hour = report.timeline[-2]  # [08:00, 09:00): messages 1…60 minutes old
    assert (last_hour.messages, last_hour.delivered) == (60, 60)
    assert last_hour.latency_max_ms == pytest.approx(600.0, abs=0.5)
    as_json = report.as_dict()
    assert as_json["by_state"]["delivered"] == 101
    assert as_json["timeline"][-2]["start"].startswith("2024-06-01T08:00")

    assert container.flow_metrics.overview(SYSTEM) == {
        "crm-erp-orders": {"messages": 105, "failures": 2, "backlog": 2}
    }
    week = container.flow_metrics.metrics(SYSTEM, "crm-erp-orders", "7d")
    assert week.latency_sample == 101
    assert week.latency_ms["p99"] == 1000.0


def test_an_empty_flow_and_the_refusals(container: Container) -> None:
    container.flows.deploy(SYSTEM, EXAMPLE)
    empty = container.flow_metrics.metrics(SYSTEM, "crm-erp-orders")
    assert (empty.messages, empty.latency_ms, empty.last_run) == (0, {}, None)
    with pytest.raises(PermissionDenied):
        container.flow_metrics.metrics(principal_with(Role.VIEWER), "crm-erp-orders")
    with pytest.raises(NotFound):
        container.flow_metrics.metrics(SYSTEM, "no-such-flow")
    with pytest.raises(InvalidInput):
        container.flow_metrics.metrics(SYSTEM, "crm-erp-orders", "1y")


@settings(max_examples=50, deadline=None)
@given(
    offset_s=st.integers(min_value=0, max_value=10**6),
    span_h=st.integers(min_value=1, max_value=100),
    bucket_h=st.sampled_from([1, 6, 24]),
)
def test_filled_covers_the_window_without_gaps(offset_s: int, span_h: int, bucket_h: int) -> None:
    until = START + timedelta(seconds=offset_s)
    since = until - timedelta(hours=span_h)
    bucket_s = bucket_h * 3600
    inside = int(since.timestamp()) // bucket_s * bucket_s + bucket_s
    filled = _filled([TimelineBucket(inside, messages=7)], since, until, bucket_s)
    starts = [b.start_s for b in filled]
    assert starts == list(range(starts[0], starts[-1] + bucket_s, bucket_s))
    assert starts[0] <= since.timestamp() < starts[0] + bucket_s
    assert starts[-1] <= until.timestamp() < starts[-1] + bucket_s
    assert sum(b.messages for b in filled) == (7 if inside <= until.timestamp() else 0)


def _tester(outcomes: list[bool]) -> Any:
    def run(text: str, sample: dict[str, Any], progress: Any) -> list[dict[str, Any]]:
        assert "crm-erp-orders" in text
        assert sample == {"order_id": "SO-1"}
        results = [{"scenario": f"s{i}", "passed": ok, "detail": ""} for i, ok in enumerate(outcomes)]
        for result in results:
            progress(result)
        return results

    return run


@pytest.mark.parametrize(
    ("outcomes", "state"), [([True, True], RunState.PASSED), ([True, False], RunState.FAILED)]
)
def test_a_test_run_is_a_job_that_sets_the_test_status(
    container: Container, outcomes: list[bool], state: RunState
) -> None:
    container.flows.deploy(SYSTEM, EXAMPLE)
    runs = FlowTestRuns(
        container.database.unit_of_work,
        container.clock,
        container.settings.data_dir / "flow-tests",
        _tester(outcomes),
        len(outcomes),
    )
    container.job_handlers["flow.test"] = runs.handle
    integrator = principal_with(Role.IT_INTEGRATOR, actor="li")
    started = runs.start(integrator, "crm-erp-orders", {"order_id": "SO-1"})
    assert runs.get(integrator, "crm-erp-orders", started.run_id).state is RunState.QUEUED

    container.job_runner().run_until_idle()

    finished = runs.latest(integrator, "crm-erp-orders")
    assert finished is not None
    assert finished.run_id == started.run_id
    assert finished.state is state
    assert len(finished.results) == len(outcomes)
    deployed, _ = container.flows.get(SYSTEM, "crm-erp-orders")
    expected = FlowTestStatus.PASSED if state is RunState.PASSED else FlowTestStatus.FAILED
    assert deployed.test_status is expected
    trail, _ = container.audit.search(SYSTEM, action="flow.test")
    assert [r.event.actor for r in trail] == ["li"]
    with pytest.raises(PermissionDenied):
        runs.start(principal_with(Role.AUDITOR), "crm-erp-orders", {"order_id": "SO-1"})
    with pytest.raises(InvalidInput):
        runs.start(integrator, "crm-erp-orders", {})
    with pytest.raises(NotFound):
        runs.get(integrator, "crm-erp-orders", "../../etc")


def test_a_chunk_message_counts_its_records(container: Container, clock: FakeClock) -> None:
    """Batch delivery stores a chunk of rows as one message; the metrics count records, as the CLI does."""
    container.flows.deploy(SYSTEM, EXAMPLE)
    _message(container, "chunk:1-50:50:ab12", START - timedelta(minutes=5), MessageState.DELIVERED, 900.0)
    _message(container, "chunk:51-60:10:cd34", START - timedelta(minutes=4), MessageState.DEAD_LETTERED, 0)
    _message(container, "single", START - timedelta(minutes=3), MessageState.DELIVERED, 100.0)
    clock.set(START)

    report = container.flow_metrics.metrics(SYSTEM, "crm-erp-orders")

    assert (report.messages, report.delivered, report.failures) == (61, 51, 10)
    assert report.latency_sample == 51
    assert report.latency_ms == {"p50": 900.0, "p95": 900.0, "p99": 900.0}  # 50 of 51 records took 900 ms
    bar = report.timeline[-2]
    assert (bar.messages, bar.delivered, bar.failures) == (61, 51, 10)
    assert bar.latency_avg_ms == pytest.approx((50 * 900 + 100) / 51, abs=0.1)
    assert bar.latency_max_ms == pytest.approx(900.0, abs=0.5)
    assert container.flow_metrics.overview(SYSTEM)["crm-erp-orders"] == {
        "messages": 61,
        "failures": 10,
        "backlog": 0,
    }
