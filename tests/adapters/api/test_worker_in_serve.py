"""`isthmus serve` runs jobs in-process unless --no-worker."""

from __future__ import annotations

import threading

from fastapi.testclient import TestClient

from isthmus.adapters.api.app import create_app
from isthmus.bootstrap import Container
from isthmus.jobs import Job, JobState, NewJob
from isthmus.services.ports import UnitOfWork


def test_the_embedded_worker_runs_a_queued_job(container: Container) -> None:
    ran = threading.Event()

    def handler(job: Job, uow: UnitOfWork) -> None:
        ran.set()

    container.job_handlers["test.ping"] = handler
    with container.database.unit_of_work() as uow:
        job_id = uow.jobs.enqueue(NewJob(kind="test.ping"), container.clock.now())
        uow.commit()
    with TestClient(create_app(container, run_worker=True)):
        assert ran.wait(timeout=30)
    with container.database.unit_of_work() as uow:
        job = uow.jobs.get(job_id) if job_id else None
    assert job is not None
    assert job.state is JobState.DONE


def test_without_the_worker_jobs_stay_queued(container: Container) -> None:
    with container.database.unit_of_work() as uow:
        uow.jobs.enqueue(NewJob(kind="test.ping"), container.clock.now())
        uow.commit()
    with TestClient(create_app(container, run_worker=False)) as client:
        assert client.get("/api/v1/health").status_code == 200
    with container.database.unit_of_work() as uow:
        assert uow.jobs.counts() == {JobState.READY: 1}
