"""`isthmus serve` with its in-process worker starts the hourly retention purge; without it, nothing."""

from __future__ import annotations

from fastapi.testclient import TestClient

from isthmus.adapters.api.app import create_app
from isthmus.bootstrap import Container
from isthmus.services.retention import PURGE


def _purge_jobs(container: Container) -> int:
    with container.database.unit_of_work() as uow:
        return sum(j.kind == PURGE for j in uow.jobs.list(None, 100))


def test_the_embedded_worker_starts_the_retention_chain(container: Container) -> None:
    with TestClient(create_app(container, run_worker=False)):
        pass
    assert _purge_jobs(container) == 0
    with TestClient(create_app(container, run_worker=True)):
        pass
    assert _purge_jobs(container) >= 1
