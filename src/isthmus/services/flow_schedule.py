"""Running flows on their cron or poll triggers, durably, once per due time.

The schedule lives in the job queue: each deployed version of a flow with a ``cron`` or ``poll``
trigger has one ``flow.schedule`` job with the next due time as its ``run_at``. Running it pulls
what is new at the flow's source and enqueues the following due time in the transaction that
completes the job, so the chain never breaks and never forks:

- **one run per due time, however many workers**: each job's ``dedupe_key`` is
  ``flow-schedule:<flow>:v<version>:<due>`` (a second enqueue of the same due time is a no-op),
  the queue hands a job to one worker at a time, and the ``serial_key`` keeps two runs of one flow
  from overlapping;
- **missed runs after downtime run once**: the next due time is computed from *now*, not from the
  missed one — a worker back after three days runs the 22:00 job once and schedules tonight's;
- **a new version replaces the chain**: deploying schedules the new version's first run, and a job
  of an older version ends without a successor.

The pull itself (``FlowRun``: files and SQL sources, ``adapters/connectors/sources.py``) commits
chunk by chunk in its own transactions, so it runs in :meth:`FlowScheduler.prepare`, before the
job's transaction opens (SQLite allows one writer). A crash between the two repeats the pull on the
next claim; the source's cursor and the outbox's idempotency keys make that repetition harmless.

A pull may outlast the job's lease (300 s): a large file, a slow ERP. So the pull calls a
checkpoint (:class:`JobLease`) after each chunk is in the outbox and before its cursor moves, which
renews the lease in a transaction of its own — the job is never claimable while the pull makes
progress — and is also the fence: the renewal succeeds only for the claim that started this run
(worker and attempt number). A worker that stalled past its lease and lost the job to another gets
:class:`LeaseLost` at its next checkpoint, before it moves the cursor, and its completing
transaction (which enqueues the next due time) is refused for the same reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from isthmus.errors import Conflict, is_retryable
from isthmus.integration import DeployedFlow, FlowDefinition, Trigger, TriggerKind, parse_flow
from isthmus.jobs import Job, JobId, JobState, NewJob, RetryPolicy
from isthmus.security import SYSTEM, Principal
from isthmus.services.jobs import DEFAULT_LEASE_S
from isthmus.services.ports import Clock, UnitOfWork, UnitOfWorkFactory

log = logging.getLogger("isthmus.flows.schedule")

SCHEDULE = "flow.schedule"
# A failing pull is tried again a few times within the due slot; then the chain moves on to the
# next due time (the error is in the log and the job's history) rather than stopping for good.
RUN_POLICY = RetryPolicy(max_attempts=3, base_delay_s=30.0, factor=2.0, max_delay_s=600.0)
Checkpoint = Callable[[], None]
# (principal, flow id, checkpoint to call after each stored chunk, before the cursor moves)
FlowRun = Callable[[Principal, str, Checkpoint], dict[str, Any]]


class LeaseLost(Conflict):
    """This run's job lease is gone (it ran out and another claim took the job): commit nothing more."""

    code = "lease_lost"


class JobLease:
    """The lease a scheduled run holds on its job: each call renews it, or raises :class:`LeaseLost`.

    The fencing token is the claim's worker id and attempt number, both stored on the job row: a
    later claim (even by the same worker) counts another attempt, so an old run cannot renew."""

    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, job: Job, lease_s: float) -> None:
        if job.locked_by is None:
            raise ValueError(f"job {job.id} was not claimed")
        self._uow = uow_factory
        self._clock = clock
        self.job = job
        self.worker = job.locked_by
        self._lease_s = lease_s
        self.renewals = 0

    def holds(self, uow: UnitOfWork) -> bool:
        """Whether this run still holds the job, read in ``uow``'s transaction."""
        current = uow.jobs.get(self.job.id)
        return (
            current is not None
            and current.state is JobState.RUNNING
            and current.locked_by == self.worker
            and current.attempts == self.job.attempts
        )

    def __call__(self) -> None:
        with self._uow() as uow:
            if not uow.jobs.renew(
                self.job.id, self.worker, self.job.attempts, self._clock.now(), self._lease_s
            ):
                raise LeaseLost(
                    "job {id}: the lease of this run was lost to another claim; nothing more of it is committed",
                    id=self.job.id,
                )
            uow.commit()
        self.renewals += 1


def next_due(trigger: Trigger, after: datetime) -> datetime | None:
    """The first due time strictly after ``after``; None for a trigger that is not scheduled."""
    if trigger.kind is TriggerKind.CRON and trigger.cron is not None:
        return trigger.cron.next_after(after)
    if trigger.kind is TriggerKind.POLL and trigger.interval_s:
        return after + timedelta(seconds=trigger.interval_s)
    return None


def _job(flow_id: str, version: int, due: datetime, *, first: bool = False) -> NewJob:
    slot = "first" if first else due.isoformat()
    return NewJob(
        kind=SCHEDULE,
        payload={"flow": flow_id, "version": version, "due": due.isoformat()},
        run_at=due,
        serial_key=f"flow-schedule:{flow_id}",
        dedupe_key=f"flow-schedule:{flow_id}:v{version}:{slot}",
        policy=RUN_POLICY,
    )


def schedule_first(
    uow: UnitOfWork, deployed: DeployedFlow, flow: FlowDefinition, now: datetime
) -> JobId | None:
    """Enqueue the first run of a newly deployed version (in the deploying transaction).

    Idempotent per version: deploying, or :meth:`FlowScheduler.ensure`, twice enqueues once."""
    due = next_due(flow.trigger, now)
    if due is None:
        return None
    return uow.jobs.enqueue(_job(deployed.flow_id, deployed.version, due, first=True), now)


@dataclass(frozen=True, slots=True)
class Upcoming:
    """A scheduled flow's next run, for a person to see."""

    flow_id: str
    version: int
    due: datetime
    trigger: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "flow": self.flow_id,
            "version": self.version,
            "due": self.due.isoformat(),
            "trigger": self.trigger,
        }


class FlowScheduler:
    """The ``flow.schedule`` job handler (a :class:`PreparedHandler`), and what an operator sees."""

    def __init__(
        self, uow_factory: UnitOfWorkFactory, clock: Clock, run: FlowRun, lease_s: float = DEFAULT_LEASE_S
    ) -> None:
        self._uow = uow_factory
        self._clock = clock
        self._run = run
        self._lease_s = lease_s  # the job runner's lease (the worker uses the default)
        self.runs: list[tuple[str, str]] = []  # (flow, due) pulled by this process, newest last

    @staticmethod
    def _current(uow: UnitOfWork, job: Job) -> tuple[DeployedFlow, FlowDefinition] | None:
        """The flow the job belongs to, or None when a newer version (or none) replaced it."""
        deployed = uow.flows.get(str(job.payload["flow"]))
        if deployed is None or deployed.version != int(job.payload["version"]):
            return None
        return deployed, parse_flow(deployed.text, file=f"{deployed.flow_id} v{deployed.version}")

    def prepare(self, job: Job) -> None:
        """Outside any transaction: pull the flow's source into its outbox."""
        flow_id = str(job.payload["flow"])
        with self._uow() as uow:
            current = self._current(uow, job)
        if current is None:
            return  # superseded: the new version has its own chain
        lease = JobLease(self._uow, self._clock, job, self._lease_s)
        try:
            lease()  # fenced from the start: a claim that is already stale pulls nothing
            result = self._run(SYSTEM, flow_id, lease)
        except LeaseLost:
            log.warning("scheduled run of %s due %s lost its lease; stopped", flow_id, job.payload["due"])
            raise
        except Exception as error:
            if is_retryable(error) and job.attempts < job.max_attempts:
                raise  # the queue tries this due time again with backoff
            log.error(
                "scheduled run of %s due %s failed; next run as scheduled: %s",
                flow_id,
                job.payload["due"],
                error,
            )
            return
        self.runs.append((flow_id, str(job.payload["due"])))
        log.info("scheduled run of %s due %s: %s", flow_id, job.payload["due"], result)

    def __call__(self, job: Job, uow: UnitOfWork) -> None:
        """In the completing transaction: enqueue the next due time (computed from now) — only
        while this run still holds the job (the fence; the job's completion checks it again)."""
        if job.locked_by is not None and not JobLease(self._uow, self._clock, job, self._lease_s).holds(uow):
            raise LeaseLost("job {id}: the lease of this run was lost to another claim", id=job.id)
        current = self._current(uow, job)
        if current is None:
            return
        deployed, flow = current
        now = self._clock.now()
        due = next_due(flow.trigger, max(now, datetime.fromisoformat(str(job.payload["due"]))))
        if due is not None:
            uow.jobs.enqueue(_job(deployed.flow_id, deployed.version, due), now)

    def ensure(self) -> int:
        """Schedule the first run of every scheduled flow whose current version has none yet
        (flows deployed before the scheduler existed); returns how many were added."""
        added = 0
        with self._uow() as uow:
            now = self._clock.now()
            for deployed in uow.flows.list():
                flow = parse_flow(deployed.text, file=deployed.flow_id)
                added += schedule_first(uow, deployed, flow, now) is not None
            uow.commit()
        return added

    def upcoming(self, principal: Principal) -> list[Upcoming]:
        """The next run of every scheduled flow, soonest first."""
        principal.require("flow:read")
        with self._uow() as uow:
            latest = {d.flow_id: d for d in uow.flows.list()}
            found: dict[str, Upcoming] = {}
            for job in uow.jobs.list(JobState.READY, limit=10_000):
                deployed = latest.get(str(job.payload.get("flow"))) if job.kind == SCHEDULE else None
                if deployed is None or deployed.version != job.payload.get("version"):
                    continue
                trigger = parse_flow(deployed.text).trigger.describe()
                candidate = Upcoming(deployed.flow_id, deployed.version, job.run_at, trigger)
                if deployed.flow_id not in found or candidate.due < found[deployed.flow_id].due:
                    found[deployed.flow_id] = candidate
        return sorted(found.values(), key=lambda u: u.due)
