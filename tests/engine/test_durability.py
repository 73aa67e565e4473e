"""The engine on the real job queue (SQLite and PostgreSQL): steps and the jobs they cause commit
together, service calls carry one idempotency key across retries, timers are due jobs, and a step
that fails rolls back everything it did."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from isthmus.bootstrap import Container
from isthmus.engine import EngineIncident
from isthmus.security import SYSTEM
from isthmus.services.service_tasks import ServiceRequest
from isthmus.testing import FakeClock
from tests.engine.harness import DATA


def _deploy(container: Container, *names: str) -> None:
    for name in names:
        container.models.deploy(SYSTEM, (DATA / name).read_bytes(), name)


def test_service_task_effect_once_per_key_even_when_the_commit_fails(container: Container) -> None:
    _deploy(container, "service.bpmn")
    effects: dict[str, int] = {}
    failures = [True]

    def reserve(request: ServiceRequest) -> Mapping[str, Any]:
        effects[request.idempotency_key] = effects.get(request.idempotency_key, 0) + 1
        if failures.pop() if failures else False:
            raise ConnectionError("lost the connection after the call")
        return {"reserved": True}

    container.engine.handlers.register("reserve", reserve)
    started = container.engine.start(SYSTEM, "service", {})
    runner = container.job_runner("w-test")
    runner.run_until_idle()
    assert container.engine.show(SYSTEM, started.id).state == "active"  # the failed attempt left nothing
    assert isinstance(container.clock, FakeClock)
    container.clock.advance(seconds=30)
    runner.run_until_idle()
    view = container.engine.show(SYSTEM, started.id)
    assert view.state == "completed"
    assert view.variables["reserved"] is True
    assert list(effects.values()) == [2]  # the same key both times: the handler can deduplicate


def test_timers_are_jobs_run_by_the_worker(container: Container) -> None:
    _deploy(container, "timers.bpmn")
    started = container.engine.start(SYSTEM, "timers", {})
    runner = container.job_runner("w-test")
    assert runner.run_until_idle().claimed == 0  # not due yet
    assert isinstance(container.clock, FakeClock)
    container.clock.advance(hours=1)
    runner.run_until_idle()
    assert [t.activity_id for t in container.tasks.list(SYSTEM, instance_id=started.id)] == ["work"]
    container.clock.advance(hours=1, minutes=1)
    for _ in range(4):
        runner.run_until_idle()
    view = container.engine.show(SYSTEM, started.id)
    assert view.completed_activities.count("remind") == 2
    assert [t.activity_id for t in container.tasks.list(SYSTEM, instance_id=started.id)] == ["escalated"]


def test_a_failing_step_changes_nothing(container: Container) -> None:
    _deploy(container, "service.bpmn")
    started = container.engine.start(SYSTEM, "service", {})
    before = container.engine.show(SYSTEM, started.id)
    with container.database.unit_of_work() as uow, pytest.raises(EngineIncident, match="not waiting"):
        container.engine.stepper.step(uow, started.id, lambda w: w.complete(999, {}), actor=None)
    after = container.engine.show(SYSTEM, started.id)
    assert after.instance.revision == before.instance.revision
    assert after.completed_activities == before.completed_activities


def test_batches_of_steps_fall_back_to_one_by_one_on_a_failure(container: Container) -> None:
    from isthmus.services.engine_batch import BatchRunner

    _deploy(container, "service.bpmn")

    def reserve(request: ServiceRequest) -> Mapping[str, Any]:
        if request.variables.get("n") == 2:
            raise ConnectionError("ERP down for this one")
        return {"reserved": True}

    container.engine.handlers.register("reserve", reserve)
    started = container.engine.start_many(SYSTEM, "service", [({"n": i}, f"B-{i}") for i in range(5)])
    stats = BatchRunner(
        container.database.unit_of_work, container.clock, container.job_handlers, "b"
    ).run_until_idle()
    assert (stats.done, stats.retried) == (4, 1)
    states = [container.engine.show(SYSTEM, s.id).state for s in started]
    assert states == ["completed", "completed", "active", "completed", "completed"]
