"""Running due jobs in batches: many instances' engine steps in one transaction.

Safe because a claim returns at most one job per serial key (= instance), so the steps of a batch
touch disjoint instances; each step still commits together with the jobs it causes. Only the
engine's own job kinds (service tasks and timers) run together; every other kind (flow
deliveries, migrations, schedules, handlers with a ``prepare`` step) runs one job per transaction
through the ordinary :class:`~isthmus.services.jobs.JobRunner` path, claimed a few at a time so
their leases do not run out while they wait.

When a job of a batch raises, the batch is rolled back, that job is failed exactly as the
:class:`JobRunner` would fail it (retry with back-off or incident: its handler is not called a
second time in this round) and the others run again as one batch; a second failure, or one that
names no job (a lost lease, a conflict at commit), runs the rest one by one. A failure costs
throughput, never correctness: the service calls of the rolled-back steps are repeated with the
same idempotency keys.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping

from isthmus.jobs import Job
from isthmus.services.engine_steps import SERVICE_JOB, TIMER_JOB
from isthmus.services.jobs import DEFAULT_LEASE_S, JobRunner, PreparedHandler, RunStats
from isthmus.services.ports import Clock, JobHandler, UnitOfWork, UnitOfWorkFactory

log = logging.getLogger("isthmus.engine")

#: the job kinds whose handlers are engine steps keyed by instance (``serial_key`` = instance id)
ENGINE_KINDS = frozenset({SERVICE_JOB, TIMER_JOB})
#: other jobs claimed per round, run one per transaction (as :class:`JobRunner` does)
SINGLE_LIMIT = 20


class _Failed(Exception):
    """A job's handler raised inside a batch: which job, and the error."""

    def __init__(self, job: Job, error: Exception) -> None:
        super().__init__(str(error))
        self.job, self.error = job, error


def _add(a: RunStats, b: RunStats) -> RunStats:
    return RunStats(
        a.claimed + b.claimed,
        a.done + b.done,
        a.retried + b.retried,
        a.incidents + b.incidents,
        a.lost + b.lost,
    )


def _stats(claimed: int, outcomes: list[str]) -> RunStats:
    return RunStats(
        claimed=claimed,
        done=outcomes.count("done"),
        retried=outcomes.count("retried"),
        incidents=outcomes.count("incident"),
        lost=outcomes.count("lost"),
    )


class BatchRunner:
    """Claims due jobs and runs the engine's ones many to a transaction; same interface as
    :class:`JobRunner` (``run_due``, ``run_until_idle``, ``worker_id``)."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        handlers: Mapping[str, JobHandler],
        worker_id: str,
        *,
        batch: int = 200,
        lease_s: float = DEFAULT_LEASE_S,
        together: Collection[str] = ENGINE_KINDS,
        single_limit: int = SINGLE_LIMIT,
        skip_kinds: Collection[str] = (),
    ) -> None:
        self._uow = uow_factory
        self._clock = clock
        self._handlers = handlers
        self._batch = max(1, batch)
        self._single = JobRunner(uow_factory, clock, handlers, worker_id, lease_s, skip_kinds=skip_kinds)
        self.skip_kinds = tuple(skip_kinds)  # left to a runner of their own (e.g. batch delivery)
        self.worker_id = worker_id
        self._lease_s = lease_s
        self._single_limit = single_limit
        # kinds with a prepare step commit on their own before the job's transaction: never batched
        self._together = frozenset(
            kind for kind in together if not isinstance(handlers.get(kind), PreparedHandler)
        )

    def run_due(self, limit: int | None = None) -> RunStats:
        """One round: claim up to ``batch`` engine jobs and a few others (each at most ``limit``),
        then run them."""
        together, single = self._claim(limit)
        outcomes: list[str] = []
        if together:
            outcomes += self._run_batch(together)
        outcomes += [self._single._run_one(job) for job in single]
        return _stats(len(together) + len(single), outcomes)

    def _claim(self, limit: int | None) -> tuple[list[Job], list[Job]]:
        now = self._clock.now()
        batch = self._batch if limit is None else min(limit, self._batch)
        few = self._single_limit if limit is None else min(limit, self._single_limit)
        with self._uow() as uow:
            together = (
                uow.jobs.claim(
                    self.worker_id,
                    now,
                    self._lease_s,
                    batch,
                    kinds=self._together,
                    exclude_kinds=self.skip_kinds,
                )
                if self._together  # no kinds would mean every kind
                else []
            )
            single = uow.jobs.claim(
                self.worker_id, now, self._lease_s, few, exclude_kinds=(*self._together, *self.skip_kinds)
            )
            uow.commit()
        return together, single

    def _run_batch(self, jobs: list[Job]) -> list[str]:
        pending = jobs
        outcomes: list[str] = []
        for _ in range(2):
            try:
                self._run_together(pending)
                return outcomes + ["done"] * len(pending)
            except _Failed as failed:
                log.info(
                    "batch of %d jobs: job %s failed (%s); the others run again",
                    len(pending),
                    failed.job.id,
                    failed.error,
                )
                outcomes.append(self._single._failed(failed.job, failed.error))
                pending = [job for job in pending if job.id != failed.job.id]
                if not pending:
                    return outcomes
            except Exception as error:  # a lost lease or a conflict at commit: one by one
                log.info("batch of %d jobs failed (%s); running them one by one", len(pending), error)
                break
        return outcomes + [self._single._run_one(job) for job in pending]

    def _run_together(self, jobs: list[Job]) -> None:
        with self._uow() as uow:
            # engine jobs: the serial key is the instance id
            uow.instances.preload([job.serial_key for job in jobs if job.serial_key is not None])
            for job in jobs:
                self._handle(job, uow)
            if not uow.jobs.complete_many([job.id for job in jobs], self.worker_id, self._clock.now()):
                raise LookupError("a lease of the batch was lost")
            uow.commit()

    def _handle(self, job: Job, uow: UnitOfWork) -> None:
        handler = self._handlers.get(job.kind)
        if handler is None:
            raise LookupError(f"no handler for job kind {job.kind}")  # JobRunner makes it an incident
        try:
            handler(job, uow)
        except Exception as error:
            raise _Failed(job, error) from error

    def run_until_idle(self, max_rounds: int = 1_000_000) -> RunStats:
        """Run until no job is due now (future timers stay scheduled); returns the totals."""
        total = RunStats()
        for _ in range(max_rounds):
            stats = self.run_due()
            if stats.claimed == 0:
                break
            total = _add(total, stats)
        return total
