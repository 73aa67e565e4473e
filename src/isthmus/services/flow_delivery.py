"""Real-time delivery in batches: many ``flow.deliver`` jobs per claim, sent concurrently.

The one-job-per-transaction path (:meth:`FlowService.deliver` run by the
:class:`~isthmus.services.jobs.JobRunner`) costs a claim share, a transaction and four statements
per message. Here one transaction claims up to ``batch`` delivery jobs, one reads their messages,
the requests go out concurrently outside any transaction (``send_all``: the adapter's thread pool
over the targets' keep-alive connections, each attempt with the flow's timeout), and one
transaction writes every outcome: delivered messages in one statement, failures retried or
dead-lettered exactly as :meth:`FlowService.record_failure` does one by one, and the jobs completed
together.

Crash safety is the job queue's: a worker that dies before the last transaction leaves its jobs
to run again when their lease ends, and the target absorbs the repeated request by its
idempotency key. When the last transaction cannot complete every job (a lease was lost to
another worker), it is rolled back and each job's outcome is written in a transaction of its own,
so only the lost ones are dropped. Chunk messages (batch flows) keep the one-by-one path.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from isthmus.integration import (
    DeployedFlow,
    FlowDefinition,
    FlowMessage,
    MessageState,
    Outbound,
    Target,
    is_chunk,
)
from isthmus.jobs import Job, JobId
from isthmus.services.integration import DELIVER, FlowService
from isthmus.services.jobs import DEFAULT_LEASE_S, JobRunner, RunStats
from isthmus.services.ports import Clock, UnitOfWork, UnitOfWorkFactory

log = logging.getLogger("isthmus.delivery")

Send = Callable[[], None]
SendAll = Callable[[Sequence[Send]], list[Exception | None]]


@dataclass(frozen=True, slots=True)
class _Attempt:
    job: Job
    message: FlowMessage
    flow: FlowDefinition
    target: Target
    outbound: Outbound


@dataclass(frozen=True, slots=True)
class Claimed:
    """A claimed batch: the requests to send, and what :meth:`BatchDelivery.finish` records."""

    claimed: int
    attempts: list[_Attempt]
    done: list[Job]
    single: list[Job]
    sends: list[Send]


class BatchDelivery:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        flows: FlowService,
        worker_id: str,
        send_all: SendAll,
        *,
        batch: int = 100,
        lease_s: float = DEFAULT_LEASE_S,
    ) -> None:
        self._uow = uow_factory
        self._clock = clock
        self._flows = flows
        self._send_all = send_all
        self.batch = batch
        self.worker_id = worker_id
        self._lease_s = lease_s
        self._versions: dict[tuple[str, int], DeployedFlow] = {}
        self._single = JobRunner(uow_factory, clock, {DELIVER: flows.delivery}, worker_id, lease_s)

    def run_due(self) -> RunStats:
        """One round: claim, send, record."""
        claimed = self.claim_due()
        if claimed is None:
            return RunStats()
        return self.finish(claimed, self._send_all(claimed.sends))

    def claim_due(self) -> Claimed | None:
        """Claim due delivery jobs and read their messages (one transaction); None when none is
        due. The caller runs the returned sends, then hands their outcomes to :meth:`finish` — a
        loop may claim the next batch meanwhile (the jobs stay leased to this worker until then).

        PostgreSQL claims and reads in one statement (:meth:`FlowRepository.claim_deliveries`);
        jobs with a serial key (a batch flow's chunks) are then claimed by the job queue's general
        claim, in the same round. That statement commits by itself: should the rest of the round's
        reading fail, its jobs wait for their lease to end, as after a crash."""
        now = self._clock.now()
        with self._uow() as uow:
            fast = uow.flows.claim_deliveries(DELIVER, self.worker_id, now, self._lease_s, self.batch)
            jobs = [] if fast is None else fast.jobs
            found, latest = ({}, {}) if fast is None else (fast.messages, fast.latest)
            if fast is None or fast.serial_due:
                more = uow.jobs.claim(
                    self.worker_id, now, self._lease_s, max(self.batch - len(jobs), 1), kinds=(DELIVER,)
                )
                if more:
                    read, versions = uow.flows.delivery_messages([int(j.payload["message"]) for j in more])
                    jobs, found, latest = jobs + more, found | read, latest | versions
            attempts, done, single = self._plan(uow, jobs, found, latest) if jobs else ([], [], [])
            uow.commit()
        if not jobs:
            return None
        return Claimed(len(jobs), attempts, done, single, [self._sender(a) for a in attempts])

    def finish(self, claimed: Claimed, errors: Sequence[Exception | None]) -> RunStats:
        """Record the outcomes of ``claimed``'s sends (``errors``, in order) and complete its jobs."""
        attempts = claimed.attempts
        outcomes = {a.job.id: e for a, e in zip(attempts, errors, strict=True)}
        lost = self._write(attempts, outcomes, claimed.done)
        others = [self._single._run_one(job) for job in claimed.single]
        return RunStats(
            claimed=claimed.claimed,
            done=len(attempts) + len(claimed.done) - lost + others.count("done"),
            retried=others.count("retried"),
            incidents=others.count("incident"),
            lost=lost + others.count("lost"),
        )

    @staticmethod
    def _sender(attempt: _Attempt) -> Send:
        target, outbound = attempt.target, attempt.outbound
        return lambda: target.send(outbound)

    def _plan(
        self, uow: UnitOfWork, claimed: list[Job], found: dict[int, FlowMessage], latest: dict[str, int]
    ) -> tuple[list[_Attempt], list[Job], list[Job]]:
        """From the jobs' messages (``found``) and their flows' latest versions: what to send, jobs
        with nothing left to do, chunks for the slow path."""
        attempts: list[_Attempt] = []
        done: list[Job] = []
        single: list[Job] = []
        deployed = self._deployed(uow, {m.flow_id for m in found.values()}, latest)
        for job in claimed:
            message = found.get(int(job.payload["message"]))
            if message is None or message.state not in (MessageState.PENDING, MessageState.RETRYING):
                done.append(job)  # delivered by an earlier run of this job, replayed, or discarded
            elif is_chunk(message.payload):
                single.append(job)
            else:
                try:
                    plan = self._flows.delivery_plan(
                        uow, deployed[message.flow_id], message, test=bool(job.payload.get("test"))
                    )
                except Exception:  # no flow, or a target that cannot open: as the one-by-one path does
                    single.append(job)
                    continue
                attempts.append(_Attempt(job, message, *plan))
        return attempts, done, single

    def _deployed(
        self, uow: UnitOfWork, flow_ids: set[str], latest: dict[str, int]
    ) -> dict[str, DeployedFlow | None]:
        """Each flow's latest version: its number read every round (with the messages), its
        definition once per version (versions never change, and the definition is the larger read)."""
        deployed: dict[str, DeployedFlow | None] = {}
        for flow_id in flow_ids:
            version = latest.get(flow_id)
            found = None if version is None else self._versions.get((flow_id, version))
            if found is None and version is not None:
                found = uow.flows.get(flow_id)
                if found is not None:
                    self._versions[(flow_id, found.version)] = found
            deployed[flow_id] = found
        return deployed

    def _write(
        self, attempts: list[_Attempt], outcomes: dict[JobId, Exception | None], done: list[Job]
    ) -> int:
        """Record every outcome and complete the jobs in one transaction; the number of jobs lost."""
        jobs = [a.job for a in attempts] + done
        try:
            with self._uow() as uow:
                if self._complete(uow, self._record(uow, attempts, outcomes), [job.id for job in jobs]):
                    uow.commit()
                    return 0
        except Exception:  # e.g. a failure's bookkeeping: write each one alone below
            log.exception("writing %d delivery outcomes together failed", len(jobs))
        lost = 0
        for job in jobs:
            mine = [a for a in attempts if a.job.id == job.id]
            with self._uow() as uow:
                if self._complete(uow, self._record(uow, mine, outcomes), [job.id]):
                    uow.commit()
                else:
                    lost += 1
        return lost

    def _complete(self, uow: UnitOfWork, delivered: list[tuple[int, int]], job_ids: list[JobId]) -> bool:
        """Mark ``delivered`` and complete the jobs (one statement on PostgreSQL, without BEGIN and
        COMMIT when no failure was written before it); False when any lease was lost, and then
        nothing is marked or completed."""
        return uow.flows.complete_delivered(
            delivered, job_ids, uow.jobs, self.worker_id, self._clock.now(), alone=True
        )

    def _record(
        self, uow: UnitOfWork, attempts: list[_Attempt], outcomes: dict[JobId, Exception | None]
    ) -> list[tuple[int, int]]:
        """Write the failures (retry, backoff, dead letter); the (message id, attempts) pairs
        delivered, for :meth:`_complete` to mark."""
        delivered: list[tuple[int, int]] = []
        for attempt in attempts:
            error = outcomes[attempt.job.id]
            if error is None:
                delivered.append((attempt.message.id, attempt.message.attempts + 1))
            else:
                self._flows.record_failure(
                    uow, attempt.job, attempt.message, attempt.message.attempts + 1, error, attempt.flow
                )
        return delivered
