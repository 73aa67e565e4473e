"""Retention: finished jobs and delivered outbox messages past their period are purged.

Without it the job queue keeps every finished poll, schedule and delivery job, and the outbox every
delivered message, for ever; tables and indexes grow until claims and metrics slow down. What goes:

- **finished jobs** (done, cancelled) last updated before ``now − job retention`` (default 7 days),
  except the first job of a flow schedule or process start-timer chain: its dedupe key is what keeps
  a restarted worker from starting a second chain;
- **delivered messages** delivered before ``now − message retention`` (default 30 days). A purged
  message's idempotency key is forgotten with it: a sender retrying the same key later is accepted
  again, so keep messages longer than any sender retries. Flow metrics' all-time counts drop with it.

Never purged automatically: incidents (jobs that need an operator), dead letters and pending or
retrying messages. The worker purges once an hour (a ``retention.purge`` job chained hour to hour,
one job per hour slot however many workers), and ``isthmus job purge`` does it by hand. Rows go in
batches of :data:`BATCH`, each batch its own short transaction, so a purge never holds a long lock;
each purge that removed anything is audited (``retention.purge``, with the cut-offs and counts).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from isthmus.jobs import Job, NewJob, RetryPolicy
from isthmus.security import SYSTEM, Principal
from isthmus.services import audit
from isthmus.services.ports import Clock, UnitOfWork, UnitOfWorkFactory

log = logging.getLogger("isthmus.retention")

PURGE = "retention.purge"
BATCH = 1000
# Jobs whose dedupe key starts a chain: kept (one per flow or process version, so few).
KEEP_DEDUPE = ("flow-schedule:%:first", "start-timer:%:0")


class RetentionStore(Protocol):
    """Finds and deletes what retention allows, in bounded batches (each its own transaction)."""

    def count_jobs(self, before: datetime) -> int:
        """Finished jobs (done, cancelled) updated before ``before``, chain starters excluded."""
        ...

    def purge_jobs(self, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` of them in one transaction; how many were deleted."""
        ...

    def count_messages(self, before: datetime) -> int:
        """Delivered messages delivered before ``before``."""
        ...

    def purge_messages(self, before: datetime, limit: int) -> int: ...

    def chunk_files_in_use(self) -> set[str]:
        """Names of chunk files that messages still waiting for delivery or replay point to."""
        ...


class ChunkFiles(Protocol):
    """The chunk files of the outbox's claim checks, as retention sees them."""

    def names_older_than(self, cutoff: datetime) -> list[str]: ...

    def remove(self, name: str) -> None: ...


# A chunk file is written right before the message naming it commits: younger files are never swept.
CHUNK_GRACE = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class PurgeReport:
    jobs: int
    messages: int
    jobs_before: datetime | None
    messages_before: datetime | None
    dry_run: bool = False
    chunk_files: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "jobs": self.jobs,
            "messages": self.messages,
            "jobs_before": self.jobs_before.isoformat() if self.jobs_before else None,
            "messages_before": self.messages_before.isoformat() if self.messages_before else None,
            "dry_run": self.dry_run,
            "chunk_files": self.chunk_files,
        }


def _slot(at: datetime) -> NewJob:
    hour = at.replace(minute=0, second=0, microsecond=0)
    return NewJob(
        kind=PURGE,
        payload={"slot": hour.isoformat()},
        run_at=at,
        serial_key=PURGE,
        dedupe_key=f"{PURGE}:{hour.isoformat()}",
        policy=RetryPolicy(max_attempts=3, base_delay_s=60.0, factor=2.0, max_delay_s=900.0),
    )


class Retention:
    """Purges by the configured periods; also the ``retention.purge`` job handler (prepared:
    the batches commit on their own, before the job's transaction schedules the next hour)."""

    def __init__(
        self,
        store: RetentionStore,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        *,
        jobs: timedelta | None,
        messages: timedelta | None,
        batch: int = BATCH,
        chunks: ChunkFiles | None = None,
    ) -> None:
        self._store = store
        self._chunks = chunks
        self._uow = uow_factory
        self._clock = clock
        self.jobs = jobs
        self.messages = messages
        self._batch = batch

    def purge(
        self,
        principal: Principal,
        *,
        jobs: timedelta | None = None,
        messages: timedelta | None = None,
        dry_run: bool = False,
    ) -> PurgeReport:
        """Purge what is older than ``jobs`` / ``messages`` (default: the settings; None keeps)."""
        principal.require("job:operate")
        now = self._clock.now()
        job_age = jobs if jobs is not None else self.jobs
        message_age = messages if messages is not None else self.messages
        jobs_before = now - job_age if job_age is not None else None
        messages_before = now - message_age if message_age is not None else None
        orphans = self._orphan_chunk_files(now)
        if dry_run:
            return PurgeReport(
                self._store.count_jobs(jobs_before) if jobs_before else 0,
                self._store.count_messages(messages_before) if messages_before else 0,
                jobs_before,
                messages_before,
                dry_run=True,
                chunk_files=len(orphans),
            )
        n_jobs = self._drain(self._store.purge_jobs, jobs_before)
        n_messages = self._drain(self._store.purge_messages, messages_before)
        if self._chunks is not None:
            for name in orphans:
                self._chunks.remove(name)
        report = PurgeReport(n_jobs, n_messages, jobs_before, messages_before, chunk_files=len(orphans))
        if n_jobs or n_messages or orphans:
            with self._uow() as uow:
                audit.record(
                    uow, self._clock, principal, "retention.purge", "retention", PURGE, after=report.as_dict()
                )
                uow.commit()
            log.info(
                "retention purge: %d finished job(s), %d delivered message(s), %d orphaned chunk file(s)",
                n_jobs,
                n_messages,
                len(orphans),
            )
        return report

    def _orphan_chunk_files(self, now: datetime) -> list[str]:
        """Chunk files no live message names: left by a crash between writing the file and
        committing its message, or between a delivery's commit and the file's removal."""
        if self._chunks is None:
            return []
        old = self._chunks.names_older_than(now - CHUNK_GRACE)
        if not old:
            return []
        in_use = self._store.chunk_files_in_use()
        return [name for name in old if name not in in_use]

    def _drain(self, purge_batch: Any, before: datetime | None) -> int:
        if before is None:
            return 0
        total = 0
        while True:
            deleted = int(purge_batch(before, self._batch))
            total += deleted
            if deleted < self._batch:
                return total

    # -- the hourly job ---------------------------------------------------------------------------

    def ensure(self) -> None:
        """Start the hourly chain (idempotent: one job per hour slot, however many workers start)."""
        with self._uow() as uow:
            uow.jobs.enqueue(_slot(self._clock.now()), self._clock.now())
            uow.commit()

    def prepare(self, job: Job) -> None:
        self.purge(SYSTEM)

    def __call__(self, job: Job, uow: UnitOfWork) -> None:
        now = self._clock.now()
        uow.jobs.enqueue(_slot(now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)), now)
