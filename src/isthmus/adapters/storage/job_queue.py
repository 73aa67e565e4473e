"""The job queue on SQL: an outbox table that workers claim from.

Claiming on PostgreSQL uses ``FOR UPDATE SKIP LOCKED`` so concurrent workers skip each other's
rows instead of waiting; on SQLite the whole claim runs under the database write lock. A claimed
job carries a lease (``locked_until``): if its worker dies, the job becomes claimable again when
the lease runs out, and the dead worker's late ``complete`` is refused because it no longer
holds the lock.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Connection, and_, bindparam, exists, func, insert, or_, select, union_all, update
from sqlalchemy.exc import IntegrityError

from isthmus.adapters.storage.engine import Prepared, deferred, load_json, new_id, send_deferred
from isthmus.adapters.storage.tables import UtcDateTime, jobs
from isthmus.errors import Conflict, NotFound
from isthmus.jobs import Job, JobId, JobState, NewJob, RetryPolicy

MAX_ERROR_CHARS = 4000

# The engine enqueues and completes several jobs per instance: statements compiled once.
_NEW_JOB_COLUMNS = (
    "kind",
    "payload",
    "state",
    "run_at",
    "attempts",
    "max_attempts",
    "policy",
    "serial_key",
    "dedupe_key",
    "last_error",
    "created_at",
    "updated_at",
)
_ENQUEUE = Prepared(insert(jobs).values({c: bindparam(c) for c in ("id", *_NEW_JOB_COLUMNS)}))
_COMPLETE = Prepared(
    update(jobs)
    .where(
        jobs.c.id == bindparam("w_id"),
        jobs.c.locked_by == bindparam("w_worker"),
        jobs.c.state == JobState.RUNNING.value,
    )
    .values(
        state=JobState.DONE.value,
        locked_by=None,
        locked_until=None,
        last_error=None,
        updated_at=bindparam("b_now"),
    )
)


def _job(row: Any) -> Job:
    return Job(
        id=JobId(row.id),
        kind=row.kind,
        payload=row.payload,
        state=JobState(row.state),
        attempts=row.attempts,
        max_attempts=row.max_attempts,
        run_at=row.run_at,
        serial_key=row.serial_key,
        dedupe_key=row.dedupe_key,
        last_error=row.last_error,
        created_at=row.created_at,
        updated_at=row.updated_at,
        locked_by=row.locked_by,
        policy=RetryPolicy(**row.policy),
    )


_COLUMNS = [column.name for column in jobs.columns]
_RETURNING = ", ".join(_COLUMNS)
# PostgreSQL: the JSON columns come back as their text, parsed here by load_json (orjson) and the
# policy's text used as its cache key as it is — psycopg's JSON loader parsed both with the
# standard library, and each policy was dumped again to find its cached RetryPolicy
_RETURNING_PG = ", ".join(f"{name}::text" if name in ("payload", "policy") else name for name in _COLUMNS)
# a job without a serial key, or whose key has no live running job elsewhere (``{now}``: the
# placeholder of the claim's time) — the ``free`` condition of ``_candidates``, in SQL
_SERIAL_FREE = (
    "(serial_key IS NULL OR NOT EXISTS (SELECT 1 FROM jobs AS other WHERE other.serial_key ="
    " jobs.serial_key AND other.id <> jobs.id AND other.state = 'running' AND other.locked_until >= {now}))"
)
# one statement marks the chosen jobs running and returns them (SQLite ≥ 3.35, PostgreSQL)
_SET = "UPDATE jobs SET state = 'running', locked_by = {p}, attempts = attempts + 1, locked_until = {p}, "
_TAKE = {
    "sqlite": _SET.format(p="?")  # noqa: S608 — our own column names
    + "updated_at = ? WHERE id IN (SELECT value FROM json_each(?)) RETURNING "
    + _RETURNING,
    "postgresql": _SET.format(p="%s") + "updated_at = %s WHERE id = ANY(%b) RETURNING " + _RETURNING_PG,
    # PostgreSQL, jobs with serial keys (locked by this transaction first, see _serial_guard):
    # taken only when no other job of their key is running — checked in this statement, whose
    # snapshot is taken after the locks were granted, so a claim that committed meanwhile shows
    "postgresql-guarded": _SET.format(p="%s")
    + "updated_at = %s WHERE id = ANY(%b) AND "
    + _SERIAL_FREE.format(now="%s")
    + " RETURNING "
    + _RETURNING_PG,
}
_LOCK_SERIALS = "SELECT k FROM unnest(%s::text[]) AS k WHERE pg_try_advisory_xact_lock(hashtext(k))"
_POLICIES: dict[str, RetryPolicy] = {}
_POLICY_DICTS: dict[RetryPolicy, dict[str, float]] = {}


def _policy_dict(policy: RetryPolicy) -> dict[str, float]:
    """One dict per distinct policy: consecutive jobs share it, so its JSON is made once."""
    found = _POLICY_DICTS.get(policy)
    if found is None:
        found = _POLICY_DICTS[policy] = policy.as_dict()
    return found  # policy JSON → policy: jobs repeat a handful of them


def _take(
    db: Connection, chosen: list[int], worker: str, now: datetime, until: datetime, guarded: bool = False
) -> list[Job]:
    """Claim the ``chosen`` jobs and read them back, on the DBAPI cursor: a batch claims hundreds
    of jobs, and Core's statement building and row processing cost more than the database does.
    ``guarded`` (PostgreSQL): skip those whose serial key has another job running by now."""
    dbapi = db.connection.dbapi_connection
    assert dbapi is not None
    when = time_bind(db)
    cursor = dbapi.cursor()
    if guarded:
        cursor.execute(_TAKE["postgresql-guarded"], (worker, when(until), when(now), chosen, when(now)))
    else:
        ids: Any = json.dumps(chosen) if db.dialect.name == "sqlite" else chosen
        cursor.execute(_TAKE[db.dialect.name], (worker, when(until), when(now), ids))
    rows = cursor.fetchall()
    cursor.close()
    taken = [_raw_job(row) for row in rows]
    taken.sort(key=lambda job: (job.run_at, job.id))
    return taken


_time_binds: dict[str, Callable[[Any], Any]] = {}


def _utc(value: Any) -> Any:
    """A timestamp as the DBAPI returns it (SQLite: text, PostgreSQL: aware) → aware UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _json(value: Any) -> Any:
    return load_json(value) if isinstance(value, str | bytes) else value


def _raw_job(row: Any) -> Job:
    (
        job_id,
        kind,
        payload,
        state,
        run_at,
        attempts,
        max_attempts,
        policy,
        serial_key,
        dedupe_key,
        locked_by,
    ) = row[:11]
    last_error, created_at, updated_at = row[12:15]
    key = policy if isinstance(policy, str) else json.dumps(policy, sort_keys=True)
    found = _POLICIES.get(key)
    if found is None:
        found = _POLICIES[key] = RetryPolicy(**_json(policy))
    return Job(
        id=JobId(job_id),
        kind=kind,
        payload=_json(payload),
        state=JobState(state),
        attempts=attempts,
        max_attempts=max_attempts,
        run_at=_utc(run_at),
        serial_key=serial_key,
        dedupe_key=dedupe_key,
        last_error=last_error,
        created_at=_utc(created_at),
        updated_at=_utc(updated_at),
        locked_by=locked_by,
        policy=found,
    )


def _new_row(job: NewJob, now: datetime) -> dict[str, Any]:
    """The ``jobs`` row of a newly enqueued job (without its id)."""
    return {
        "kind": job.kind,
        "payload": job.payload,
        "state": job.state.value,
        "run_at": job.run_at or now,
        "attempts": job.attempts,
        "max_attempts": job.policy.max_attempts,
        "policy": _policy_dict(job.policy),
        "serial_key": job.serial_key,
        "dedupe_key": job.dedupe_key,
        "last_error": job.last_error,
        "created_at": now,
        "updated_at": now,
    }


new_job_row = _new_row  # for the webhook group's statement (integration.py), which writes jobs in SQL
# for the delivery round's claim (integration.py), which claims jobs and reads their messages in SQL
JOB_COLUMNS_PG = _RETURNING_PG
JOB_COLUMN_COUNT = len(_COLUMNS)
job_from_row = _raw_job
SERIAL_FREE_PG = _SERIAL_FREE.format(now="%(now)s")


def time_bind(db: Connection) -> Callable[[Any], Any]:
    """The conversion Core applies to a timestamp parameter on ``db``'s dialect (for statements
    sent on the DBAPI cursor: the stored text is then what Core would store)."""
    when = _time_binds.get(db.dialect.name)
    if when is None:
        made = jobs.c.run_at.type.dialect_impl(db.dialect).bind_processor(db.dialect)
        assert made is not None
        when = _time_binds[db.dialect.name] = made
    return when


class _Candidate(NamedTuple):
    id: int
    serial_key: str | None


def _candidates(kinds: tuple[str, ...], exclude_kinds: tuple[str, ...], limit: int) -> Prepared:
    """The due jobs a claim chooses from (compiled once per kind filter and limit): of ``kinds``
    only when given, never of ``exclude_kinds``."""
    now = bindparam("now", type_=jobs.c.run_at.type)
    ready = (jobs.c.state == JobState.READY.value, jobs.c.run_at <= now)
    # ``locked_by IS NOT NULL`` (always true of a running job) matches ix_jobs_running_lease's
    # predicate: only this read can use that index, not the serial-key checks below
    expired = (
        jobs.c.state == JobState.RUNNING.value,
        jobs.c.locked_by.is_not(None),
        jobs.c.locked_until < now,
    )
    # one comparison per kind (constants): a compiled statement cannot expand an IN list
    of_kind = [or_(*(jobs.c.kind == k for k in kinds))] if kinds else []
    of_kind.extend(jobs.c.kind != k for k in exclude_kinds)
    other = jobs.alias("other")
    # A serial key with a live running job elsewhere blocks its other jobs.
    busy_serial = exists().where(
        other.c.serial_key == jobs.c.serial_key,
        other.c.id != jobs.c.id,
        other.c.state == JobState.RUNNING.value,
        other.c.locked_until >= now,
    )
    free = or_(jobs.c.serial_key.is_(None), ~busy_serial)

    def branch(name: str, due: tuple[Any, ...]) -> Any:
        # PostgreSQL: skip rows another claim holds (FOR UPDATE OF jobs SKIP LOCKED)
        return (
            select(jobs.c.id, jobs.c.serial_key, jobs.c.run_at)
            .where(*due, *of_kind, free)
            .order_by(jobs.c.run_at, jobs.c.id)
            .limit(limit * 4)
            .with_for_update(skip_locked=True, of=jobs)
            .cte(name)
        )

    def statement(dialect: str) -> Any:
        if dialect != "postgresql":  # SQLite: one writer, no row locks
            return (
                select(jobs.c.id, jobs.c.serial_key)
                .where(or_(and_(*ready), and_(*expired)), *of_kind, free)
                .order_by(jobs.c.run_at, jobs.c.id)
                .limit(limit * 4)
            )
        # PostgreSQL: each kind of due job by its own index scan in (run_at, id) order. One scan
        # over both (an OR, so a bitmap scan) read every index entry left by the jobs finished
        # since the last vacuum on every claim — a bitmap scan never marks them dead — and its
        # cost grew with the queue's traffic (measured: 2.9 ms a claim after 40,000 deliveries,
        # the largest share of the server's CPU per message).
        both = union_all(
            *(
                select(b.c.id, b.c.serial_key, b.c.run_at)
                for b in (branch("ready", ready), branch("expired", expired))
            )
        ).subquery()
        return select(both.c.id, both.c.serial_key).order_by(both.c.run_at, both.c.id).limit(limit * 4)

    return Prepared(statement)


_CANDIDATES: dict[tuple[tuple[str, ...], tuple[str, ...], int], Prepared] = {}


class SqlJobRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection
        self._info = connection.info  # the connection's for the unit of work's life

    def enqueue(self, job: NewJob, now: datetime) -> JobId | None:
        values = _new_row(job, now)
        if job.dedupe_key is None:
            # held back until commit (or the next read of the queue), with an id of its own
            job_id = new_id(self._db, "jobs")
            deferred(self._db, self._info).add(_ENQUEUE, {"id": job_id, **values})
            return JobId(job_id)
        send_deferred(self._db, self._info)
        found = self._db.execute(select(jobs.c.id).where(jobs.c.dedupe_key == job.dedupe_key)).first()
        if found is not None:
            return None
        job_id = new_id(self._db, "jobs")  # every insert takes its id there (SQLite counts on)
        try:
            with self._db.begin_nested():
                self._db.execute(insert(jobs).values(id=job_id, **values))
        except IntegrityError:
            return None
        return JobId(job_id)

    def enqueue_many(self, new_jobs: Sequence[NewJob], now: datetime) -> None:
        """Many jobs without dedupe keys in one executemany (sent as multi-row inserts). Their ids:
        PostgreSQL's sequence default (no round trip of their own); SQLite counts on (``new_id``)."""
        if not new_jobs:
            return
        send_deferred(self._db, self._info)
        postgres = self._db.dialect.name == "postgresql"
        rows = [
            {
                **({} if postgres else {"id": new_id(self._db, "jobs")}),
                **_new_row(job, now),
                "dedupe_key": None,
            }
            for job in new_jobs
        ]
        self._db.execute(insert(jobs), rows)

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
        send_deferred(self._db, self._info)
        key = (tuple(sorted(kinds)), tuple(sorted(exclude_kinds)), limit)
        statement = _CANDIDATES.get(key)
        if statement is None:
            statement = _CANDIDATES[key] = _candidates(*key)
        cursor = statement.execute(self._db, {"now": now})
        candidates = [_Candidate(row[0], row[1]) for row in cursor.fetchall()]
        cursor.close()
        chosen: list[int] = []
        serials: set[str] = set()
        for row in candidates:
            if row.serial_key is not None:
                if row.serial_key in serials:
                    continue  # one job per serial key per claim
                serials.add(row.serial_key)
            chosen.append(row.id)
            if len(chosen) == limit:
                break
        guarded = bool(chosen and serials) and self._db.dialect.name == "postgresql"
        if guarded:
            chosen = self._serial_guard(candidates, chosen, serials)
        if not chosen:
            return []
        return _take(self._db, chosen, worker, now, now + timedelta(seconds=lease_s), guarded)

    def _serial_guard(self, candidates: Any, chosen: list[int], serials: set[str]) -> list[int]:
        """PostgreSQL, many workers: two claims running at once must not take two jobs of one
        serial key (the other one's job is not yet visible as running). Each serial key is locked
        for the rest of this claim's transaction (``pg_try_advisory_xact_lock``: a key another claim
        holds is skipped), then checked again on a fresh snapshot — by the claiming ``UPDATE``
        itself (:func:`_take`, guarded): a claim that committed meanwhile shows its job running."""
        cursor = self._db.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        cursor.execute(_LOCK_SERIALS, (sorted(serials),))
        locked = {row[0] for row in cursor.fetchall()}
        cursor.close()
        serial_of = {row.id: row.serial_key for row in candidates}
        return [job_id for job_id in chosen if serial_of[job_id] is None or serial_of[job_id] in locked]

    def _finish(self, job_id: JobId, worker: str, now: datetime, **values: Any) -> bool:
        send_deferred(self._db, self._info)
        result = self._db.execute(
            update(jobs)
            .where(jobs.c.id == job_id, jobs.c.locked_by == worker, jobs.c.state == JobState.RUNNING.value)
            .values(locked_by=None, locked_until=None, updated_at=now, **values)
        )
        return result.rowcount == 1

    def complete(self, job_id: JobId, worker: str, now: datetime) -> bool:
        send_deferred(self._db, self._info)
        return (
            int(_COMPLETE.execute(self._db, {"w_id": job_id, "w_worker": worker, "b_now": now}).rowcount) == 1
        )

    def complete_many(self, job_ids: list[JobId], worker: str, now: datetime) -> bool:
        """Complete a batch in one statement; False when any lease was lost (the caller rolls back)."""
        send_deferred(self._db, self._info)
        rows = [{"w_id": job_id, "w_worker": worker, "b_now": now} for job_id in job_ids]
        return _COMPLETE.executemany(self._db, rows) == len(rows)

    def reschedule(self, job_id: JobId, worker: str, *, error: str, run_at: datetime, now: datetime) -> bool:
        return self._finish(
            job_id, worker, now, state=JobState.READY.value, run_at=run_at, last_error=error[:MAX_ERROR_CHARS]
        )

    def give_up(self, job_id: JobId, worker: str, *, error: str, now: datetime) -> bool:
        return self._finish(
            job_id, worker, now, state=JobState.INCIDENT.value, last_error=error[:MAX_ERROR_CHARS]
        )

    def get(self, job_id: JobId) -> Job | None:
        send_deferred(self._db, self._info)
        row = self._db.execute(select(jobs).where(jobs.c.id == job_id)).first()
        return _job(row) if row else None

    def list(self, state: JobState | None = None, limit: int = 100) -> list[Job]:
        send_deferred(self._db, self._info)
        query = select(jobs).order_by(jobs.c.id.desc()).limit(limit)
        if state is not None:
            query = query.where(jobs.c.state == state.value)
        return [_job(r) for r in self._db.execute(query).all()]

    def retry(self, job_id: JobId, now: datetime) -> Job:
        send_deferred(self._db, self._info)
        job = self.get(job_id)
        if job is None:
            raise NotFound("no job with id {id}", id=job_id)
        if job.state not in (JobState.INCIDENT, JobState.CANCELLED):
            raise Conflict(
                "job {id} is {state}; only incidents and cancelled jobs can be retried",
                id=job_id,
                state=job.state.value,
            )
        self._db.execute(
            update(jobs)
            .where(jobs.c.id == job_id)
            .values(state=JobState.READY.value, run_at=now, attempts=0, updated_at=now)
        )
        retried = self.get(job_id)
        assert retried is not None
        return retried

    def next_due(self, *, exclude_kinds: Collection[str] = ()) -> datetime | None:
        send_deferred(self._db, self._info)
        query = select(func.min(jobs.c.run_at)).where(jobs.c.state == JobState.READY.value)
        if exclude_kinds:
            query = query.where(jobs.c.kind.not_in(sorted(exclude_kinds)))
        value = self._db.execute(query).scalar_one_or_none()
        if value is None:
            return None
        return UtcDateTime().process_result_value(value, self._db.dialect)

    def counts(self) -> dict[JobState, int]:
        send_deferred(self._db, self._info)
        rows = self._db.execute(select(jobs.c.state, func.count()).group_by(jobs.c.state)).all()
        return {JobState(state): int(n) for state, n in rows}

    def renew(self, job_id: JobId, worker: str, attempt: int, now: datetime, lease_s: float) -> bool:
        send_deferred(self._db, self._info)
        result = self._db.execute(
            update(jobs)
            .where(
                jobs.c.id == job_id,
                jobs.c.locked_by == worker,
                jobs.c.attempts == attempt,
                jobs.c.state == JobState.RUNNING.value,
            )
            .values(locked_until=now + timedelta(seconds=lease_s))
        )
        return result.rowcount == 1
