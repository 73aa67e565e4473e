"""Running jobs: claim, execute each in its own transaction, then complete, retry or give up.

A handler's database effects commit in the same transaction as the job's completion, so a worker
that dies midway leaves no half effect: the lease runs out and another worker runs the job again.
Effects outside the database must carry an idempotency key (the job id is a good one).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, cast, runtime_checkable

from isthmus.errors import IsthmusError, NotFound, Terminal, is_retryable
from isthmus.jobs import Job, JobId, JobState, RetryPolicy
from isthmus.security import Principal
from isthmus.services import audit
from isthmus.services.ports import Clock, JobHandler, UnitOfWork, UnitOfWorkFactory

log = logging.getLogger("isthmus.jobs")

DEFAULT_LEASE_S = 300.0


@runtime_checkable
class PreparedHandler(Protocol):
    """A handler with work that must run outside the job's transaction, before it opens.

    ``prepare`` may commit its own transactions (a flow's pull commits chunk by chunk, which SQLite's
    single writer would not allow inside the job's); it must be idempotent, because a worker that
    dies after it and before the job completes leaves the job to run again.
    """

    def prepare(self, job: Job) -> None: ...

    def __call__(self, job: Job, uow: UnitOfWork) -> None: ...


class Runner(Protocol):
    """What a worker loop drives: :class:`JobRunner` or the engine's batch runner."""

    worker_id: str
    skip_kinds: tuple[str, ...]  # kinds left to a runner of their own (the delivery loop)

    def run_due(self) -> RunStats:
        """One round: claim the due jobs and run them."""

    def run_until_idle(self) -> RunStats:
        """Rounds until no job is due now; the totals."""


class UnknownJobKind(IsthmusError, Terminal):
    code = "unknown_job_kind"


@dataclass(frozen=True, slots=True)
class RunStats:
    claimed: int = 0
    done: int = 0
    retried: int = 0
    incidents: int = 0
    lost: int = 0


def _describe(error: BaseException) -> str:
    if isinstance(error, IsthmusError):
        return f"{error.code}: {error.message}"
    # Unknown errors keep their last frames: the operator needs them to fix the cause.
    return (
        "".join(traceback.format_exception_only(error)).strip()
        + "\n"
        + "".join(traceback.format_tb(error.__traceback__, limit=-3))
    )


@dataclass(frozen=True, slots=True)
class Settled:
    """What a failed attempt leaves: another attempt at ``run_at``, or an incident (``run_at`` None)."""

    run_at: datetime | None
    message: str

    @property
    def retry(self) -> bool:
        return self.run_at is not None


def settle(
    error: BaseException, attempts: int, max_attempts: int, policy: RetryPolicy, now: datetime
) -> Settled:
    """The outcome of failed attempt number ``attempts``: retried with the policy's back-off while
    the error is retryable and attempts remain, else an incident. One rule for every path that runs
    a job's work (the runners, and synchronous service tasks run inside an engine step)."""
    message = _describe(error)
    if is_retryable(error) and attempts < max_attempts:
        return Settled(now + policy.delay_after(attempts), message)
    return Settled(None, message)


class JobRunner:
    """Claims due jobs and runs them with the registered handlers."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        handlers: Mapping[str, JobHandler],
        worker_id: str,
        lease_s: float = DEFAULT_LEASE_S,
        *,
        skip_kinds: Collection[str] = (),
    ) -> None:
        self._uow = uow_factory
        self._clock = clock
        self._handlers = handlers
        self.worker_id = worker_id
        self._lease_s = lease_s
        self.skip_kinds = tuple(skip_kinds)  # left to a runner of their own (e.g. batch delivery)
        self._prepared: dict[str, bool] = {}

    def run_due(self, limit: int = 20) -> RunStats:
        with self._uow() as uow:
            claimed = uow.jobs.claim(
                self.worker_id, self._clock.now(), self._lease_s, limit, exclude_kinds=self.skip_kinds
            )
            uow.commit()
        done = retried = incidents = lost = 0
        for job in claimed:
            outcome = self._run_one(job)
            done += outcome == "done"
            retried += outcome == "retried"
            incidents += outcome == "incident"
            lost += outcome == "lost"
        return RunStats(claimed=len(claimed), done=done, retried=retried, incidents=incidents, lost=lost)

    def run_until_idle(self, max_rounds: int = 100_000) -> RunStats:
        """Run until no job is due now (future timers stay scheduled); returns the totals."""
        total = RunStats()
        for _ in range(max_rounds):
            stats = self.run_due()
            if stats.claimed == 0:
                break
            total = RunStats(
                *(
                    a + b
                    for a, b in zip(
                        (total.claimed, total.done, total.retried, total.incidents, total.lost),
                        (stats.claimed, stats.done, stats.retried, stats.incidents, stats.lost),
                        strict=True,
                    )
                )
            )
        return total

    def _is_prepared(self, kind: str, handler: JobHandler | None) -> bool:
        """Whether ``handler`` is a :class:`PreparedHandler` (a protocol check, cached per kind)."""
        found = self._prepared.get(kind)
        if found is None:
            found = self._prepared[kind] = isinstance(handler, PreparedHandler)
        return found

    def _run_one(self, job: Job) -> str:
        handler = self._handlers.get(job.kind)
        try:
            if self._is_prepared(job.kind, handler):
                cast(PreparedHandler, handler).prepare(job)
            with self._uow() as uow:
                if handler is None:
                    raise UnknownJobKind("no handler registered for job kind {kind}", kind=job.kind)
                handler(job, uow)
                if not uow.jobs.complete(job.id, self.worker_id, self._clock.now()):
                    log.warning("job %s: lease lost, its effects were rolled back", job.id)
                    return "lost"
                uow.commit()
            return "done"
        except Exception as error:
            return self._failed(job, error)

    def _failed(self, job: Job, error: BaseException) -> str:
        now = self._clock.now()
        settled = settle(error, job.attempts, job.max_attempts, job.policy, now)
        message, run_at = settled.message, settled.run_at
        with self._uow() as uow:
            if run_at is not None:
                ok = uow.jobs.reschedule(job.id, self.worker_id, error=message, run_at=run_at, now=now)
                outcome = "retried"
                log.info(
                    "job %s (%s) attempt %d failed, retry at %s: %s",
                    job.id,
                    job.kind,
                    job.attempts,
                    run_at.isoformat(),
                    message.splitlines()[0],
                )
            else:
                ok = uow.jobs.give_up(job.id, self.worker_id, error=message, now=now)
                outcome = "incident"
                log.error(
                    "job %s (%s) is an incident after %d attempt(s): %s",
                    job.id,
                    job.kind,
                    job.attempts,
                    message.splitlines()[0],
                )
            if not ok:
                return "lost"
            uow.commit()
        return outcome


class JobService:
    """What an operator does with jobs: look, and retry incidents after fixing the cause."""

    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow_factory
        self._clock = clock

    def find(self, principal: Principal, state: JobState | None = None, limit: int = 100) -> list[Job]:
        principal.require("job:read")
        with self._uow() as uow:
            return uow.jobs.list(state, limit)

    def get(self, principal: Principal, job_id: int) -> Job:
        principal.require("job:read")
        with self._uow() as uow:
            job = uow.jobs.get(JobId(job_id))
        if job is None:
            raise NotFound("no job with id {id}", id=job_id)
        return job

    def retry(self, principal: Principal, job_id: int) -> Job:
        principal.require("job:operate")
        with self._uow() as uow:
            job = uow.jobs.retry(JobId(job_id), self._clock.now())
            audit.record(uow, self._clock, principal, "job.retry", "job", str(job_id), after=job.as_dict())
            uow.commit()
        return job

    def counts(self, principal: Principal) -> dict[str, int]:
        principal.require("job:read")
        with self._uow() as uow:
            return {state.value: n for state, n in uow.jobs.counts().items()}
