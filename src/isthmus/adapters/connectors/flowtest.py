"""``isthmus flow test``: a flow against its test target, with the guide's faults injected.

Each scenario runs the real mapping, outbox and delivery code on an in-memory store with a fake
clock (backoff waits cost no time), so production messages, keys and metrics are untouched; only the
test target sees requests. Network faults go through :class:`FaultProxy` in front of an HTTP test
target: the guide's "network interruption" (connections reset, then recovery), a timeout, an HTTP
500, plus a malformed record (it must be dead-lettered with its row while the others go on) and a
duplicate (one effect).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from isthmus.adapters.connectors import make_target
from isthmus.adapters.connectors.faultproxy import HTTP_500, Fault, FaultProxy
from isthmus.integration import Endpoint, FlowMessage, MessageState, Target, parse_flow
from isthmus.security import SYSTEM
from isthmus.services.integration import DELIVER, AcceptReport, FlowService
from isthmus.services.jobs import JobRunner
from isthmus.testing import FakeClock, InMemoryStore, memory_uow_factory

TEST_TIMEOUT_S = 0.5


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    name: str
    passed: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"scenario": self.name, "passed": self.passed, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class _Scenario:
    name: str
    fault: Fault | None  # None: no proxy needed
    times: int
    records: Callable[[dict[str, Any]], list[dict[str, Any]]]
    check: Callable[[AcceptReport, list[FlowMessage]], tuple[bool, str]]


def _delivered_after(attempts: int) -> Callable[[AcceptReport, list[FlowMessage]], tuple[bool, str]]:
    def check(report: AcceptReport, messages: list[FlowMessage]) -> tuple[bool, str]:
        found = [(m.state.value, m.attempts) for m in messages]
        return found == [(MessageState.DELIVERED.value, attempts)], f"messages (state, attempts): {found}"

    return check


def _malformed_check(report: AcceptReport, messages: list[FlowMessage]) -> tuple[bool, str]:
    states = sorted((m.row_number or 0, m.state.value) for m in messages)
    ok = states == [(1, MessageState.DELIVERED.value), (2, MessageState.DEAD_LETTERED.value)]
    return ok, f"rows (row, state): {states}"


def _duplicate_check(report: AcceptReport, messages: list[FlowMessage]) -> tuple[bool, str]:
    ok = report.duplicates == 1 and [m.state for m in messages] == [MessageState.DELIVERED]
    return ok, f"accepted {report.accepted}, duplicates {report.duplicates}, messages {len(messages)}"


def _one(sample: dict[str, Any]) -> list[dict[str, Any]]:
    return [sample]


SCENARIOS = (
    _Scenario("normal", None, 0, _one, _delivered_after(1)),
    _Scenario("target down (network interruption)", Fault.RESET, 2, _one, _delivered_after(3)),
    _Scenario("timeout", Fault.BLACKHOLE, 1, _one, _delivered_after(2)),
    _Scenario("HTTP 500", Fault.RESPOND, 1, _one, _delivered_after(2)),
    _Scenario("malformed record", None, 0, lambda s: [s, dict.fromkeys(s)], _malformed_check),
    _Scenario("duplicate message", None, 0, lambda s: [s, dict(s)], _duplicate_check),
)


def _through(endpoint: Endpoint, proxy: FaultProxy | None) -> Endpoint:
    if proxy is None or endpoint.connector != "http":
        return endpoint
    parts = urlsplit(str(endpoint.options["url"]))
    host, port = proxy.address
    return replace(
        endpoint, options=endpoint.options | {"url": urlunsplit(parts._replace(netloc=f"{host}:{port}"))}
    )


def _run(text: str, scenario: _Scenario, sample: dict[str, Any], proxy: FaultProxy | None) -> ScenarioResult:
    def factory(endpoint: Endpoint, timeout_s: float) -> Target:
        return make_target(_through(endpoint, proxy), min(timeout_s, TEST_TIMEOUT_S))

    store, clock = InMemoryStore(), FakeClock()
    flows = FlowService(memory_uow_factory(store), clock, factory)
    try:
        flow = flows.deploy(SYSTEM, text)
        if proxy is not None and scenario.fault is not None:
            proxy.set(scenario.fault, times=scenario.times, response=HTTP_500)
        report = flows.accept(SYSTEM, flow.flow_id, scenario.records(sample), first_row=1, test=True)
        runner = JobRunner(memory_uow_factory(store), clock, {DELIVER: flows.deliver}, "flow-test")
        for _ in range(8):
            runner.run_until_idle()
            clock.advance(hours=2)
        passed, detail = scenario.check(report, flows.messages(SYSTEM, flow_id=flow.flow_id))
    finally:
        flows.close()
        if proxy is not None:
            proxy.set(Fault.PASS)
    return ScenarioResult(scenario.name, passed, detail)


def run_flow_test(
    text: str, sample: dict[str, Any], *, on_result: Callable[[ScenarioResult], None] | None = None
) -> list[ScenarioResult]:
    """Run every scenario with ``sample`` (one valid source record); network faults need an HTTP target.

    ``on_result`` hears each scenario as it finishes (the web page shows a run's progress)."""
    flow = parse_flow(text)
    target = replace(flow.target, options=flow.target.options | flow.target.test_options)
    results: list[ScenarioResult] = []

    def done(result: ScenarioResult) -> None:
        results.append(result)
        if on_result is not None:
            on_result(result)

    if target.connector != "http":
        for scenario in SCENARIOS:
            if scenario.fault is None:
                done(_run(text, scenario, sample, None))
            else:
                done(ScenarioResult(scenario.name, True, f"skipped: a {target.connector} target"))
        return results
    parts = urlsplit(str(target.options["url"]))
    upstream = (parts.hostname or "127.0.0.1", parts.port or (443 if parts.scheme == "https" else 80))
    with FaultProxy(upstream) as proxy:
        for scenario in SCENARIOS:
            done(_run(text, scenario, sample, proxy))
    return results
