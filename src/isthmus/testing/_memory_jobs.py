"""The job queue in memory, like ``adapters/storage/job_queue.py``.

A claim happens under the store's lock (like SQLite's write lock), so two workers never take the
same job; a claimed job carries a lease in ``Tables.leases``, and a worker whose lease ran out and
whose job another worker claimed has its late ``complete`` refused.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from isthmus.errors import Conflict, NotFound
from isthmus.jobs import Job, JobId, JobState, NewJob
from isthmus.testing._memory_tables import Tables, fresh, json_value, utc

MAX_ERROR_CHARS = 4000
# The SQL claim looks at this many candidates per wanted job (``LIMIT limit * 4``); mirrored so
# both pick the same jobs when many due jobs share a serial key.
_CANDIDATE_FACTOR = 4


def _order(job: Job) -> tuple[datetime, int]:
    return job.run_at, job.id


class InMemoryJobRepository:
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    def enqueue_many(self, new_jobs: Sequence[NewJob], now: datetime) -> None:
        for job in new_jobs:
            self.enqueue(job, now)

    def enqueue(self, job: NewJob, now: datetime) -> JobId | None:
        if job.dedupe_key is not None and any(j.dedupe_key == job.dedupe_key for j in self._t.jobs.values()):
            return None
        now = utc(now)
        job_id = JobId(self._t.next_job_id)
        self._t.next_job_id += 1
        self._t.jobs[job_id] = Job(
            id=job_id,
            kind=job.kind,
            payload=json_value(job.payload),
            state=job.state,
            attempts=job.attempts,
            max_attempts=job.policy.max_attempts,
            run_at=utc(job.run_at or now),
            serial_key=job.serial_key,
            dedupe_key=job.dedupe_key,
            last_error=job.last_error,
            created_at=now,
            updated_at=now,
            policy=job.policy,
        )
        return job_id

    def _due(self, job: Job, now: datetime) -> bool:
        if job.state is JobState.READY:
            return job.run_at <= now
        return job.state is JobState.RUNNING and self._t.leases[job.id] < now

    def _serial_busy(self, job: Job, now: datetime) -> bool:
        """Another job of the same serial key is running under a live lease."""
        return any(
            other.serial_key == job.serial_key
            and other.id != job.id
            and other.state is JobState.RUNNING
            and self._t.leases[other.id] >= now
            for other in self._t.jobs.values()
        )

    def claim(
        self,
        worker: str,
        now: datetime,
        lease_s: float,
        limit: int,
        *,
        kinds: Collection[str] = (),
        exclude_kinds: Collection[str] = (),
    ) -> list[Job]:
        candidates = sorted(
            (
                j
                for j in self._t.jobs.values()
                if self._due(j, now)
                and (not kinds or j.kind in kinds)
                and j.kind not in exclude_kinds
                and (j.serial_key is None or not self._serial_busy(j, now))
            ),
            key=_order,
        )[: limit * _CANDIDATE_FACTOR]
        chosen: list[Job] = []
        serials: set[str] = set()
        for job in candidates:
            if job.serial_key is not None:
                if job.serial_key in serials:
                    continue  # one job per serial key per claim
                serials.add(job.serial_key)
            chosen.append(job)
            if len(chosen) == limit:
                break
        claimed = []
        for job in chosen:
            running = replace(
                job, state=JobState.RUNNING, locked_by=worker, attempts=job.attempts + 1, updated_at=utc(now)
            )
            self._t.jobs[job.id] = running
            self._t.leases[job.id] = utc(now) + timedelta(seconds=lease_s)
            claimed.append(fresh(running))
        return claimed

    def _finish(self, job_id: JobId, worker: str, now: datetime, **values: Any) -> bool:
        job = self._t.jobs.get(job_id)
        if job is None or job.locked_by != worker or job.state is not JobState.RUNNING:
            return False
        self._t.jobs[job_id] = replace(job, locked_by=None, updated_at=utc(now), **values)
        self._t.leases.pop(job_id, None)
        return True

    def complete(self, job_id: JobId, worker: str, now: datetime) -> bool:
        return self._finish(job_id, worker, now, state=JobState.DONE, last_error=None)

    def complete_many(self, job_ids: list[JobId], worker: str, now: datetime) -> bool:
        return all([self.complete(job_id, worker, now) for job_id in job_ids])

    def reschedule(self, job_id: JobId, worker: str, *, error: str, run_at: datetime, now: datetime) -> bool:
        return self._finish(
            job_id, worker, now, state=JobState.READY, run_at=utc(run_at), last_error=error[:MAX_ERROR_CHARS]
        )

    def give_up(self, job_id: JobId, worker: str, *, error: str, now: datetime) -> bool:
        return self._finish(job_id, worker, now, state=JobState.INCIDENT, last_error=error[:MAX_ERROR_CHARS])

    def get(self, job_id: JobId) -> Job | None:
        job = self._t.jobs.get(job_id)
        return None if job is None else fresh(job)

    def list(self, state: JobState | None = None, limit: int = 100) -> list[Job]:
        newest_first = sorted(self._t.jobs.values(), key=lambda j: j.id, reverse=True)
        return [fresh(j) for j in newest_first if state is None or j.state is state][:limit]

    def retry(self, job_id: JobId, now: datetime) -> Job:
        job = self._t.jobs.get(job_id)
        if job is None:
            raise NotFound("no job with id {id}", id=job_id)
        if job.state not in (JobState.INCIDENT, JobState.CANCELLED):
            raise Conflict(
                "job {id} is {state}; only incidents and cancelled jobs can be retried",
                id=job_id,
                state=job.state.value,
            )
        retried = replace(job, state=JobState.READY, run_at=utc(now), attempts=0, updated_at=utc(now))
        self._t.jobs[job_id] = retried
        return fresh(retried)

    def next_due(self, *, exclude_kinds: Collection[str] = ()) -> datetime | None:
        return min(
            (
                j.run_at
                for j in self._t.jobs.values()
                if j.state is JobState.READY and j.kind not in exclude_kinds
            ),
            default=None,
        )

    def counts(self) -> dict[JobState, int]:
        return dict(Counter(j.state for j in self._t.jobs.values()))

    def renew(self, job_id: JobId, worker: str, attempt: int, now: datetime, lease_s: float) -> bool:
        job = self._t.jobs.get(job_id)
        if (
            job is None
            or job.locked_by != worker
            or job.attempts != attempt
            or job.state is not JobState.RUNNING
        ):
            return False
        self._t.leases[job_id] = utc(now) + timedelta(seconds=lease_s)
        return True
