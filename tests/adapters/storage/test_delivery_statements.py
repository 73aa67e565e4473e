"""A delivery round's last write (one statement on PostgreSQL): the delivered messages marked and
the round's jobs completed together, and a lost lease reported so the caller can roll back."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from isthmus.adapters.storage import Database
from isthmus.integration import MessageState, NewMessage
from isthmus.jobs import JobId, JobState, NewJob
from isthmus.services.ports import UnitOfWork

NOW = datetime(2024, 6, 1, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(seconds=5)


def _setup(database: Database, n: int) -> tuple[list[int], list[JobId]]:
    """``n`` pending messages, each with a delivery job claimed by w1 (lease 60 s)."""
    with database.unit_of_work() as uow:
        ids = uow.flows.insert_messages(
            [
                NewMessage(flow_id="f", idempotency_key=f"k{i}", payload={"i": i}, display={})
                for i in range(n)
            ],
            NOW,
        )
        message_ids = [ids[("f", f"k{i}")] for i in range(n)]
        uow.jobs.enqueue_many([NewJob(kind="flow.deliver", payload={"message": m}) for m in message_ids], NOW)
        jobs = uow.jobs.claim("w1", NOW, 60, n, kinds=("flow.deliver",))
        uow.commit()
    assert len(jobs) == n
    by_message = {int(job.payload["message"]): job.id for job in jobs}
    return message_ids, [by_message[m] for m in message_ids]


def test_delivered_messages_and_their_jobs_are_written_together(database: Database) -> None:
    messages, jobs = _setup(database, 3)
    with database.unit_of_work() as uow:
        # two delivered; the third's job completes with nothing to mark (its message was done before)
        assert uow.flows.complete_delivered([(messages[0], 1), (messages[1], 4)], jobs, uow.jobs, "w1", LATER)
        uow.commit()
    with database.unit_of_work() as uow:
        found = uow.flows.messages_by_id(messages)
        states = {job_id: uow.jobs.get(job_id) for job_id in jobs}
    assert [found[m].state for m in messages] == [
        MessageState.DELIVERED,
        MessageState.DELIVERED,
        MessageState.PENDING,
    ]
    assert [found[m].attempts for m in messages] == [1, 4, 0]
    assert found[messages[0]].delivered_at == LATER
    assert found[messages[0]].updated_at == LATER
    assert found[messages[2]].delivered_at is None
    for job in states.values():
        assert job is not None
        assert job.state is JobState.DONE
        assert job.locked_by is None


def test_a_job_leased_to_another_worker_is_reported_and_left_alone(database: Database) -> None:
    messages, jobs = _setup(database, 2)
    with database.unit_of_work() as uow:
        assert not uow.flows.complete_delivered(
            [(messages[0], 1)], jobs, uow.jobs, "w2", LATER
        )  # not w2's leases: nothing completed
        assert uow.flows.complete_delivered([], [], uow.jobs, "w2", LATER)  # nothing to do: done
    with database.unit_of_work() as uow:
        one = uow.jobs.get(jobs[0])
    assert one is not None
    assert one.state is JobState.RUNNING
    assert one.locked_by == "w1"


def test_a_round_alone_writes_all_or_nothing(database: Database) -> None:
    """The last write without BEGIN/COMMIT: with one lease lost (w2 took the job once w1's lease
    ran out) PostgreSQL's statement writes nothing, though this unit of work commits; with every
    lease held it commits by itself."""
    messages, jobs = _setup(database, 2)
    with database.unit_of_work() as uow:  # w2 takes the second job over (w1's lease has run out)
        stolen = uow.jobs.claim("w2", NOW + timedelta(seconds=61), 60, 1, kinds=("flow.deliver",))
        uow.commit()
    assert len(stolen) == 1
    held = next(job_id for job_id in jobs if job_id != stolen[0].id)
    held_message = messages[jobs.index(held)]
    with database.unit_of_work() as uow:
        assert not uow.flows.complete_delivered(
            [(m, 1) for m in messages], jobs, uow.jobs, "w1", LATER, alone=True
        )
        if database.url.startswith("postgresql"):  # nothing to commit; elsewhere the caller rolls back
            uow.commit()
    with database.unit_of_work() as uow:
        found = uow.flows.messages_by_id(messages)
        mine = uow.jobs.get(held)
    assert {m.state for m in found.values()} == {MessageState.PENDING}
    assert mine is not None
    assert (mine.state, mine.locked_by) == (JobState.RUNNING, "w1")
    with database.unit_of_work() as uow:
        assert uow.flows.complete_delivered([(held_message, 1)], [held], uow.jobs, "w1", LATER, alone=True)
        if database.url.startswith("postgresql"):  # committed already (SQLite: one writer)
            with database.unit_of_work() as other:
                assert (
                    other.flows.messages_by_id([held_message])[held_message].state is MessageState.DELIVERED
                )
        uow.commit()
    with database.unit_of_work() as uow:
        done = uow.jobs.get(held)
    assert done is not None
    assert done.state is JobState.DONE


def test_a_round_reads_its_messages_and_their_flows_latest_versions(database: Database) -> None:
    payload = {"order": "SO-1", "note": 'tab\there, "quoted", 中文', "n": [1, 2.5, None, True]}
    with database.unit_of_work() as uow:
        for text in ("first", "second"):  # flow f at version 2; flow g never deployed
            uow.flows.deploy("f", text, deployed_by="t", now=NOW)
        ids = uow.flows.insert_messages(
            [
                NewMessage(flow_id="f", idempotency_key="a", payload=payload, display={"order": "SO-1"}),
                NewMessage(flow_id="g", idempotency_key="b", payload={}, display={}),
            ],
            NOW,
        )
        uow.commit()
    a, b = ids[("f", "a")], ids[("g", "b")]
    with database.unit_of_work() as uow:
        found, latest = uow.flows.delivery_messages([a, b, a + b + 100])
        assert found == uow.flows.messages_by_id([a, b])  # as the one-purpose read gives them
    assert set(found) == {a, b}
    assert found[a].payload == payload
    assert found[a].display == {"order": "SO-1"}
    assert found[a].created_at == NOW
    assert latest == {"f": 2}


def _webhook_group(uow: UnitOfWork, keys: list[str], *, alone: bool) -> dict[tuple[str, str], int]:
    """A webhook group's insert for flow f (version 1): messages ``keys`` and their jobs."""
    template = NewJob(kind="flow.deliver", payload={"version": 1, "test": False})
    latest, ids = uow.flows.insert_delivering(
        [NewMessage(flow_id="f", idempotency_key=k, payload={"k": k}, display={}) for k in keys],
        {"f": 1},
        {"f": template},
        uow.jobs,
        NOW,
        alone=alone,
    )
    assert latest == {"f": 1}
    return ids


def _stored_keys(database: Database) -> set[str]:
    with database.unit_of_work() as uow:
        return {m.idempotency_key for m in uow.flows.messages(flow_id="f")}


def test_a_webhook_group_alone_commits_with_its_one_statement(database: Database) -> None:
    """PostgreSQL runs the insert without BEGIN/COMMIT (autocommit): another connection sees the
    rows before the unit of work's commit, which then has nothing to send. SQLite keeps its
    transaction."""
    with database.unit_of_work() as uow:
        uow.flows.deploy("f", "first", deployed_by="t", now=NOW)
        uow.commit()
    postgres = database.url.startswith("postgresql")
    with database.unit_of_work() as uow:
        ids = _webhook_group(uow, ["a", "b"], alone=True)
        assert len(ids) == 2
        if postgres:  # (SQLite: one writer, so no second connection while this one writes)
            assert _stored_keys(database) == {"a", "b"}
            # and the connection is back in transactional mode
            assert uow.connection.connection.dbapi_connection.autocommit is False  # type: ignore[union-attr]
        uow.commit()
    assert _stored_keys(database) == {"a", "b"}
    with database.unit_of_work() as uow:
        jobs = uow.jobs.claim("w1", NOW, 60, 10, kinds=("flow.deliver",))
    assert sorted(int(job.payload["message"]) for job in jobs) == sorted(ids.values())


def test_a_webhook_group_after_another_write_stays_in_its_transaction(database: Database) -> None:
    """``alone`` when the unit of work already wrote: the insert joins that transaction, and a
    rollback takes back both writes."""
    with database.unit_of_work() as uow:
        uow.flows.deploy("f", "first", deployed_by="t", now=NOW)
        uow.commit()
    with database.unit_of_work() as uow:
        uow.flows.add_messages(
            [NewMessage(flow_id="f", idempotency_key="before", payload={}, display={})], NOW
        )
        _webhook_group(uow, ["a"], alone=True)
        # no commit: the unit of work rolls back
    assert _stored_keys(database) == set()
    with database.unit_of_work() as uow:  # the next unit of work starts clean
        ids = _webhook_group(uow, ["c"], alone=True)
        uow.commit()
    assert set(ids) == {("f", "c")}
    assert _stored_keys(database) == {"c"}


def _pending(database: Database, jobs: list[NewJob], prefix: str = "k") -> list[int]:
    """Flow f deployed twice (latest version 2); one message per job in ``jobs``, whose payloads
    get its id."""
    with database.unit_of_work() as uow:
        for text in ("first", "second"):
            uow.flows.deploy("f", text, deployed_by="t", now=NOW)
        ids = uow.flows.insert_messages(
            [
                NewMessage(flow_id="f", idempotency_key=f"{prefix}{i}", payload={"i": i}, display={"i": "*"})
                for i in range(len(jobs))
            ],
            NOW,
        )
        message_ids = [ids[("f", f"{prefix}{i}")] for i in range(len(jobs))]
        uow.jobs.enqueue_many(
            [
                replace(job, payload={**job.payload, "message": m})
                for job, m in zip(jobs, message_ids, strict=True)
            ],
            NOW,
        )
        uow.commit()
    return message_ids


def _deliver(**fields: object) -> NewJob:
    return NewJob(kind="flow.deliver", payload={}, run_at=NOW, **fields)  # type: ignore[arg-type]


def test_a_delivery_claim_takes_due_jobs_and_reads_their_messages_at_once(database: Database) -> None:
    later = _deliver()
    messages = _pending(
        database,
        [_deliver(), _deliver(), _deliver(), replace(later, run_at=LATER), NewJob(kind="other", payload={})],
    )
    with database.unit_of_work() as uow:
        claim = uow.flows.claim_deliveries("flow.deliver", "w1", NOW, 60, 2)
        if claim is None:  # SQLite: claimed and read separately by the caller
            assert not database.url.startswith("postgresql")
            return
        # committed by itself: another connection sees the leases before this unit of work commits
        with database.unit_of_work() as other:
            assert sorted(j.id for j in other.jobs.list(JobState.RUNNING)) == sorted(j.id for j in claim.jobs)
        uow.commit()
    assert [int(job.payload["message"]) for job in claim.jobs] == messages[:2]  # oldest first, limit 2
    assert all(job.state is JobState.RUNNING and job.locked_by == "w1" for job in claim.jobs)
    assert all(job.attempts == 1 for job in claim.jobs)
    assert sorted(claim.messages) == messages[:2]
    assert claim.messages[messages[0]].payload == {"i": 0}
    assert claim.messages[messages[0]].display == {"i": "*"}
    assert claim.messages[messages[0]].created_at == NOW
    assert claim.latest == {"f": 2}
    assert not claim.serial_due
    with database.unit_of_work() as uow:  # the third; the one due later and the other kind stay
        rest = uow.flows.claim_deliveries("flow.deliver", "w2", NOW, 60, 10)
        expired = uow.flows.claim_deliveries("flow.deliver", "w3", NOW + timedelta(seconds=61), 60, 10)
    assert rest is not None
    assert expired is not None
    assert [int(job.payload["message"]) for job in rest.jobs] == [messages[2]]
    # a minute later w1's and w2's leases have run out: taken again, with the job due since
    assert sorted(int(job.payload["message"]) for job in expired.jobs) == messages[:4]
    assert {job.locked_by for job in expired.jobs} == {"w3"}


def test_a_delivery_claim_leaves_serial_jobs_and_rows_held_elsewhere(database: Database) -> None:
    if not database.url.startswith("postgresql"):
        pytest.skip("the one-statement claim is PostgreSQL's")
    messages = _pending(database, [_deliver(serial_key="chunk:f"), _deliver(), _deliver()])
    with database.unit_of_work() as holder:  # another claim holds the second job's row
        holder.connection.exec_driver_sql(
            "SELECT id FROM jobs WHERE payload->>'message' = %(m)s FOR UPDATE", {"m": str(messages[1])}
        )
        with database.unit_of_work() as uow:
            claim = uow.flows.claim_deliveries("flow.deliver", "w1", NOW, 60, 10)
    assert claim is not None
    assert [int(job.payload["message"]) for job in claim.jobs] == [messages[2]]
    assert claim.serial_due  # the chunk's job: for the general claim
    with database.unit_of_work() as uow:
        general = uow.jobs.claim("w1", NOW, 60, 10, kinds=("flow.deliver",))
        uow.commit()
    assert sorted(int(job.payload["message"]) for job in general) == messages[:2]
    _pending(database, [_deliver(serial_key="chunk:f")], prefix="more")
    with database.unit_of_work() as uow:  # its key has a job running: not claimable, not reported
        claim = uow.flows.claim_deliveries("flow.deliver", "w1", NOW, 60, 10)
    assert claim is not None
    assert (claim.jobs, claim.serial_due) == ([], False)


def test_a_claim_on_a_lost_connection_raises_and_the_next_one_works(database: Database) -> None:
    """The server ends the session under a claim run alone: the error is the lost connection, and
    the pool hands the next unit of work a working one (not the dead one left in autocommit)."""
    if not database.url.startswith("postgresql"):
        pytest.skip("the one-statement claim is PostgreSQL's")
    messages = _pending(database, [_deliver()])
    with database.unit_of_work() as uow:
        pid = uow.connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        uow.commit()
        with database.unit_of_work() as killer:
            killer.connection.exec_driver_sql("SELECT pg_terminate_backend(%(p)s)", {"p": pid})
        with pytest.raises(psycopg.OperationalError):
            uow.flows.claim_deliveries("flow.deliver", "w1", NOW, 60, 10)
    with database.unit_of_work() as uow:
        claim = uow.flows.claim_deliveries("flow.deliver", "w1", NOW, 60, 10)
    assert claim is not None
    assert [int(job.payload["message"]) for job in claim.jobs] == messages
