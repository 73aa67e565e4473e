"""The engine through its services on the in-memory store: start, service jobs, inbox, timers."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from isthmus.engine import BpmnError
from isthmus.errors import InvalidInput, PermissionDenied
from isthmus.security import SYSTEM, Principal, PrincipalKind, Role
from isthmus.services.engine import EngineService
from isthmus.services.engine_steps import Definitions, StaticProcesses, Stepper
from isthmus.services.inbox import TaskService
from isthmus.services.jobs import JobRunner
from isthmus.services.service_tasks import ServiceHandlers, ServiceRequest
from isthmus.testing import FakeClock, InMemoryStore, memory_uow_factory
from tests.engine.harness import DATA


class Engine:
    def __init__(self, tmp_path: Path, *files: str) -> None:
        self.clock = FakeClock()
        self.uow = memory_uow_factory(InMemoryStore())
        self.processes = StaticProcesses()
        for name in files:
            self.processes.add(name.removesuffix(".bpmn"), (DATA / name).read_bytes())
        self.stepper = Stepper(Definitions(self.processes), self.clock, lambda uow: None)
        self.handlers = ServiceHandlers()
        self.engine = EngineService(self.uow, self.clock, self.stepper, self.handlers)
        self.tasks = TaskService(self.uow, self.clock, self.stepper, tmp_path)
        self.runner = JobRunner(self.uow, self.clock, self.engine.job_handlers(), "w1")


def user(name: str, *roles: Role) -> Principal:
    return Principal(actor=name, kind=PrincipalKind.USER, roles=frozenset(roles))


def test_parallel_tasks_through_the_inbox(tmp_path: Path) -> None:
    e = Engine(tmp_path, "parallel.bpmn")
    started = e.engine.start(SYSTEM, "parallel", {"n": 1}, business_key="ORD-1")
    tasks = e.tasks.list(SYSTEM, instance_id=started.id)
    assert sorted(t.activity_id for t in tasks) == ["a", "b"]
    for task in tasks:
        e.tasks.complete(SYSTEM, task.id, {"done": task.activity_id})
    view = e.engine.show(SYSTEM, started.id)
    assert view.state == "completed"
    assert view.completed_activities == ["start", "fork", "a", "b", "join", "end"]
    assert {h.case_id for h in view.history} == {"ORD-1"}
    assert [h.lifecycle for h in view.history if h.node_id == "a"] == ["start", "complete"]


def test_service_task_retries_then_incident_then_fix(tmp_path: Path) -> None:
    e = Engine(tmp_path, "service.bpmn")
    calls: list[ServiceRequest] = []

    def flaky(request: ServiceRequest) -> Mapping[str, Any]:
        calls.append(request)
        if request.variables.get("ok") is not True:
            raise RuntimeError("ERP down")
        return {"reserved": True}

    e.handlers.register("reserve", flaky)
    started = e.engine.start(SYSTEM, "service", {"ok": False})
    for _ in range(4):
        e.runner.run_until_idle()
        e.clock.advance(minutes=1)
    assert len(calls) == 4
    assert len({c.idempotency_key for c in calls}) == 1
    assert e.engine.show(SYSTEM, started.id).state == "incident"
    e.engine.set_variables(SYSTEM, started.id, {"ok": True})
    job = e.engine.show(SYSTEM, started.id).incidents[0]
    from isthmus.services.jobs import JobService

    JobService(e.uow, e.clock).retry(SYSTEM, job.id)
    e.runner.run_until_idle()
    view = e.engine.show(SYSTEM, started.id)
    assert view.state == "completed"
    assert view.variables["reserved"] is True


def test_bpmn_error_goes_to_the_boundary(tmp_path: Path) -> None:
    e = Engine(tmp_path, "service.bpmn")

    def out_of_stock(request: ServiceRequest) -> Mapping[str, Any]:
        raise BpmnError("NO_STOCK")

    e.handlers.register("reserve", out_of_stock)
    started = e.engine.start(SYSTEM, "service", {})
    e.runner.run_until_idle()
    view = e.engine.show(SYSTEM, started.id)
    assert view.completed_activities == ["start", "no_stock", "backorder"]
    assert view.state == "completed"


def test_four_eyes_and_candidates(tmp_path: Path) -> None:
    e = Engine(tmp_path, "approval4.bpmn")
    requester = user("rep", Role.USER_REPRESENTATIVE, Role.PROCESS_OWNER)
    started = e.engine.start(requester, "approval4", {"amount": 10})
    (task,) = e.tasks.list(SYSTEM, instance_id=started.id)
    with pytest.raises(PermissionDenied):
        e.tasks.claim(user("viewer", Role.USER_REPRESENTATIVE), task.id)
    approver = user("boss", Role.APPROVER)
    assert [t.id for t in e.tasks.list(approver)] == [task.id]
    e.tasks.claim(approver, task.id)
    with pytest.raises(PermissionDenied):
        e.tasks.complete(requester, task.id, {"approved": True})
    e.tasks.complete(approver, task.id, {"approved": "true"})
    view = e.engine.show(SYSTEM, started.id)
    assert view.state == "completed"
    assert view.variables["approved"] is True


def test_boundary_timer_job(tmp_path: Path) -> None:
    e = Engine(tmp_path, "timers.bpmn")
    started = e.engine.start(SYSTEM, "timers", {})
    e.clock.advance(hours=1)
    e.runner.run_until_idle()
    assert [t.activity_id for t in e.tasks.list(SYSTEM, instance_id=started.id)] == ["work"]
    e.clock.advance(hours=1)
    for _ in range(3):
        e.runner.run_until_idle()
    assert [t.activity_id for t in e.tasks.list(SYSTEM, instance_id=started.id)] == ["escalated"]


def test_call_activity_runs_the_child_and_continues(tmp_path: Path) -> None:
    e = Engine(tmp_path, "caller.bpmn", "parallel.bpmn")
    parent = e.engine.start(SYSTEM, "caller", {"x": 1})
    children = e.engine.list(SYSTEM, key="parallel")
    assert len(children) == 1
    assert children[0].parent_id == parent.id
    for task in e.tasks.list(SYSTEM, instance_id=children[0].id):
        e.tasks.complete(SYSTEM, task.id, {"from_child": task.activity_id})
    view = e.engine.show(SYSTEM, parent.id)
    assert view.state == "completed"
    assert view.completed_activities == ["start", "call", "end"]
    assert view.variables["from_child"] in ("a", "b")


def test_migration_of_a_waiting_instance(tmp_path: Path) -> None:
    e = Engine(tmp_path, "parallel.bpmn")
    started = e.engine.start(SYSTEM, "parallel", {})
    e.processes.add(
        "parallel",
        (DATA / "parallel.bpmn")
        .read_bytes()
        .replace(b'id="a" name="A"', b'id="a2" name="A2"')
        .replace(b'targetRef="a"', b'targetRef="a2"')
        .replace(b'sourceRef="a"', b'sourceRef="a2"'),
    )
    with pytest.raises(InvalidInput):
        e.engine.migrate(SYSTEM, started.id, 2)
    e.engine.migrate(SYSTEM, started.id, 2, {"a": "a2"})
    for task in e.tasks.list(SYSTEM, instance_id=started.id):
        e.tasks.complete(SYSTEM, task.id, {})
    view = e.engine.show(SYSTEM, started.id)
    assert view.state == "completed"
    assert "a2" in view.completed_activities
