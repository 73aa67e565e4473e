"""The worker's batch runner on SQLite and PostgreSQL: engine jobs of many instances run in one
transaction, a failing job is failed once (not called again in the same round) while the others
still commit, and every other job kind runs one per transaction beside them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from isthmus.adapters.worker import WorkerLoop
from isthmus.bootstrap import Container
from isthmus.jobs import Job, JobState, NewJob
from isthmus.security import SYSTEM
from isthmus.services.engine_batch import BatchRunner
from isthmus.services.ports import UnitOfWork
from isthmus.services.service_tasks import ServiceRequest
from isthmus.testing import FakeClock
from tests.engine.harness import DATA


def _service_instances(container: Container, n: int) -> list[str]:
    container.models.deploy(SYSTEM, (DATA / "service.bpmn").read_bytes(), "service.bpmn")
    return [
        s.id for s in container.engine.start_many(SYSTEM, "service", [({"n": i}, None) for i in range(n)])
    ]


def test_the_worker_runs_engine_jobs_in_batches(container: Container) -> None:
    calls: list[str] = []

    def reserve(request: ServiceRequest) -> Mapping[str, Any]:
        calls.append(request.idempotency_key)
        return {"reserved": True}

    container.engine.handlers.register("reserve", reserve)
    ids = _service_instances(container, 5)
    runner = container.job_runner("w", batch=3)
    assert isinstance(runner, BatchRunner)
    assert runner.run_due().claimed == 3  # three instances' jobs in one round (one transaction)
    stats = WorkerLoop(runner, container.database.unit_of_work, container.clock).run_until_idle()
    assert (stats.claimed, stats.done) == (2, 2)
    assert {container.engine.show(SYSTEM, i).state for i in ids} == {"completed"}
    assert len(calls) == len(set(calls)) == 5


def test_a_failing_job_is_called_once_and_the_rest_of_its_batch_commits(container: Container) -> None:
    calls: dict[int, int] = {}

    def reserve(request: ServiceRequest) -> Mapping[str, Any]:
        n = int(request.variables["n"])
        calls[n] = calls.get(n, 0) + 1
        if n in (1, 3):
            raise ConnectionError("ERP down for this one")
        return {"reserved": True}

    container.engine.handlers.register("reserve", reserve)
    ids = _service_instances(container, 6)
    stats = container.job_runner("w").run_due()
    assert (stats.claimed, stats.done, stats.retried) == (6, 4, 2)
    # 1 failed in the first try (0 ran before it), 3 in the second: each failing call happened once
    assert calls[1] == 1
    assert calls[3] == 1
    states = [container.engine.show(SYSTEM, i).state for i in ids]
    assert states == ["completed", "active", "completed", "active", "completed", "completed"]
    retried = [j for j in container.jobs.find(SYSTEM, JobState.READY) if j.serial_key in (ids[1], ids[3])]
    assert len(retried) == 2
    assert all(j.attempts == 1 and j.last_error for j in retried)
    assert isinstance(container.clock, FakeClock)
    container.clock.advance(minutes=10)
    calls.clear()
    container.engine.handlers.register("reserve", lambda r: {"reserved": True})
    assert container.job_runner("w").run_until_idle().done == 2
    assert {container.engine.show(SYSTEM, i).state for i in ids} == {"completed"}


def test_other_job_kinds_run_one_per_transaction_beside_the_engine_jobs(container: Container) -> None:
    seen: list[tuple[int, UnitOfWork]] = []  # the units of work stay alive: distinct ids

    class Other:
        def __init__(self) -> None:
            self.prepared: list[int] = []

        def prepare(self, job: Job) -> None:
            self.prepared.append(int(job.payload["k"]))

        def __call__(self, job: Job, uow: UnitOfWork) -> None:
            seen.append((int(job.payload["k"]), uow))

    other = Other()
    container.job_handlers["test.other"] = other
    container.engine.handlers.register("reserve", lambda r: {"reserved": True})
    ids = _service_instances(container, 4)
    with container.database.unit_of_work() as uow:
        for k in range(3):
            uow.jobs.enqueue(NewJob(kind="test.other", payload={"k": k}), container.clock.now())
        uow.commit()
    stats = container.job_runner("w").run_due()
    assert (stats.claimed, stats.done) == (7, 7)
    assert sorted(k for k, _ in seen) == [0, 1, 2]
    assert other.prepared == [0, 1, 2]
    assert len({id(u) for _, u in seen}) == 3  # a transaction of its own each
    assert {container.engine.show(SYSTEM, i).state for i in ids} == {"completed"}


def test_an_unknown_kind_becomes_an_incident_and_the_engine_jobs_still_run(container: Container) -> None:
    container.engine.handlers.register("reserve", lambda r: {"reserved": True})
    ids = _service_instances(container, 2)
    with container.database.unit_of_work() as uow:
        uow.jobs.enqueue(NewJob(kind="test.nobody"), container.clock.now())
        uow.commit()
    stats = container.job_runner("w").run_until_idle()
    assert (stats.done, stats.incidents) == (2, 1)
    assert {container.engine.show(SYSTEM, i).state for i in ids} == {"completed"}
