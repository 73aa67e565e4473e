"""Webhook group commit: many requests per transaction, each with its own outcome."""

from __future__ import annotations

import pytest

from isthmus.bootstrap import Container
from isthmus.demo.integration import SandboxApi
from isthmus.integration import MappedRecord, MessageState
from isthmus.security import SYSTEM, Role
from isthmus.services.flow_hooks import HookRequest, StaleWebhook, WebhookIntake
from isthmus.services.integration import AcceptReport
from tests.conftest import principal_with

FLOW = """\
flow: crm-orders
source: {{system: CRM, connector: webhook}}
target: {{system: ERP, connector: http, options: {{url: "{url}/api/orders"}}}}
trigger: {{webhook: true}}
mapping: {{vbeln: order_id, kunnr: cust_code}}
validate:
  - rule: 'cust_code != null'
    message: cust_code is required
idempotency_key: order_id
"""


@pytest.fixture
def intake(container: Container, api: SandboxApi) -> WebhookIntake:
    container.flows.deploy(SYSTEM, FLOW.format(url=api.url))
    assert container.hooks is not None
    return container.hooks


def _request(intake: WebhookIntake, *orders: str, customer: str | None = "C1") -> HookRequest:
    records = [{"order_id": o, "cust_code": customer} for o in orders]
    return intake.prepare(intake.webhook("crm-orders"), SYSTEM, records)


def test_a_group_stores_each_key_once_and_reports_per_request(
    container: Container, intake: WebhookIntake, api: SandboxApi
) -> None:
    outcomes = intake.accept(
        [
            _request(intake, "SO-1", "SO-2"),
            _request(intake, "SO-2"),  # the same key later in the same group: a duplicate
            _request(intake, "SO-3", customer=None),  # rejected: dead-lettered with its error
        ]
    )
    first, second, third = outcomes
    assert isinstance(first, AcceptReport)
    assert (first.accepted, first.duplicates) == (2, 0)
    assert isinstance(second, AcceptReport)
    assert (second.accepted, second.duplicates) == (0, 1)
    assert isinstance(third, AcceptReport)
    assert third.rejected == 1
    again = intake.accept([_request(intake, "SO-1")])[0]  # and in a later group
    assert isinstance(again, AcceptReport)
    assert again.duplicates == 1
    states = [m.state for m in container.flows.messages(SYSTEM, flow_id="crm-orders")]
    assert sorted(s.value for s in states) == ["dead_lettered", "pending", "pending"]
    container.job_runner().run_until_idle()  # one delivery job per stored message
    assert sorted(api.records["/api/orders"]) == ["SO-1", "SO-2"]


def test_a_request_mapped_before_a_deploy_is_stale_and_the_cache_is_dropped(
    container: Container, intake: WebhookIntake, api: SandboxApi
) -> None:
    prepared = _request(intake, "SO-1")
    container.flows.deploy(SYSTEM, FLOW.format(url=api.url) + "# v2\n")
    [outcome] = intake.accept([prepared])
    assert isinstance(outcome, StaleWebhook)
    assert intake.cached("crm-orders") is None
    assert intake.webhook("crm-orders").deployed.version == 2
    assert container.flows.messages(SYSTEM, flow_id="crm-orders") == []


def test_a_group_mixing_versions_stores_the_current_ones_each_with_one_delivery_job(
    container: Container, intake: WebhookIntake, api: SandboxApi
) -> None:
    old = _request(intake, "SO-1", "SO-2")
    container.flows.deploy(SYSTEM, FLOW.format(url=api.url) + "# v2\n")
    intake.forget("crm-orders")
    new = _request(intake, "SO-2", "SO-3")  # SO-2 also in the stale request: stored once, from here
    stale, report = intake.accept([old, new])
    assert isinstance(stale, StaleWebhook)
    assert isinstance(report, AcceptReport)
    assert (report.accepted, report.duplicates) == (2, 0)
    stored = {m.idempotency_key: m for m in container.flows.messages(SYSTEM, flow_id="crm-orders")}
    assert sorted(stored) == ["SO-2", "SO-3"]
    jobs = container.jobs.find(SYSTEM)
    assert sorted(
        (j.kind, j.payload["message"], j.payload["version"], j.payload["test"]) for j in jobs
    ) == sorted(("flow.deliver", m.id, 2, False) for m in stored.values())
    assert {j.max_attempts for j in jobs} == {
        intake.webhook("crm-orders").flow.delivery.retry_policy().max_attempts
    }
    container.job_runner().run_until_idle()
    assert sorted(api.records["/api/orders"]) == ["SO-2", "SO-3"]


def test_one_failing_request_does_not_fail_the_others(container: Container, intake: WebhookIntake) -> None:
    good = _request(intake, "SO-1")
    broken = HookRequest(
        good.webhook,
        SYSTEM,
        (MappedRecord("SO-X", {"vbeln": object()}, {}),),  # cannot be stored as JSON
    )
    outcomes = intake.accept([good, broken, _request(intake, "SO-2")])
    assert isinstance(outcomes[0], AcceptReport)
    assert outcomes[0].accepted == 1
    assert isinstance(outcomes[1], Exception)
    assert isinstance(outcomes[2], AcceptReport)
    assert outcomes[2].accepted == 1
    stored = container.flows.messages(SYSTEM, flow_id="crm-orders")
    assert sorted(m.idempotency_key for m in stored) == ["SO-1", "SO-2"]
    assert all(m.state is MessageState.PENDING for m in stored)


def test_the_permission_is_checked_before_any_work(intake: WebhookIntake) -> None:
    from isthmus.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        intake.prepare(intake.webhook("crm-orders"), principal_with(Role.VIEWER), [{"order_id": "SO-1"}])


def test_a_group_of_malformed_records_only_keeps_each_as_a_dead_letter_and_makes_no_job(
    container: Container, intake: WebhookIntake, api: SandboxApi
) -> None:
    # two in one request and one in another, stored at one time (PostgreSQL: the group's insert
    # carries no message to deliver, only empty arrays)
    outcomes = intake.accept(
        [_request(intake, "SO-7", "SO-8", customer=None), _request(intake, "SO-9", customer=None)]
    )
    assert [o.rejected if isinstance(o, AcceptReport) else o for o in outcomes] == [2, 1]
    messages = container.flows.messages(SYSTEM, flow_id="crm-orders")
    assert sorted(str(m.payload["order_id"]) for m in messages) == ["SO-7", "SO-8", "SO-9"]
    assert {m.state for m in messages} == {MessageState.DEAD_LETTERED}
    assert container.job_runner().run_until_idle().claimed == 0
    assert not api.records.get("/api/orders")
