"""Running due engine jobs in batches: many instances' steps in one transaction.

Safe because a claim returns at most one job per serial key (= instance), so the steps of a batch
touch disjoint instances; each step still commits together with the jobs it causes. When any job
of a batch fails, the batch is rolled back and its jobs run one by one through the ordinary
:class:`~isthmus.services.jobs.JobRunner` path (retries, incidents), so a failure costs
throughput, never correctness.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from isthmus.jobs import Job
from isthmus.services.jobs import DEFAULT_LEASE_S, JobRunner, RunStats
from isthmus.services.ports import Clock, JobHandler, UnitOfWorkFactory

log = logging.getLogger("isthmus.engine")


class BatchRunner:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        handlers: Mapping[str, JobHandler],
        worker_id: str,
        *,
        batch: int = 200,
        lease_s: float = DEFAULT_LEASE_S,
    ) -> None:
        self._uow = uow_factory
        self._clock = clock
        self._handlers = handlers
        self._batch = batch
        self._single = JobRunner(uow_factory, clock, handlers, worker_id, lease_s)
        self.worker_id = worker_id
        self._lease_s = lease_s

    def run_due(self) -> RunStats:
        with self._uow() as uow:
            claimed = uow.jobs.claim(self.worker_id, self._clock.now(), self._lease_s, self._batch)
            uow.commit()
        if not claimed:
            return RunStats()
        if self._run_together(claimed):
            return RunStats(claimed=len(claimed), done=len(claimed))
        outcomes = [self._single._run_one(job) for job in claimed]
        return RunStats(
            claimed=len(claimed),
            done=outcomes.count("done"),
            retried=outcomes.count("retried"),
            incidents=outcomes.count("incident"),
            lost=outcomes.count("lost"),
        )

    def _run_together(self, jobs: list[Job]) -> bool:
        try:
            with self._uow() as uow:
                preload = getattr(uow.instances, "preload", None)
                if preload is not None:  # engine jobs: the serial key is the instance id
                    preload([job.serial_key for job in jobs if job.serial_key is not None])
                for job in jobs:
                    handler = self._handlers.get(job.kind)
                    if handler is None:
                        return False
                    handler(job, uow)
                complete_many = getattr(uow.jobs, "complete_many", None)
                if complete_many is not None:
                    if not complete_many([job.id for job in jobs], self.worker_id, self._clock.now()):
                        return False
                elif not all(uow.jobs.complete(j.id, self.worker_id, self._clock.now()) for j in jobs):
                    return False
                uow.commit()
        except Exception as error:  # one bad job: run them one by one instead
            log.info("batch of %d jobs failed (%s); running them one by one", len(jobs), error)
            return False
        return True

    def run_until_idle(self, max_rounds: int = 1_000_000) -> RunStats:
        total = RunStats()
        for _ in range(max_rounds):
            stats = self.run_due()
            if stats.claimed == 0:
                break
            total = RunStats(
                total.claimed + stats.claimed,
                total.done + stats.done,
                total.retried + stats.retried,
                total.incidents + stats.incidents,
                total.lost + stats.lost,
            )
        return total
