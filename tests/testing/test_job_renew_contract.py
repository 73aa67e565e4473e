"""``JobRepository.renew`` behaves alike in memory, on SQLite and on PostgreSQL: it extends a live
claim's lease (so the job is not claimable until the new deadline) and refuses any stale claim."""

from __future__ import annotations

from datetime import timedelta

from isthmus.jobs import NewJob
from isthmus.services.ports import UnitOfWorkFactory
from tests.testing.test_contracts import T0, pg_database, sqlite_template, uow_factory  # noqa: F401


def test_renew_extends_a_live_claim_and_refuses_a_stale_one(uow_factory: UnitOfWorkFactory) -> None:  # noqa: F811
    with uow_factory() as uow:
        uow.jobs.enqueue(NewJob(kind="pull"), T0)
        uow.commit()
    with uow_factory() as uow:
        (job,) = uow.jobs.claim("w1", T0, 60, 1)
        assert uow.jobs.renew(job.id, "w1", job.attempts, T0 + timedelta(seconds=50), 60)
        # the lease now runs to T0+110 s: not claimable at T0+100 s, though 60 s have passed
        assert uow.jobs.claim("w2", T0 + timedelta(seconds=100), 60, 1) == []
        (again,) = uow.jobs.claim("w2", T0 + timedelta(seconds=111), 60, 1)
        assert not uow.jobs.renew(job.id, "w1", job.attempts, T0 + timedelta(seconds=112), 60)  # w1 lost it
        assert not uow.jobs.renew(job.id, "w2", job.attempts, T0 + timedelta(seconds=112), 60)  # old attempt
        assert uow.jobs.renew(again.id, "w2", again.attempts, T0 + timedelta(seconds=112), 60)
        assert uow.jobs.complete(again.id, "w2", T0 + timedelta(seconds=113))
        assert not uow.jobs.renew(again.id, "w2", again.attempts, T0 + timedelta(seconds=114), 60)  # done
