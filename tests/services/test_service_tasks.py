"""Synchronous (inline) service tasks on a real database (SQLite and PostgreSQL): a handler
registered inline runs in the step that reaches its task, and its failures keep the job semantics."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from isthmus.bootstrap import Container
from isthmus.demo import deploy_demo_decisions, deploy_demo_processes
from isthmus.engine import BpmnError, TaskQuery, load_state, state_from_json, state_to_json
from isthmus.errors import InvalidInput
from isthmus.integration import TargetUnavailable
from isthmus.jobs import Job, JobState
from isthmus.security import SYSTEM, Role
from isthmus.services.engine_steps import SERVICE_JOB, TIMER_JOB
from isthmus.services.service_tasks import MAX_INLINE, ServiceHandlers, ServiceRequest
from isthmus.testing import FakeClock
from tests.conftest import principal_with

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"
             xmlns:isthmus="https://isthmus.dev/schema/bpmn"
             xmlns:zeebe="http://camunda.org/schema/zeebe/1.0"
             xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
             id="defs" targetNamespace="https://isthmus.dev/tests/inline">
  <error id="err" name="no stock" errorCode="NO_STOCK"/>
  <process id="{key}" isExecutable="true">
"""
TAIL = """  </process>
</definitions>
"""


def _task(node_id: str, handler: str, attrs: str = "") -> str:
    return (
        f'<serviceTask id="{node_id}" {attrs}><extensionElements>'
        f'<zeebe:taskDefinition type="{handler}"/></extensionElements></serviceTask>'
    )


def _flow(flow_id: str, source: str, target: str, condition: str | None = None) -> str:
    body = f"<conditionExpression>{condition}</conditionExpression>" if condition else ""
    return f'<sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}">{body}</sequenceFlow>'


# start → a → b → review (user task) → end: a chain of two service tasks before a wait
CHAIN = "\n".join(
    [
        '<startEvent id="start"/>',
        _flow("f1", "start", "a"),
        _task("a", "t.a"),
        _flow("f2", "a", "b"),
        _task("b", "t.b"),
        _flow("f3", "b", "review"),
        '<userTask id="review"/>',
        _flow("f4", "review", "end"),
        '<endEvent id="end"/>',
    ]
)

# start → fork → (a ‖ b) → join → end
PARALLEL = "\n".join(
    [
        '<startEvent id="start"/>',
        _flow("f1", "start", "fork"),
        '<parallelGateway id="fork"/>',
        _flow("f2", "fork", "a"),
        _flow("f3", "fork", "b"),
        _task("a", "t.a"),
        _task("b", "t.b"),
        _flow("f4", "a", "join"),
        _flow("f5", "b", "join"),
        '<parallelGateway id="join"/>',
        _flow("f6", "join", "end"),
        '<endEvent id="end"/>',
    ]
)

# start → a (error boundary → backorder; timer boundary → late) → after → end
GUARDED = "\n".join(
    [
        '<startEvent id="start"/>',
        _flow("f1", "start", "a"),
        _task("a", "t.a", 'isthmus:retries="1"'),
        '<boundaryEvent id="no_stock" attachedToRef="a"><errorEventDefinition errorRef="err"/></boundaryEvent>',
        '<boundaryEvent id="late" attachedToRef="a" cancelActivity="false">'
        "<timerEventDefinition><timeDuration>PT10M</timeDuration></timerEventDefinition></boundaryEvent>",
        _flow("f2", "a", "check"),
        '<exclusiveGateway id="check"/>',
        _flow("f3", "check", "end", "=ok = true"),
        _flow("f6", "check", "backorder", '=ok = "never"'),
        _flow("f4", "no_stock", "backorder"),
        _flow("f5", "late", "late_end"),
        '<endEvent id="end"/>',
        '<endEvent id="backorder"/>',
        '<endEvent id="late_end"/>',
    ]
)

# start → a → loop? (n < 120 → a, else end): more inline tasks than one step may run
LOOP = "\n".join(
    [
        '<startEvent id="start"/>',
        _flow("f1", "start", "a"),
        _task("a", "t.a"),
        _flow("f2", "a", "more"),
        '<exclusiveGateway id="more" default="f4"/>',
        _flow("f3", "more", "a", "=n &lt; 120"),
        _flow("f4", "more", "end"),
        '<endEvent id="end"/>',
    ]
)


def _deploy(container: Container, key: str, body: str) -> None:
    xml = (HEAD.format(key=key) + body + TAIL).encode()
    container.models.deploy(SYSTEM, xml, f"{key}.bpmn")


class Calls:
    """Handlers that record their requests; ``fail`` makes the next calls of one handler raise."""

    def __init__(self, handlers: ServiceHandlers) -> None:
        self.seen: list[ServiceRequest] = []
        self.fail: dict[str, list[BaseException]] = {}
        self._handlers = handlers

    def add(
        self, name: str, result: Callable[[ServiceRequest], Mapping[str, Any]], *, inline: bool = True
    ) -> None:
        def handler(request: ServiceRequest) -> Mapping[str, Any]:
            self.seen.append(request)
            pending = self.fail.get(name)
            if pending:
                raise pending.pop(0)
            return result(request)

        self._handlers.register(name, handler, inline=inline)

    def keys(self, node: str | None = None) -> list[tuple[str, int]]:
        return [(r.idempotency_key, r.attempt) for r in self.seen if node is None or r.node_id == node]


def _jobs(container: Container, kind: str | None = None) -> list[Job]:
    with container.database.unit_of_work() as uow:
        found = uow.jobs.list(None, 1000)
    return [j for j in found if kind is None or j.kind == kind]


@pytest.fixture
def calls(container: Container) -> Calls:
    return Calls(container.engine.handlers)


def test_a_chain_of_inline_tasks_runs_in_the_start_step(container: Container, calls: Calls) -> None:
    _deploy(container, "chain", CHAIN)
    calls.add("t.a", lambda r: {"a_done": True})
    calls.add("t.b", lambda r: {"b_saw_a": r.variables.get("a_done")})
    started = container.engine.start(SYSTEM, "chain", {"order": 7})
    view = container.engine.show(SYSTEM, started.id)
    assert view.active_activities == ["review"]
    assert view.variables == {"order": 7, "a_done": True, "b_saw_a": True}
    assert calls.keys() == [(f"{started.id}:a:1", 1), (f"{started.id}:b:1", 1)]
    assert _jobs(container) == []  # no job was written for either task
    assert [h.activity for h in view.history if h.lifecycle == "complete"][:3] == ["start", "a", "b"]
    # what was stored restores to the same state (the inline steps lose nothing)
    with container.database.unit_of_work() as uow:
        record = uow.instances.get(started.id)
    assert record is not None
    stored = load_state(record.state)
    assert state_from_json(state_to_json(stored)).dump() == stored.dump()


def test_inline_tasks_run_when_a_user_completes_a_task(container: Container, calls: Calls) -> None:
    body = CHAIN.replace(_flow("f1", "start", "a"), _flow("f1", "start", "first")).replace(
        '<startEvent id="start"/>',
        '<startEvent id="start"/><userTask id="first"/>' + _flow("f0", "first", "a"),
    )
    _deploy(container, "after_task", body)
    calls.add("t.a", lambda r: {"a_done": True})
    calls.add("t.b", lambda r: {"b": 2})
    started = container.engine.start(SYSTEM, "after_task", {})
    assert calls.seen == []
    (task,) = container.tasks.list(SYSTEM, instance_id=started.id)
    container.tasks.complete(SYSTEM, task.id, {})
    assert container.engine.show(SYSTEM, started.id).active_activities == ["review"]
    assert calls.keys() == [(f"{started.id}:a:1", 1), (f"{started.id}:b:1", 1)]
    assert _jobs(container) == []


def test_parallel_inline_branches_finish_the_instance_in_one_step(container: Container, calls: Calls) -> None:
    _deploy(container, "parallel_inline", PARALLEL)
    calls.add("t.a", lambda r: {"a": 1})
    calls.add("t.b", lambda r: {"b": 2})
    started = container.engine.start(SYSTEM, "parallel_inline", {})
    view = container.engine.show(SYSTEM, started.id)
    assert view.state == "completed"
    assert view.variables == {"a": 1, "b": 2}
    assert sorted(calls.keys()) == sorted([(f"{started.id}:a:1", 1), (f"{started.id}:b:1", 1)])
    assert _jobs(container) == []


def test_inline_tasks_run_when_a_message_is_correlated(container: Container, calls: Calls) -> None:
    body = "\n".join(
        [
            '<startEvent id="start"/>',
            _flow("f1", "start", "wait"),
            '<intermediateCatchEvent id="wait"><messageEventDefinition messageRef="go"/></intermediateCatchEvent>',
            _flow("f2", "wait", "a"),
            _task("a", "t.a"),
            _flow("f3", "a", "end"),
            '<endEvent id="end"/>',
        ]
    )
    xml = (HEAD.format(key="on_message") + body + TAIL).replace(
        '<process id="on_message"', '<message id="go" name="go"/><process id="on_message"'
    )
    container.models.deploy(SYSTEM, xml.encode(), "on_message.bpmn")
    calls.add("t.a", lambda r: {"seen": r.variables.get("payload")})
    started = container.engine.start(SYSTEM, "on_message", {})
    assert calls.seen == []
    container.engine.correlate(SYSTEM, started.id, "go", {"payload": 5})
    view = container.engine.show(SYSTEM, started.id)
    assert (view.state, view.variables["seen"]) == ("completed", 5)
    assert calls.keys() == [(f"{started.id}:a:1", 1)]
    assert _jobs(container) == []


@pytest.mark.parametrize("attribute", ['camunda:asyncBefore="true"', 'isthmus:async="true"'])
def test_async_before_forces_a_job(container: Container, calls: Calls, attribute: str) -> None:
    _deploy(container, "forced", PARALLEL.replace(_task("a", "t.a"), _task("a", "t.a", attribute)))
    calls.add("t.a", lambda r: {"a": 1})
    calls.add("t.b", lambda r: {"b": 2})
    started = container.engine.start(SYSTEM, "forced", {})
    assert calls.keys() == [(f"{started.id}:b:1", 1)]  # b ran inline, a waits for its job
    (job,) = _jobs(container)
    assert (job.kind, job.payload["n"], job.attempts) == (SERVICE_JOB, "a", 0)
    container.job_runner("w").run_until_idle()
    assert container.engine.show(SYSTEM, started.id).state == "completed"
    assert calls.keys("a") == [(f"{started.id}:a:1", 1)]


def test_a_handler_not_registered_inline_is_a_job(container: Container, calls: Calls) -> None:
    _deploy(container, "jobs_only", PARALLEL)
    calls.add("t.a", lambda r: {"a": 1}, inline=False)
    calls.add("t.b", lambda r: {"b": 2}, inline=False)
    started = container.engine.start(SYSTEM, "jobs_only", {})
    assert calls.seen == []
    assert len(_jobs(container, SERVICE_JOB)) == 2
    container.job_runner("w").run_until_idle()
    assert container.engine.show(SYSTEM, started.id).state == "completed"


def test_the_inline_attribute_of_a_handler_registers_it_inline(container: Container) -> None:
    seen: list[str] = []

    def quick(request: ServiceRequest) -> Mapping[str, Any]:
        seen.append(request.idempotency_key)
        return {}

    quick.isthmus_inline = True  # type: ignore[attr-defined]  # what an entry point's handler carries
    container.engine.handlers.register("t.a", quick)
    container.engine.handlers.register("t.b", quick, inline=False)
    _deploy(container, "attribute", PARALLEL)
    started = container.engine.start(SYSTEM, "attribute", {})
    assert seen == [f"{started.id}:a:1"]


def test_a_task_opened_and_cancelled_in_the_same_step_stays_closed(
    container: Container, calls: Calls
) -> None:
    """fork → (user task ‖ inline task → terminate end): the terminate cancels the user task that
    the same step opened."""
    body = "\n".join(
        [
            '<startEvent id="start"/>',
            _flow("f1", "start", "fork"),
            '<parallelGateway id="fork"/>',
            _flow("f2", "fork", "review"),
            _flow("f3", "fork", "a"),
            '<userTask id="review"/>',
            _task("a", "t.a"),
            _flow("f4", "a", "stop"),
            '<endEvent id="stop"><terminateEventDefinition/></endEvent>',
            _flow("f5", "review", "end"),
            '<endEvent id="end"/>',
        ]
    )
    _deploy(container, "opened_and_cancelled", body)
    calls.add("t.a", lambda r: {})
    started = container.engine.start(SYSTEM, "opened_and_cancelled", {})
    assert container.engine.show(SYSTEM, started.id).state == "completed"
    assert container.tasks.list(SYSTEM, instance_id=started.id) == []
    with container.database.unit_of_work() as uow:
        (task,) = uow.user_tasks.find(TaskQuery(instance_id=started.id, include_closed=True))
    assert task.state.value == "cancelled"


def test_a_flow_binding_is_never_inline() -> None:
    handlers = ServiceHandlers()
    handlers.register("flow:orders", lambda r: {}, inline=True)
    handlers.register("quick", lambda r: {}, inline=True)
    assert handlers.inline("flow:orders") is None
    assert handlers.inline("quick") is not None
    handlers.register("quick", lambda r: {})  # registered again as a job
    assert handlers.inline("quick") is None


def test_a_transient_failure_makes_a_job_for_attempt_2_after_the_backoff(
    container: Container, calls: Calls, clock: FakeClock
) -> None:
    _deploy(container, "chain_retry", CHAIN)
    calls.add("t.a", lambda r: {"a_done": True})
    calls.add("t.b", lambda r: {"b": r.attempt})
    calls.fail["t.a"] = [TargetUnavailable("ERP does not answer")]
    started = container.engine.start(SYSTEM, "chain_retry", {})
    view = container.engine.show(SYSTEM, started.id)
    assert (view.state, view.active_activities) == ("active", ["a"])
    (job,) = _jobs(container)
    assert (job.kind, job.state, job.attempts, job.max_attempts) == (SERVICE_JOB, JobState.READY, 1, 4)
    assert "ERP does not answer" in (job.last_error or "")
    delay = (job.run_at - clock.now()).total_seconds()
    assert 1.5 <= delay <= 2.5  # the policy's first back-off (2 s ± 20 %)
    runner = container.job_runner("w")
    assert runner.run_until_idle().claimed == 0  # not due yet
    clock.advance(seconds=3)
    runner.run_until_idle()
    assert container.engine.show(SYSTEM, started.id).active_activities == ["review"]
    key = f"{started.id}:a:1"
    # attempt 2 ran in the job with the same key, and b ran inline in the job's step
    assert calls.keys() == [(key, 1), (key, 2), (f"{started.id}:b:1", 1)]


def test_transient_failures_end_as_an_incident_after_the_job_attempts(
    container: Container, calls: Calls, clock: FakeClock
) -> None:
    _deploy(container, "chain_down", CHAIN)
    calls.add("t.a", lambda r: {})
    calls.add("t.b", lambda r: {})
    calls.fail["t.a"] = [TargetUnavailable("down") for _ in range(4)]
    started = container.engine.start(SYSTEM, "chain_down", {})
    runner = container.job_runner("w")
    for _ in range(4):
        clock.advance(minutes=1)
        runner.run_until_idle()
    view = container.engine.show(SYSTEM, started.id)
    assert view.state == "incident"
    assert view.incidents[0].attempts == 4  # 1 inline + 3 as a job: the default policy
    assert [attempt for _, attempt in calls.keys("a")] == [1, 2, 3, 4]


def test_a_terminal_failure_is_an_incident_an_operator_retries(container: Container, calls: Calls) -> None:
    _deploy(container, "chain_bad", CHAIN)
    calls.add("t.a", lambda r: {"a_done": True})
    calls.add("t.b", lambda r: {})
    calls.fail["t.a"] = [InvalidInput("order {id} has no customer", id="SO-1")]
    started = container.engine.start(SYSTEM, "chain_bad", {})
    view = container.engine.show(SYSTEM, started.id)
    assert (view.state, view.active_activities) == ("incident", ["a"])
    (incident,) = view.incidents
    assert incident.attempts == 1
    assert "no customer" in (incident.last_error or "")
    container.jobs.retry(SYSTEM, incident.id)
    container.job_runner("w").run_until_idle()
    assert container.engine.show(SYSTEM, started.id).active_activities == ["review"]


def test_a_bpmn_error_takes_the_boundary_path_in_the_same_step(container: Container, calls: Calls) -> None:
    _deploy(container, "guarded", GUARDED)

    def no_stock(request: ServiceRequest) -> Mapping[str, Any]:
        raise BpmnError("NO_STOCK")

    calls.add("t.a", no_stock)
    started = container.engine.start(SYSTEM, "guarded", {})
    view = container.engine.show(SYSTEM, started.id)
    assert view.state == "completed"
    assert "backorder" in view.completed_activities
    assert _jobs(container) == []  # neither a service job nor the boundary timer's


def test_a_boundary_timer_of_a_task_done_inline_is_never_written(container: Container, calls: Calls) -> None:
    _deploy(container, "guarded_ok", GUARDED)
    calls.add("t.a", lambda r: {"ok": True})
    started = container.engine.start(SYSTEM, "guarded_ok", {})
    assert container.engine.show(SYSTEM, started.id).state == "completed"
    assert _jobs(container, TIMER_JOB) == []


def test_a_failing_step_after_the_task_puts_the_token_back_as_an_incident(
    container: Container, calls: Calls
) -> None:
    """The gateway after the task has no flow for ``ok = false``: as a job's step would, the task
    fails (an incident) and the handler's output is not kept."""
    _deploy(container, "guarded_gateway", GUARDED)
    calls.add("t.a", lambda r: {"ok": r.variables.get("fixed", False)})
    started = container.engine.start(SYSTEM, "guarded_gateway", {})
    view = container.engine.show(SYSTEM, started.id)
    assert (view.state, view.active_activities) == ("incident", ["a"])
    assert "ok" not in view.variables
    assert len(_jobs(container, TIMER_JOB)) == 1  # the task still waits: its SLA timer stays armed
    container.engine.set_variables(SYSTEM, started.id, {"fixed": True})
    container.jobs.retry(SYSTEM, view.incidents[0].id)
    container.job_runner("w").run_until_idle()
    assert container.engine.show(SYSTEM, started.id).state == "completed"
    assert calls.keys() == [(f"{started.id}:a:1", 1)] * 2


class Crash(BaseException):
    """A worker dying in the middle of a step (not an error the engine handles)."""


def test_a_crash_before_the_commit_runs_the_handler_again_with_the_same_key(
    container: Container, calls: Calls
) -> None:
    body = CHAIN.replace(_flow("f1", "start", "a"), _flow("f1", "start", "first")).replace(
        '<startEvent id="start"/>',
        '<startEvent id="start"/><userTask id="first"/>' + _flow("f0", "first", "a"),
    )
    _deploy(container, "crashing", body)
    calls.add("t.a", lambda r: {"a_done": True})
    calls.add("t.b", lambda r: {})
    started = container.engine.start(SYSTEM, "crashing", {})
    (task,) = container.tasks.list(SYSTEM, instance_id=started.id)
    calls.fail["t.b"] = [Crash()]
    with pytest.raises(Crash):
        container.tasks.complete(SYSTEM, task.id, {})
    view = container.engine.show(SYSTEM, started.id)
    assert view.active_activities == ["first"]  # the whole step rolled back
    assert "a_done" not in view.variables
    container.tasks.complete(SYSTEM, task.id, {})
    assert container.engine.show(SYSTEM, started.id).active_activities == ["review"]
    key_a, key_b = f"{started.id}:a:1", f"{started.id}:b:1"
    assert calls.keys() == [(key_a, 1), (key_b, 1), (key_a, 1), (key_b, 1)]


def test_inline_tasks_in_one_step_are_bounded(container: Container, calls: Calls) -> None:
    _deploy(container, "looping", LOOP)
    calls.add("t.a", lambda r: {"n": r.variables.get("n", 0) + 1})
    started = container.engine.start(SYSTEM, "looping", {})
    view = container.engine.show(SYSTEM, started.id)
    assert view.variables["n"] == MAX_INLINE
    (job,) = _jobs(container)  # the next round of the loop is a job
    assert (job.kind, job.payload["n"], job.attempts) == (SERVICE_JOB, "a", 0)
    container.job_runner("w").run_until_idle()
    view = container.engine.show(SYSTEM, started.id)
    assert (view.state, view.variables["n"]) == ("completed", 120)
    assert len(calls.seen) == 120


def test_the_demo_runs_its_service_tasks_inline(container: Container) -> None:
    deploy_demo_decisions(SYSTEM, container.decisions)
    deploy_demo_processes(SYSTEM, container.models)
    started = container.engine.start(SYSTEM, "SAL-ORD-001", {"order_id": "SO-1"}, business_key="SO-1")
    (task,) = container.tasks.list(SYSTEM, instance_id=started.id)
    container.tasks.complete(SYSTEM, task.id, {"customer": "ACME", "amount": 1000, "quantity": 5})
    assert _jobs(container) == []  # the stock check ran in the completion, its SLA timer never written
    (approval,) = container.tasks.list(SYSTEM, instance_id=started.id)
    assert approval.activity_id == "manager_approval"
    container.tasks.complete(principal_with(Role.APPROVER, actor="boss"), approval.id, {"approved": True})
    view = container.engine.show(SYSTEM, started.id)
    assert view.state == "completed"
    assert view.variables["in_stock"] is True
    assert view.variables["finance_notified"] is True
    assert view.variables["reservation_id"].startswith("RSV-")
    assert _jobs(container) == []


def test_the_demo_escalates_when_an_inline_stock_check_fails_and_stays_late(
    container: Container, clock: FakeClock
) -> None:
    deploy_demo_decisions(SYSTEM, container.decisions)
    deploy_demo_processes(SYSTEM, container.models)
    erp = {"down": True}
    escalated: list[str] = []

    def check_stock(request: ServiceRequest) -> dict[str, bool]:
        if erp["down"]:
            raise TargetUnavailable("ERP does not answer")
        return {"in_stock": True}

    def escalate(request: ServiceRequest) -> dict[str, bool]:
        escalated.append(request.idempotency_key)
        return {"stock_check_escalated": True}

    container.engine.handlers.register("demo.check-stock", check_stock, inline=True)
    container.engine.handlers.register("demo.escalate", escalate, inline=True)
    started = container.engine.start(SYSTEM, "SAL-ORD-001", {"order_id": "SO-9"}, business_key="SO-9")
    (task,) = container.tasks.list(SYSTEM, instance_id=started.id)
    container.tasks.complete(SYSTEM, task.id, {"customer": "ACME", "amount": 1000, "quantity": 5})
    # attempt 1 failed inline: the task waits for its job, and its SLA timer is armed
    assert sorted(j.kind for j in _jobs(container)) == [SERVICE_JOB, TIMER_JOB]
    runner = container.job_runner("w")
    for _ in range(3):  # attempts 2–4 fail too: the ERP stays down
        clock.advance(minutes=3)
        runner.run_until_idle()
    clock.advance(minutes=2)  # 11 minutes: the timer fires, escalate runs inline in the timer's step
    runner.run_until_idle()
    assert escalated == [f"{started.id}:escalate:1"]
    view = container.engine.show(SYSTEM, started.id)
    assert "stock_check_late" in view.completed_activities
    assert view.variables["stock_check_escalated"] is True
    assert [n["recipient"] for n in view.as_dict()["notifications"]] == ["process_owner"]
    assert view.state == "incident"  # 1 inline + 3 job attempts (retries="3" in the model)
    erp["down"] = False
    container.jobs.retry(SYSTEM, view.incidents[0].id)
    runner.run_until_idle()
    with container.database.unit_of_work() as uow:
        open_tasks = uow.user_tasks.find(TaskQuery(instance_id=started.id))
    assert [t.activity_id for t in open_tasks] == ["manager_approval"]
