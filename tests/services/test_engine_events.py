"""Engine features on a real database (SQLite and PostgreSQL): timer start events deployed through
the model service, service tasks bound to integration flows with a real HTTP target on loopback,
and the demo's escalation timer."""

from __future__ import annotations

from pathlib import Path

import pytest

from isthmus.bootstrap import Container
from isthmus.demo import deploy_demo_decisions, deploy_demo_processes
from isthmus.demo.integration import SandboxApi
from isthmus.engine import TaskQuery
from isthmus.errors import Conflict
from isthmus.integration import TargetUnavailable
from isthmus.jobs import JobState
from isthmus.security import SYSTEM
from isthmus.services.messages import START_TIMER_JOB
from isthmus.services.service_tasks import ServiceRequest
from isthmus.testing import FakeClock

DATA = Path(__file__).parents[1] / "engine" / "data"

FLOW = """\
flow: orders-to-erp
source: {{system: ISTHMUS, connector: webhook}}
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
idempotency_key: order_id
"""


def _deploy(container: Container, name: str) -> None:
    container.models.deploy(SYSTEM, (DATA / name).read_bytes(), name)


def _instances(container: Container) -> list[str]:
    with container.database.unit_of_work() as uow:
        return [i.id for i in uow.instances.list(limit=1000)]


def test_a_deployed_cycle_timer_starts_instances_and_a_new_version_takes_over(
    container: Container, clock: FakeClock
) -> None:
    _deploy(container, "timer_start.bpmn")
    runner = container.job_runner("w")
    runner.run_until_idle()
    assert _instances(container) == []
    clock.advance(hours=1)
    runner.run_until_idle()
    assert len(_instances(container)) == 1
    # version 2 (a changed file): version 1's next cycle job becomes stale
    changed = (DATA / "timer_start.bpmn").read_bytes().replace(b"Write report", b"Write the report")
    container.models.deploy(SYSTEM, changed, "timer_start.bpmn")
    clock.advance(minutes=30)
    runner.run_until_idle()
    assert len(_instances(container)) == 1
    clock.advance(minutes=45)  # v1's 2:00 job is stale; v2's first is 1:30 + 1 h
    runner.run_until_idle()
    with container.database.unit_of_work() as uow:
        versions = sorted(i.definition_version for i in uow.instances.list(limit=100))
        pending = [j for j in uow.jobs.list(JobState.READY, 100) if j.kind == START_TIMER_JOB]
    assert versions == [1, 2]
    assert [j.payload["v"] for j in pending] == [2]


def _drain(container: Container, clock: FakeClock, rounds: int = 6) -> None:
    runner = container.job_runner("w")
    for _ in range(rounds):
        runner.run_until_idle()
        clock.advance(hours=1)


def test_a_service_task_runs_its_integration_flow(
    container: Container, clock: FakeClock, api: SandboxApi
) -> None:
    container.flows.deploy(SYSTEM, FLOW.format(url=api.url), "orders-to-erp.yaml")
    _deploy(container, "flow_task.bpmn")
    started = container.engine.start(SYSTEM, "flow_task", {"order": {"id": "SO-42", "customer": "C7"}})
    _drain(container, clock)
    view = container.engine.show(SYSTEM, started.id)
    assert view.state == "completed"
    assert view.variables["erp_order"] == "SO-42"  # the flow's output, picked by the output mapping
    (key,) = api.records["/api/orders"]
    assert key == f"{started.id}:send_order:1"  # the task's idempotency key reached the target
    assert api.records["/api/orders"][key] == {"vbeln": "SO-42", "kunnr": "C7"}


def test_a_failing_flow_retries_then_is_an_incident_an_operator_retries(
    container: Container, clock: FakeClock, api: SandboxApi
) -> None:
    container.flows.deploy(SYSTEM, FLOW.format(url=api.url), "orders-to-erp.yaml")
    _deploy(container, "flow_task.bpmn")
    api.fail_next(4, 503)
    started = container.engine.start(SYSTEM, "flow_task", {"order": {"id": "SO-43", "customer": "C1"}})
    _drain(container, clock)
    view = container.engine.show(SYSTEM, started.id)
    assert view.state == "incident"
    (incident,) = view.incidents
    assert incident.attempts == 4  # 1 + 3 retries
    assert "503" in (incident.last_error or "")
    container.jobs.retry(SYSTEM, incident.id)
    _drain(container, clock)
    assert container.engine.show(SYSTEM, started.id).state == "completed"
    assert len(api.records["/api/orders"]) == 1


def test_a_flow_that_is_not_deployed_is_an_incident_at_once(container: Container, clock: FakeClock) -> None:
    _deploy(container, "flow_task.bpmn")
    started = container.engine.start(SYSTEM, "flow_task", {"order": {"id": "SO-44", "customer": "C1"}})
    container.job_runner("w").run_until_idle()
    view = container.engine.show(SYSTEM, started.id)
    assert view.state == "incident"
    assert view.incidents[0].attempts == 1
    assert "orders-to-erp" in (view.incidents[0].last_error or "")


def test_the_demo_stock_check_escalates_when_late(container: Container, clock: FakeClock) -> None:
    deploy_demo_decisions(SYSTEM, container.decisions)
    deploy_demo_processes(SYSTEM, container.models)
    erp = {"down": True}

    def check_stock(request: ServiceRequest) -> dict[str, bool]:
        if erp["down"]:
            raise TargetUnavailable("ERP does not answer")
        return {"in_stock": True}

    container.engine.handlers.register("demo.check-stock", check_stock)
    started = container.engine.start(SYSTEM, "SAL-ORD-001", {"order_id": "SO-9"}, business_key="SO-9")
    (task,) = container.tasks.list(SYSTEM, instance_id=started.id)
    container.tasks.complete(SYSTEM, task.id, {"customer": "ACME", "amount": 1000, "quantity": 5})
    runner = container.job_runner("w")
    runner.run_until_idle()  # the first attempt fails
    assert container.engine.show(SYSTEM, started.id).state == "active"
    clock.advance(minutes=11)  # the stock check is late: the boundary timer fires
    runner.run_until_idle()
    with container.database.unit_of_work() as uow:
        assert len(uow.notifications.for_instance(started.id)) == 1
    erp["down"] = False
    _drain(container, clock, rounds=3)
    with container.database.unit_of_work() as uow:
        notes = uow.notifications.for_instance(started.id)
        open_tasks = uow.user_tasks.find(TaskQuery(instance_id=started.id))
    assert [(n.recipient_kind, n.recipient, n.node_id) for n in notes] == [
        ("group", "process_owner", "check_stock")
    ]
    assert "SO-9" in notes[0].text
    view = container.engine.show(SYSTEM, started.id)
    assert "stock_check_late" in view.completed_activities
    assert [n["recipient"] for n in view.as_dict()["notifications"]] == ["process_owner"]
    assert [t.activity_id for t in open_tasks] == ["manager_approval"]


def test_deploying_the_same_file_again_adds_no_timer_jobs(container: Container, clock: FakeClock) -> None:
    _deploy(container, "timer_start.bpmn")
    clock.advance(hours=1)
    container.job_runner("w").run_until_idle()
    _deploy(container, "timer_start.bpmn")  # unchanged: version 1 again, its start events re-synced
    with container.database.unit_of_work() as uow:
        jobs = [j for j in uow.jobs.list(None, 100) if j.kind == START_TIMER_JOB]
    assert sorted(j.payload["f"] for j in jobs) == [0, 1]
    clock.advance(hours=1)
    container.job_runner("w").run_until_idle()
    assert len(_instances(container)) == 2


def test_a_racing_publish_of_the_same_message_id_delivers_nothing(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two publishes of one id that both see it unpublished: the one that commits second must
    undo its deliveries (the id's row is the arbiter)."""
    _deploy(container, "correlation.bpmn")
    a = container.engine.start(SYSTEM, "correlation", {"order_id": "SO-1"})
    container.engine.publish(SYSTEM, "nobody waits", message_id="m-1")
    from isthmus.adapters.storage.message_subscriptions import SqlMessageRepository

    monkeypatch.setattr(SqlMessageRepository, "published", lambda self, message_id: None)
    with pytest.raises(Conflict):
        container.engine.publish(SYSTEM, "shipped", "SO-1", message_id="m-1")
    assert container.engine.show(SYSTEM, a.id).completed_activities == ["start"]
