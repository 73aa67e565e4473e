"""Integration flows and their outbox on SQL."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from psycopg.rows import namedtuple_row
from sqlalchemy import Connection, bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from isthmus.adapters.storage.engine import dbapi_cursor, dump_json, load_json
from isthmus.adapters.storage.job_queue import (
    JOB_COLUMN_COUNT,
    JOB_COLUMNS_PG,
    SERIAL_FREE_PG,
    job_from_row,
    new_job_row,
    time_bind,
)
from isthmus.adapters.storage.tables import flow_messages, integration_flows
from isthmus.errors import Conflict
from isthmus.integration import DeployedFlow, FlowMessage, MessageState, NewMessage, TestStatus, records_in
from isthmus.jobs import Job, JobId, NewJob
from isthmus.services.ports import DeliveryClaim, JobRepository

_f = integration_flows
_m = flow_messages
# PostgreSQL's LISTEN/NOTIFY channel on which workers wait for new delivery jobs
DELIVERY_CHANNEL = "isthmus_flow_deliver"
_INSERT_NEW: dict[str, Any] = {}  # per dialect: built once, so its compiled form is cached
_COPY_MESSAGES = 100  # PostgreSQL: this many messages at once or more are COPYed (a webhook's few are not)
_COPY_INTO_MESSAGES = (
    "COPY flow_messages (flow_id, idempotency_key, state, payload, display, attempts, last_error, "
    "row_number, created_at, updated_at) FROM STDIN"
)


# Arrays are sent in binary (``%b``) in the statements of the real-time path: psycopg's text array
# dumper runs a regular expression over every element and escapes each JSON payload with another
# (81 µs for five payloads, 2.8 µs in binary; bench/RESULTS.md, Real time, round 5).

# A webhook group in one statement (see ``insert_delivering``): the flows' latest versions, the
# messages of the flows still at the version they were mapped with (in the order given: concurrent
# groups lock shared keys in one order), a delivery job per new message, and the workers' wake-up.
_INSERT_DELIVERING = """\
WITH given AS (
  SELECT * FROM unnest(CAST(%(f_flow)b AS text[]), CAST(%(f_version)b AS int[]), CAST(%(f_kind)b AS text[]),
    CAST(%(f_state)b AS text[]), CAST(%(f_max)b AS int[]), CAST(%(f_policy)b AS text[]),
    CAST(%(f_payload)b AS text[])) AS g(flow_id, version, kind, state, max_attempts, policy, payload)
), latest AS (
  SELECT flow_id, max(version) AS version FROM integration_flows
  WHERE flow_id = ANY(CAST(%(f_flow)b AS text[])) GROUP BY flow_id
), current AS (
  SELECT g.* FROM given g JOIN latest l ON l.flow_id = g.flow_id AND l.version = g.version
), m AS (
  INSERT INTO flow_messages (flow_id, idempotency_key, state, payload, display, attempts, row_number,
    created_at, updated_at)
  SELECT i.flow_id, i.key, i.state, CAST(i.payload AS json), CAST(i.display AS json), 0, i.row_number,
    %(now)s, %(now)s
  FROM unnest(CAST(%(m_flow)b AS text[]), CAST(%(m_key)b AS text[]), CAST(%(m_state)b AS text[]),
    CAST(%(m_payload)b AS text[]), CAST(%(m_display)b AS text[]), CAST(%(m_row)b AS bigint[]))
    WITH ORDINALITY AS i(flow_id, key, state, payload, display, row_number, n)
  WHERE i.flow_id IN (SELECT flow_id FROM current)
  ORDER BY i.n
  ON CONFLICT (flow_id, idempotency_key) DO NOTHING
  RETURNING id, flow_id, idempotency_key
), j AS (
  INSERT INTO jobs (kind, payload, state, run_at, attempts, max_attempts, policy, created_at, updated_at)
  SELECT c.kind, CAST(CAST(c.payload AS jsonb) || jsonb_build_object('message', m.id) AS json), c.state,
    %(now)s, 0, c.max_attempts, CAST(c.policy AS json), %(now)s, %(now)s
  FROM m JOIN current c ON c.flow_id = m.flow_id ORDER BY m.id
), wake AS (
  SELECT pg_notify(%(channel)s, '') WHERE EXISTS (SELECT 1 FROM m)
)
SELECT m.id, m.flow_id, m.idempotency_key FROM m
UNION ALL SELECT NULL, l.flow_id, CAST(l.version AS text) FROM latest l
UNION ALL SELECT NULL, NULL, NULL FROM wake"""

_MESSAGES_BY_ID = (
    "SELECT id, flow_id, idempotency_key, state, payload, display, attempts, last_error, row_number, "
    "created_at, updated_at, delivered_at FROM flow_messages WHERE id = ANY(%b)"
)
# a delivery round's read: the messages (JSON as text, parsed by orjson) and their flows' latest
# versions, in one round trip
# (the columns in _DeliveryMessage's order; ``v``: the latest version of each of m's flows)
_DELIVERY_MESSAGE_COLUMNS = (
    "id, flow_id, idempotency_key, state, payload::text AS payload, display::text AS display, "
    "attempts, last_error, row_number, created_at, updated_at, delivered_at"
)
_LATEST_OF_M = (
    "v AS (SELECT flow_id, max(version) AS latest FROM integration_flows "
    "WHERE flow_id IN (SELECT flow_id FROM m) GROUP BY flow_id)"
)
_DELIVERY_MESSAGES_PG = (
    f"WITH m AS (SELECT {_DELIVERY_MESSAGE_COLUMNS} FROM flow_messages WHERE id = ANY(%b)), "  # noqa: S608 — our own SQL
    f"{_LATEST_OF_M} SELECT m.*, v.latest FROM m LEFT JOIN v ON v.flow_id = m.flow_id"
)
# A delivery round's claim and read in one statement, run alone (``dbapi_cursor``: no BEGIN,
# no COMMIT — five round trips were one BEGIN, the candidates, the claiming UPDATE, the messages'
# read and the COMMIT). The candidates are chosen as ``SqlJobRepository.claim`` chooses them (each
# kind of due job by its own index scan, rows other claims hold skipped); only jobs without a serial
# key are taken here, and the count of claimable ones with a key tells the caller to run the
# general claim, whose advisory locks keep one job per key running. The one row with NULL job
# columns when nothing was taken carries that count.
_CLAIM_DELIVERIES_PG = f"""\
WITH ready AS (
  SELECT id, serial_key, run_at FROM jobs
  WHERE state = 'ready' AND run_at <= %(now)s AND kind = %(kind)s AND {SERIAL_FREE_PG}
  ORDER BY run_at, id LIMIT %(scan)s FOR UPDATE OF jobs SKIP LOCKED
), expired AS (
  SELECT id, serial_key, run_at FROM jobs
  WHERE state = 'running' AND locked_by IS NOT NULL AND locked_until < %(now)s AND kind = %(kind)s
    AND {SERIAL_FREE_PG}
  ORDER BY run_at, id LIMIT %(scan)s FOR UPDATE OF jobs SKIP LOCKED
), due AS (
  SELECT id, serial_key, run_at FROM ready UNION ALL SELECT id, serial_key, run_at FROM expired
), taken AS (
  UPDATE jobs SET state = 'running', locked_by = %(worker)s, attempts = attempts + 1,
    locked_until = %(until)s, updated_at = %(now)s
  WHERE id IN (SELECT id FROM due WHERE serial_key IS NULL ORDER BY run_at, id LIMIT %(limit)s)
  RETURNING {JOB_COLUMNS_PG}, CAST(payload ->> 'message' AS bigint) AS message_id
), m AS (
  SELECT {_DELIVERY_MESSAGE_COLUMNS} FROM flow_messages WHERE id IN (SELECT message_id FROM taken)
), {_LATEST_OF_M}
SELECT t.*, m.*, v.latest, s.serial_due
FROM (SELECT count(*) AS serial_due FROM due WHERE serial_key IS NOT NULL) AS s
LEFT JOIN taken AS t ON true
LEFT JOIN m ON m.id = t.message_id
LEFT JOIN v ON v.flow_id = m.flow_id"""  # noqa: S608 — our own column names and conditions


class _DeliveryMessage(NamedTuple):
    """A message as a delivery round reads it (``_DELIVERY_MESSAGE_COLUMNS``; the names
    ``_message`` reads)."""

    id: int
    flow_id: str
    idempotency_key: str
    state: str
    payload: Any
    display: Any
    attempts: int
    last_error: str | None
    row_number: int | None
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None


_MARK_DELIVERED_PG = (
    "UPDATE flow_messages AS m SET state = 'delivered', attempts = d.attempts, updated_at = %(now)s, "
    "delivered_at = %(now)s FROM unnest(CAST(%(ids)b AS bigint[]), CAST(%(attempts)b AS int[])) "
    "AS d(id, attempts) WHERE m.id = d.id"
)
# A delivery round's last write: the round's jobs completed and its delivered messages marked (as
# _MARK_DELIVERED_PG) in one statement, all or nothing: only when every job's lease is still held
# (``held``, its rows locked first) — so the statement can run alone (``dbapi_cursor``) and a
# lost lease still writes nothing, as the caller's rollback did. The jobs are taken by primary key:
# ``(state = 'running') IS TRUE`` is the lease check, written so that the planner cannot take the
# (state, run_at) index for it — it did, estimating few running jobs, and walked every entry left by
# recently finished ones (1.8 ms a statement after 40,000 deliveries).
_COMPLETE_DELIVERED_PG = (
    "WITH mine AS (SELECT id FROM jobs WHERE id = ANY(CAST(%(jobs)b AS bigint[])) "
    "AND locked_by = %(worker)s AND (state = 'running') IS TRUE FOR UPDATE), "
    "held AS (SELECT count(*) = %(n)s AS ok FROM mine), "
    "done AS (UPDATE jobs SET state = 'done', locked_by = NULL, locked_until = NULL, "
    "last_error = NULL, updated_at = %(now)s FROM held WHERE held.ok AND jobs.id IN (SELECT id FROM mine)), "
    "delivered AS (UPDATE flow_messages AS m SET state = 'delivered', attempts = d.attempts, "
    "updated_at = %(now)s, delivered_at = %(now)s FROM unnest(CAST(%(ids)b AS bigint[]), "
    "CAST(%(attempts)b AS int[])) AS d(id, attempts), held WHERE held.ok AND m.id = d.id) "
    "SELECT ok FROM held"
)
_LATEST_VERSIONS = (
    select(_f.c.flow_id, func.max(_f.c.version))
    .where(_f.c.flow_id.in_(bindparam("flow_ids", expanding=True)))
    .group_by(_f.c.flow_id)
)

_MARK_DELIVERED = (
    update(_m)
    .where(_m.c.id == bindparam("m_id"))
    .values(
        state=MessageState.DELIVERED.value,
        attempts=bindparam("m_attempts"),
        updated_at=bindparam("m_now"),
        delivered_at=bindparam("m_now"),
    )
)


def _flow(row: Any) -> DeployedFlow:
    return DeployedFlow(
        flow_id=row.flow_id,
        version=row.version,
        text=row.text,
        deployed_at=row.deployed_at,
        deployed_by=row.deployed_by,
        test_status=TestStatus(row.test_status),
        tested_at=row.tested_at,
    )


def _message(row: Any, when: Callable[[Any], Any] = lambda value: value) -> FlowMessage:
    return FlowMessage(
        id=row.id,
        flow_id=row.flow_id,
        idempotency_key=row.idempotency_key,
        state=MessageState(row.state),
        payload=row.payload,
        display=row.display,
        attempts=row.attempts,
        last_error=row.last_error,
        row_number=row.row_number,
        created_at=when(row.created_at),
        updated_at=when(row.updated_at),
        delivered_at=when(row.delivered_at),
    )


def _read_delivery_message(
    row: Any, latest_version: int | None, found: dict[int, FlowMessage], latest: dict[str, int]
) -> None:
    """A delivery round's message (JSON as text, parsed by orjson) into ``found``, its flow's
    latest version into ``latest``."""
    found[row.id] = _message(
        row._replace(payload=load_json(row.payload), display=load_json(row.display)), _utc
    )
    if latest_version is not None:
        latest[row.flow_id] = int(latest_version)


def _utc(value: datetime | None) -> datetime | None:
    """A timestamp as psycopg returns it (aware, in the session's zone) → UTC, as Core gives it."""
    return None if value is None else value.astimezone(UTC)


class SqlFlowRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def deploy(self, flow_id: str, text: str, *, deployed_by: str, now: datetime) -> DeployedFlow:
        latest = self.get(flow_id)
        if latest is not None and latest.text == text:
            return latest
        version = 1 if latest is None else latest.version + 1
        try:
            with self._db.begin_nested():
                self._db.execute(
                    insert(_f).values(
                        flow_id=flow_id,
                        version=version,
                        text=text,
                        deployed_at=now,
                        deployed_by=deployed_by,
                        test_status=TestStatus.NOT_STARTED.value,
                    )
                )
        except IntegrityError as exc:
            raise Conflict(
                "flow {flow} version {version} was deployed concurrently", flow=flow_id, version=version
            ) from exc
        found = self.get(flow_id)
        assert found is not None
        return found

    def get(self, flow_id: str) -> DeployedFlow | None:
        row = self._db.execute(
            select(_f).where(_f.c.flow_id == flow_id).order_by(_f.c.version.desc()).limit(1)
        ).first()
        return None if row is None else _flow(row)

    def list(self) -> list[DeployedFlow]:
        latest = select(_f.c.flow_id, func.max(_f.c.version).label("v")).group_by(_f.c.flow_id).subquery()
        rows = self._db.execute(
            select(_f)
            .join(latest, (latest.c.flow_id == _f.c.flow_id) & (latest.c.v == _f.c.version))
            .order_by(_f.c.flow_id)
        )
        return [_flow(r) for r in rows]

    def record_test(self, flow_id: str, status: TestStatus, now: datetime) -> None:
        latest = self.get(flow_id)
        if latest is not None:
            self._db.execute(
                update(_f)
                .where((_f.c.flow_id == flow_id) & (_f.c.version == latest.version))
                .values(test_status=status.value, tested_at=now)
            )

    def add_messages(self, messages: Sequence[NewMessage], now: datetime) -> int:
        """Insert many at once (one statement), skipping keys the flow already holds."""
        if not messages:
            return 0
        if self._db.dialect.name == "postgresql" and len(messages) >= _COPY_MESSAGES:
            copied = self._copy_messages(messages, now)
            if copied is not None:
                return copied
        maker = pg_insert if self._db.dialect.name == "postgresql" else sqlite_insert
        statement = maker(_m).on_conflict_do_nothing(index_elements=["flow_id", "idempotency_key"])
        result = self._db.execute(statement, [self._values(m, now) for m in messages])
        return max(result.rowcount, 0)

    def _copy_messages(self, messages: Sequence[NewMessage], now: datetime) -> int | None:
        """PostgreSQL: ``COPY`` the messages in (a batch chunk's 500 dead-lettered rows: 26 ms
        instead of 44 ms through ``executemany``, bench/integration.py). A key the flow holds
        already (the file read again after a crash) breaks the unique constraint: rolled back to
        the savepoint, and None tells the caller to insert skipping the held keys."""
        cursor = self._db.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute("SAVEPOINT isthmus_messages")
            try:
                with cursor.copy(_COPY_INTO_MESSAGES) as copy:
                    for m in messages:
                        copy.write_row(
                            (
                                m.flow_id,
                                m.idempotency_key,
                                m.state.value,
                                dump_json(m.payload),
                                dump_json(m.display),
                                0,
                                m.last_error,
                                m.row_number,
                                now,
                                now,
                            )
                        )
            except self._db.dialect.dbapi.IntegrityError as exc:  # type: ignore[union-attr]
                if getattr(exc, "sqlstate", None) != "23505":  # not a unique violation
                    raise
                cursor.execute("ROLLBACK TO SAVEPOINT isthmus_messages")
                return None
            cursor.execute("RELEASE SAVEPOINT isthmus_messages")
            return len(messages)
        finally:
            cursor.close()

    @staticmethod
    def _values(message: NewMessage, now: datetime) -> dict[str, Any]:
        return {
            "flow_id": message.flow_id,
            "idempotency_key": message.idempotency_key,
            "state": message.state.value,
            "payload": message.payload,
            "display": message.display,
            "attempts": 0,
            "last_error": message.last_error,
            "row_number": message.row_number,
            "created_at": now,
            "updated_at": now,
        }

    def latest_versions(self, flow_ids: Collection[str]) -> dict[str, int]:
        rows = self._db.execute(_LATEST_VERSIONS, {"flow_ids": sorted(flow_ids)})
        return {flow_id: int(version) for flow_id, version in rows}

    def insert_messages(self, messages: Sequence[NewMessage], now: datetime) -> dict[tuple[str, str], int]:
        """One multi-row insert, skipping keys already held; the new ids by (flow, idempotency key).

        The keys must be distinct per flow (the caller dedupes): the ids come back by key, as
        ``RETURNING`` promises no order."""
        if not messages:
            return {}
        statement = _INSERT_NEW.get(self._db.dialect.name)
        if statement is None:
            maker = pg_insert if self._db.dialect.name == "postgresql" else sqlite_insert
            statement = _INSERT_NEW[self._db.dialect.name] = (
                maker(_m)
                .on_conflict_do_nothing(index_elements=["flow_id", "idempotency_key"])
                .returning(_m.c.id, _m.c.flow_id, _m.c.idempotency_key)
            )
        # executemany with RETURNING: SQLAlchemy sends it as INSERT … VALUES (…), (…) batches
        rows = self._db.execute(statement, [self._values(m, now) for m in messages])
        return {(row.flow_id, row.idempotency_key): int(row.id) for row in rows}

    def wake_deliveries(self) -> None:
        """PostgreSQL: tell listening workers, at commit, that delivery jobs are due (a no-op on
        SQLite, whose workers poll)."""
        if self._db.dialect.name == "postgresql":
            self._db.exec_driver_sql(f"NOTIFY {DELIVERY_CHANNEL}")

    def insert_delivering(
        self,
        messages: Sequence[NewMessage],
        versions: Mapping[str, int],
        jobs: Mapping[str, NewJob],
        queue: JobRepository,
        now: datetime,
        *,
        alone: bool = False,
    ) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
        """PostgreSQL: one statement, on the DBAPI cursor (its text is fixed, so psycopg prepares it
        once; Core's multi-row inserts cost the API more CPU than the database spent on them) —
        ``alone``: without BEGIN and COMMIT when it is the unit of work's only write
        (:func:`~isthmus.adapters.storage.engine.dbapi_cursor`)."""
        if self._db.dialect.name != "postgresql" or any(
            job.dedupe_key is not None or job.serial_key is not None for job in jobs.values()
        ):
            known = self.latest_versions(versions)
            new = self.insert_messages(
                [m for m in messages if known.get(m.flow_id) == versions[m.flow_id]], now
            )
            queue.enqueue_many(
                [
                    replace(jobs[flow_id], payload={**jobs[flow_id].payload, "message": message_id})
                    for (flow_id, _key), message_id in new.items()
                ],
                now,
            )
            if new:
                self.wake_deliveries()
            return known, new
        flows = sorted(versions)
        templates = [new_job_row(jobs[flow_id], now) for flow_id in flows]
        params = {
            "f_flow": flows,
            "f_version": [versions[flow_id] for flow_id in flows],
            "f_kind": [row["kind"] for row in templates],
            "f_state": [row["state"] for row in templates],
            "f_max": [row["max_attempts"] for row in templates],
            "f_policy": [dump_json(row["policy"]) for row in templates],
            "f_payload": [dump_json(row["payload"]) for row in templates],
            "m_flow": [m.flow_id for m in messages],
            "m_key": [m.idempotency_key for m in messages],
            "m_state": [m.state.value for m in messages],
            "m_payload": [dump_json(m.payload) for m in messages],
            "m_display": [dump_json(m.display) for m in messages],
            "m_row": [m.row_number for m in messages],
            "now": now,
            "channel": DELIVERY_CHANNEL,
        }
        with dbapi_cursor(self._db, alone=alone) as cursor:
            rows = cursor.execute(_INSERT_DELIVERING, params).fetchall()
        latest: dict[str, int] = {}
        ids: dict[tuple[str, str], int] = {}
        for message_id, flow_id, key in rows:
            if message_id is not None:
                ids[(flow_id, key)] = int(message_id)
            elif flow_id is not None:
                latest[flow_id] = int(key)
        return latest, ids

    def add_message(self, message: NewMessage, now: datetime) -> FlowMessage | None:
        # One statement, no savepoint: a key the flow already holds inserts nothing and returns no id.
        maker = pg_insert if self._db.dialect.name == "postgresql" else sqlite_insert
        statement = (
            maker(_m)
            .values(**self._values(message, now))
            .on_conflict_do_nothing(index_elements=["flow_id", "idempotency_key"])
            .returning(_m.c.id)
        )
        new_id = self._db.execute(statement).scalar_one_or_none()
        if new_id is None:  # the same idempotency key was accepted before: a duplicate
            return None
        return FlowMessage(
            id=int(new_id),
            flow_id=message.flow_id,
            idempotency_key=message.idempotency_key,
            state=message.state,
            payload=message.payload,
            display=message.display,
            last_error=message.last_error,
            row_number=message.row_number,
            created_at=now,
            updated_at=now,
        )

    def message(self, message_id: int) -> FlowMessage | None:
        row = self._db.execute(select(_m).where(_m.c.id == message_id)).first()
        return None if row is None else _message(row)

    def messages_by_id(self, message_ids: Collection[int]) -> dict[int, FlowMessage]:
        if self._db.dialect.name == "postgresql":  # a delivery round's read: one array parameter
            with dbapi_cursor(self._db, row_factory=namedtuple_row) as cursor:
                rows = cursor.execute(_MESSAGES_BY_ID, (sorted(message_ids),)).fetchall()
            return {row.id: _message(row, _utc) for row in rows}
        rows = self._db.execute(select(_m).where(_m.c.id.in_(sorted(message_ids))))
        return {row.id: _message(row) for row in rows}

    def delivery_messages(
        self, message_ids: Collection[int]
    ) -> tuple[dict[int, FlowMessage], dict[str, int]]:
        if self._db.dialect.name != "postgresql":
            read = self.messages_by_id(message_ids)
            return read, self.latest_versions({m.flow_id for m in read.values()}) if read else {}
        with dbapi_cursor(self._db, row_factory=namedtuple_row) as cursor:
            rows = cursor.execute(_DELIVERY_MESSAGES_PG, (sorted(message_ids),)).fetchall()
        found: dict[int, FlowMessage] = {}
        latest: dict[str, int] = {}
        for row in rows:
            _read_delivery_message(row, row.latest, found, latest)
        return found, latest

    def claim_deliveries(
        self, kind: str, worker: str, now: datetime, lease_s: float, limit: int
    ) -> DeliveryClaim | None:
        if self._db.dialect.name != "postgresql":
            return None
        when = time_bind(self._db)
        params = {
            "kind": kind,
            "worker": worker,
            "now": when(now),
            "until": when(now + timedelta(seconds=lease_s)),
            "limit": limit,
            "scan": limit * 4,
        }
        with dbapi_cursor(self._db, alone=True) as cursor:
            rows = cursor.execute(_CLAIM_DELIVERIES_PG, params).fetchall()
        jobs: builtins.list[Job] = []
        found: dict[int, FlowMessage] = {}
        latest: dict[str, int] = {}
        first_message = JOB_COLUMN_COUNT + 1  # after the job's columns and its message id
        for row in rows:
            if row[0] is None:
                continue  # nothing taken: the one row carries the count below
            jobs.append(job_from_row(row))
            if row[first_message] is not None:
                message = _DeliveryMessage._make(
                    row[first_message : first_message + len(_DeliveryMessage._fields)]
                )
                _read_delivery_message(message, row[-2], found, latest)
        jobs.sort(key=lambda job: (job.run_at, job.id))
        return DeliveryClaim(jobs, found, latest, serial_due=bool(rows and rows[0][-1]))

    def mark_delivered(self, delivered: Sequence[tuple[int, int]], now: datetime) -> None:
        """Many messages delivered at ``now``: (message id, attempts) pairs, in one statement."""
        if delivered and self._db.dialect.name == "postgresql":
            with dbapi_cursor(self._db) as cursor:
                cursor.execute(
                    _MARK_DELIVERED_PG,
                    {"ids": [i for i, _ in delivered], "attempts": [a for _, a in delivered], "now": now},
                )
        elif delivered:
            self._db.execute(
                _MARK_DELIVERED,
                [
                    {"m_id": message_id, "m_attempts": attempts, "m_now": now}
                    for message_id, attempts in delivered
                ],
            )

    def complete_delivered(
        self,
        delivered: Sequence[tuple[int, int]],
        job_ids: builtins.list[JobId],
        queue: JobRepository,
        worker: str,
        now: datetime,
        *,
        alone: bool = False,
    ) -> bool:
        """PostgreSQL: one statement, one round trip (a round used to send two) — ``alone``: three
        fewer, without BEGIN and COMMIT when nothing else was written."""
        if self._db.dialect.name != "postgresql" or not job_ids:
            self.mark_delivered(delivered, now)
            return queue.complete_many(job_ids, worker, now) if job_ids else True
        params = {
            "jobs": job_ids,
            "worker": worker,
            "n": len(set(job_ids)),
            "ids": [i for i, _ in delivered],
            "attempts": [a for _, a in delivered],
            "now": now,
        }
        with dbapi_cursor(self._db, alone=alone) as cursor:
            row = cursor.execute(_COMPLETE_DELIVERED_PG, params).fetchone()
        return row is not None and bool(row[0])

    def replace_payload(
        self, message_id: int, key: str, payload: dict[str, Any], display: dict[str, Any]
    ) -> None:
        try:
            with self._db.begin_nested():
                self._db.execute(
                    update(_m)
                    .where(_m.c.id == message_id)
                    .values(idempotency_key=key, payload=payload, display=display)
                )
        except IntegrityError as exc:
            raise Conflict("another message of this flow already has the key {key}", key=key) from exc

    def save_message(self, message: FlowMessage) -> None:
        self._db.execute(
            update(_m)
            .where(_m.c.id == message.id)
            .values(
                state=message.state.value,
                attempts=message.attempts,
                last_error=message.last_error,
                updated_at=message.updated_at,
                delivered_at=message.delivered_at,
            )
        )

    def messages(
        self, *, flow_id: str | None = None, states: tuple[MessageState, ...] = (), limit: int = 100
    ) -> builtins.list[FlowMessage]:
        query = select(_m).order_by(_m.c.id).limit(limit)
        if flow_id is not None:
            query = query.where(_m.c.flow_id == flow_id)
        if states:
            query = query.where(_m.c.state.in_([s.value for s in states]))
        return [_message(r) for r in self._db.execute(query)]

    def counts(self, flow_id: str) -> dict[MessageState, int]:
        """Records per state: a chunk message counts its rows (from its key)."""
        single = _m.c.idempotency_key.not_like("chunk:%")
        rows = self._db.execute(
            select(_m.c.state, func.count()).where(_m.c.flow_id == flow_id, single).group_by(_m.c.state)
        )
        result = {MessageState(state): int(n) for state, n in rows}
        chunks = self._db.execute(
            select(_m.c.state, _m.c.idempotency_key).where(_m.c.flow_id == flow_id, ~single)
        )
        for state, key in chunks:
            result[MessageState(state)] = result.get(MessageState(state), 0) + records_in(key)
        return result
