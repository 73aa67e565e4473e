"""``running_alongside``: a runner working in a thread while the caller's block runs (``isthmus
flow run`` delivers chunks while the source is still read)."""

from __future__ import annotations

import threading

import pytest

from isthmus.adapters.worker.alongside import running_alongside
from isthmus.bootstrap import Container
from isthmus.errors import ConfigurationError
from isthmus.jobs import Job, JobState, NewJob
from isthmus.services.jobs import JobRunner
from isthmus.services.ports import UnitOfWork

WAIT_S = 30  # a bound on waits for the other thread, never a timing assumption


def enqueue(container: Container, kind: str) -> None:
    with container.database.unit_of_work() as uow:
        uow.jobs.enqueue(NewJob(kind=kind, payload={}), container.clock.now())
        uow.commit()


def test_jobs_stored_during_the_block_run_before_it_ends(container: Container) -> None:
    ran = threading.Event()
    threads: list[str] = []

    def handler(job: Job, uow: UnitOfWork) -> None:
        threads.append(threading.current_thread().name)
        ran.set()

    runner = JobRunner(container.database.unit_of_work, container.clock, {"test.ping": handler}, "t")
    with running_alongside(runner):
        enqueue(container, "test.ping")
        assert ran.wait(WAIT_S), "the runner never ran the job stored during the block"
    assert threads == ["isthmus-deliver-alongside"]
    with container.database.unit_of_work() as uow:
        assert [j.state for j in uow.jobs.list()] == [JobState.DONE]


def test_a_failing_runner_is_raised_when_the_block_ends(container: Container) -> None:
    class Broken:
        skip_kinds = ()

        def run_due(self) -> object:
            raise ConfigurationError("queue unreachable")

        def run_until_idle(self) -> object:
            raise AssertionError("not used")

    with (
        pytest.raises(ConfigurationError, match="queue unreachable"),
        running_alongside(Broken()),  # type: ignore[arg-type]
    ):
        pass
