"""Flows end to end on a real database (SQLite and PostgreSQL) and a real HTTP server on loopback."""

from __future__ import annotations

from isthmus.bootstrap import Container
from isthmus.demo.integration import SandboxApi
from isthmus.integration import MessageState
from isthmus.security import SYSTEM
from isthmus.testing import FakeClock

FLOW = """\
flow: crm-erp-orders
source: {{system: CRM, connector: webhook}}
target:
  system: ERP
  connector: http
  options:
    url: "{url}/api/orders"
    auth: oauth2
    token_url: "{url}/oauth/token"
    client_id: isthmus
    client_secret: s3cret
trigger: {{webhook: true}}
mapping:
  vbeln: order_id
  kunnr: cust_code
  telf1: phone
transforms:
  telf1: {{mask: phone}}
validate:
  - rule: 'matches(phone, "^(\\\\+\\\\d{{1,3}})?1\\\\d{{10}}$")'
    message: phone must be 11 digits, optionally after a country code
idempotency_key: order_id
delivery: {{attempts: 4, backoff: 2s}}
"""


def order(i: int, phone: str = "13812345678") -> dict[str, str]:
    return {"order_id": f"SO-{i:04d}", "cust_code": f"C{i % 7}", "phone": phone}


def drain(container: Container, clock: FakeClock, rounds: int = 10) -> None:
    """Run due jobs, then move the clock past any backoff, until nothing is left."""
    runner = container.job_runner("test-worker")
    for _ in range(rounds):
        runner.run_until_idle()
        clock.advance(hours=1)
    runner.run_until_idle()


def test_orders_reach_the_target_once_with_the_token_reused(
    deployed: Container, api: SandboxApi, clock: FakeClock
) -> None:
    report = deployed.flows.accept(SYSTEM, "crm-erp-orders", [order(i) for i in range(20)])
    assert report.accepted == 20
    drain(deployed, clock)
    stored = api.records["/api/orders"]
    assert len(stored) == 20
    assert stored["SO-0003"] == {"vbeln": "SO-0003", "kunnr": "C3", "telf1": "138****5678"}
    assert api.tokens_issued == 1
    assert deployed.flows.metrics(SYSTEM, "crm-erp-orders").delivered == 20


def test_a_target_failing_three_times_then_recovering_gets_exactly_four_attempts(
    deployed: Container, api: SandboxApi, clock: FakeClock
) -> None:
    api.fail_next(3, 503)
    deployed.flows.accept(SYSTEM, "crm-erp-orders", [order(1)])
    drain(deployed, clock)
    (message,) = deployed.flows.messages(SYSTEM, flow_id="crm-erp-orders")
    assert message.state is MessageState.DELIVERED
    assert message.attempts == 4
    assert [key for _, key in api.requests] == ["SO-0001"] * 4


def test_after_the_last_attempt_the_message_is_dead_lettered(
    deployed: Container, api: SandboxApi, clock: FakeClock
) -> None:
    api.fail_next(4, 500)
    deployed.flows.accept(SYSTEM, "crm-erp-orders", [order(1)])
    drain(deployed, clock)
    (message,) = deployed.flows.messages(SYSTEM, flow_id="crm-erp-orders")
    assert message.state is MessageState.DEAD_LETTERED
    assert message.attempts == 4
    assert "500" in (message.last_error or "")


def test_a_4xx_is_not_retried(deployed: Container, api: SandboxApi, clock: FakeClock) -> None:
    api.fail_next(1, 422)
    deployed.flows.accept(SYSTEM, "crm-erp-orders", [order(1)])
    drain(deployed, clock)
    (message,) = deployed.flows.messages(SYSTEM, flow_id="crm-erp-orders")
    assert (message.state, message.attempts) == (MessageState.DEAD_LETTERED, 1)


def test_a_dropped_connection_is_retried(deployed: Container, api: SandboxApi, clock: FakeClock) -> None:
    api.fail_next(1, 0)
    deployed.flows.accept(SYSTEM, "crm-erp-orders", [order(1)])
    drain(deployed, clock)
    (message,) = deployed.flows.messages(SYSTEM, flow_id="crm-erp-orders")
    assert (message.state, message.attempts) == (MessageState.DELIVERED, 2)


def test_malformed_records_are_dead_lettered_with_their_row_and_the_rest_continue(
    deployed: Container, api: SandboxApi, clock: FakeClock
) -> None:
    records = [order(i) for i in range(1, 11)]
    records[3] = order(4, phone="12345")
    records[7] = order(8, phone="call me")
    report = deployed.flows.accept(SYSTEM, "crm-erp-orders", records, first_row=2)
    assert (report.accepted, report.rejected) == (8, 2)
    drain(deployed, clock)
    assert len(api.records["/api/orders"]) == 8
    dead = deployed.flows.messages(SYSTEM, flow_id="crm-erp-orders", states=(MessageState.DEAD_LETTERED,))
    assert [(m.row_number, m.last_error) for m in dead] == [
        (5, "validation: phone must be 11 digits, optionally after a country code"),
        (9, "validation: phone must be 11 digits, optionally after a country code"),
    ]
    assert dead[1].as_dict()["payload"]["phone"] == "*******"  # shown masked, kept for a replay
    assert dead[1].payload["phone"] == "call me"


def test_replay_after_a_fix_delivers_exactly_once(
    deployed: Container, api: SandboxApi, clock: FakeClock
) -> None:
    api.fail_next(4, 500)
    deployed.flows.accept(SYSTEM, "crm-erp-orders", [order(1)])
    drain(deployed, clock)
    (message,) = deployed.flows.messages(SYSTEM, flow_id="crm-erp-orders")
    deployed.flows.replay(SYSTEM, [message.id])
    drain(deployed, clock)
    (after,) = deployed.flows.messages(SYSTEM, flow_id="crm-erp-orders")
    assert after.state is MessageState.DELIVERED
    assert list(api.records["/api/orders"]) == ["SO-0001"]
    actions = [r.event.action for r in deployed.audit.search(SYSTEM, object_type="flow_message")[0]]
    assert actions == ["flow.replay"]


def test_a_duplicate_message_is_accepted_once(deployed: Container, api: SandboxApi, clock: FakeClock) -> None:
    first = deployed.flows.accept(SYSTEM, "crm-erp-orders", [order(1)])
    again = deployed.flows.accept(SYSTEM, "crm-erp-orders", [order(1), order(2)])
    assert (first.accepted, again.accepted, again.duplicates) == (1, 1, 1)
    drain(deployed, clock)
    assert sorted(api.records["/api/orders"]) == ["SO-0001", "SO-0002"]
    assert len(api.requests) == 2


def test_discard_needs_a_reason_and_is_audited(deployed: Container, clock: FakeClock) -> None:
    deployed.flows.accept(SYSTEM, "crm-erp-orders", [order(1, phone="x")], first_row=1)
    (dead,) = deployed.flows.messages(SYSTEM, states=(MessageState.DEAD_LETTERED,))
    assert deployed.flows.discard(SYSTEM, [dead.id], "customer withdrew the order") == 1
    (gone,) = deployed.flows.messages(SYSTEM)
    assert gone.state is MessageState.DISCARDED
    (record,) = deployed.audit.search(SYSTEM, action="flow.discard")[0]
    assert record.event.after == {"reason": "customer withdrew the order"}


def test_a_rejected_record_replays_after_the_flow_is_fixed(
    deployed: Container, api: SandboxApi, clock: FakeClock
) -> None:
    deployed.flows.accept(SYSTEM, "crm-erp-orders", [order(1, phone="+1-555-0100")], first_row=1)
    (dead,) = deployed.flows.messages(SYSTEM, states=(MessageState.DEAD_LETTERED,))
    relaxed = FLOW.format(url=api.url).replace("^(\\\\+\\\\d{1,3})?1\\\\d{10}$", "^.+$")
    deployed.flows.deploy(SYSTEM, relaxed, "crm-erp-orders.yaml")
    deployed.flows.replay(SYSTEM, [dead.id])
    drain(deployed, clock)
    assert list(api.records["/api/orders"]) == ["SO-0001"]


def test_table2_row_is_computed_from_the_flow(deployed: Container) -> None:
    (row,) = deployed.flows.table2(SYSTEM)
    assert row.direction == "CRM→ERP"
    assert row.field_mapping == "CRM.order_id→ERP.vbeln, CRM.cust_code→ERP.kunnr, CRM.phone→ERP.telf1"
    assert row.frequency == "实时 (real time)"
    assert row.security.startswith("OAuth 2.0")
    assert row.test_status == "未开始"
