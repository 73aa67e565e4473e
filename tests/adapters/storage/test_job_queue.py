"""The job queue: outbox enqueue, claims, retries with backoff, incidents, leases, serial keys."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from isthmus.adapters.storage import Database
from isthmus.adapters.storage.job_queue import _candidates
from isthmus.bootstrap import Container, build
from isthmus.errors import IntegrationFailure, InvalidInput
from isthmus.jobs import Job, JobId, JobState, NewJob, RetryPolicy
from isthmus.security import SYSTEM
from isthmus.services import audit
from isthmus.services.jobs import JobRunner
from isthmus.services.ports import UnitOfWork
from isthmus.testing import FakeClock
from tests.conftest import _fresh_pg_database, make_settings


def _enqueue(container: Container, *jobs: NewJob) -> list[JobId | None]:
    with container.database.unit_of_work() as uow:
        ids = [uow.jobs.enqueue(job, container.clock.now()) for job in jobs]
        uow.commit()
    return ids


def _runner(container: Container, handlers: dict[str, object], worker: str = "w1") -> JobRunner:
    return JobRunner(container.database.unit_of_work, container.clock, handlers, worker)  # type: ignore[arg-type]


def _record_effect(job: Job, uow: UnitOfWork) -> None:
    """A real database effect in the job's own transaction: one audit record per run."""
    audit.record(uow, FakeClock(), SYSTEM, "test.effect", "job", str(job.id), after=job.payload)


def _effects(container: Container) -> int:
    return container.audit.search(SYSTEM, action="test.effect")[1]


def test_enqueue_is_part_of_the_callers_transaction(container: Container) -> None:
    with container.database.unit_of_work() as uow:
        uow.jobs.enqueue(NewJob(kind="k"), container.clock.now())
        # no commit: rolled back with the caller's work
    assert container.jobs.find(SYSTEM) == []


def test_a_job_runs_once_and_its_effect_commits_with_completion(container: Container) -> None:
    (job_id,) = _enqueue(container, NewJob(kind="effect", payload={"n": 1}))
    stats = _runner(container, {"effect": _record_effect}).run_until_idle()
    assert (stats.claimed, stats.done) == (1, 1)
    assert _effects(container) == 1
    assert container.jobs.get(SYSTEM, int(job_id or 0)).state is JobState.DONE
    assert _runner(container, {"effect": _record_effect}).run_until_idle().claimed == 0


def test_failing_target_is_retried_with_backoff_then_becomes_an_incident(
    container: Container, clock: FakeClock
) -> None:
    attempts: list[int] = []

    def always_down(job: Job, uow: UnitOfWork) -> None:
        attempts.append(job.attempts)
        raise IntegrationFailure("target down")

    (job_id,) = _enqueue(container, NewJob(kind="down", policy=RetryPolicy(jitter=0)))
    runner = _runner(container, {"down": always_down})
    delays = []
    for _ in range(4):
        assert runner.run_until_idle().claimed == 1
        job = container.jobs.get(SYSTEM, int(job_id or 0))
        delays.append(job.run_at - clock.now())
        clock.advance(hours=2)
    assert attempts == [1, 2, 3, 4]  # 1 try + 3 retries, the default policy
    assert delays[:3] == [timedelta(seconds=2), timedelta(seconds=4), timedelta(seconds=8)]
    job = container.jobs.get(SYSTEM, int(job_id or 0))
    assert job.state is JobState.INCIDENT
    assert "target down" in (job.last_error or "")


def test_target_failing_three_times_then_recovering_gets_exactly_four_attempts(
    container: Container, clock: FakeClock
) -> None:
    calls: list[int] = []

    def flaky(job: Job, uow: UnitOfWork) -> None:
        calls.append(job.attempts)
        if len(calls) <= 3:
            raise IntegrationFailure("HTTP 500")
        _record_effect(job, uow)

    _enqueue(container, NewJob(kind="flaky"))
    runner = _runner(container, {"flaky": flaky})
    for _ in range(6):
        runner.run_until_idle()
        clock.advance(hours=1)
    assert len(calls) == 4
    assert _effects(container) == 1


def test_terminal_errors_are_not_retried(container: Container) -> None:
    def bad_data(job: Job, uow: UnitOfWork) -> None:
        raise InvalidInput("amount: expected a number")

    (job_id,) = _enqueue(container, NewJob(kind="bad"))
    assert _runner(container, {"bad": bad_data}).run_until_idle().incidents == 1
    job = container.jobs.get(SYSTEM, int(job_id or 0))
    assert job.attempts == 1
    assert job.state is JobState.INCIDENT


def test_failed_handler_effects_are_rolled_back(container: Container) -> None:
    def half_done(job: Job, uow: UnitOfWork) -> None:
        _record_effect(job, uow)
        raise RuntimeError("crash after the effect")

    _enqueue(container, NewJob(kind="half", policy=RetryPolicy(max_attempts=1)))
    _runner(container, {"half": half_done}).run_until_idle()
    assert _effects(container) == 0


def test_unknown_kind_becomes_an_incident_and_can_be_retried(container: Container) -> None:
    (job_id,) = _enqueue(container, NewJob(kind="nobody-handles-me"))
    assert _runner(container, {}).run_until_idle().incidents == 1
    retried = container.jobs.retry(SYSTEM, int(job_id or 0))
    assert (retried.state, retried.attempts) == (JobState.READY, 0)
    assert _runner(container, {"nobody-handles-me": _record_effect}).run_until_idle().done == 1
    assert container.audit.search(SYSTEM, action="job.retry")[1] == 1


def test_future_jobs_wait_for_their_time(container: Container, clock: FakeClock) -> None:
    _enqueue(container, NewJob(kind="effect", run_at=clock.now() + timedelta(minutes=10)))
    runner = _runner(container, {"effect": _record_effect})
    assert runner.run_until_idle().claimed == 0
    clock.advance(minutes=10)
    assert runner.run_until_idle().done == 1


def test_dedupe_key_makes_enqueue_idempotent(container: Container) -> None:
    first, second = _enqueue(
        container, NewJob(kind="k", dedupe_key="order-1"), NewJob(kind="k", dedupe_key="order-1")
    )
    assert first is not None
    assert second is None


def test_expired_lease_lets_another_worker_take_over_and_refuses_the_late_one(
    container: Container, clock: FakeClock
) -> None:
    _enqueue(container, NewJob(kind="effect"))
    with container.database.unit_of_work() as uow:
        (stale,) = uow.jobs.claim("dead-worker", clock.now(), 60, 10)
        uow.commit()
    runner = _runner(container, {"effect": _record_effect}, worker="w2")
    assert runner.run_due().claimed == 0  # still leased
    clock.advance(seconds=61)
    assert runner.run_due().done == 1
    with container.database.unit_of_work() as uow:
        assert not uow.jobs.complete(stale.id, "dead-worker", clock.now())
    assert _effects(container) == 1


def test_jobs_with_one_serial_key_never_run_together(container: Container, clock: FakeClock) -> None:
    _enqueue(
        container,
        *(NewJob(kind="effect", serial_key="instance-1") for _ in range(3)),
        NewJob(kind="effect", serial_key="instance-2"),
    )
    with container.database.unit_of_work() as uow:
        claimed = uow.jobs.claim("w1", clock.now(), 60, 10)
        uow.commit()
    assert sorted(j.serial_key or "" for j in claimed) == ["instance-1", "instance-2"]
    with container.database.unit_of_work() as uow:
        assert uow.jobs.claim("w2", clock.now(), 60, 10) == []


@pytest.fixture
def pg_container(tmp_path: Path, pg_server: str | None, clock: FakeClock) -> Iterator[Container]:
    """A container on PostgreSQL only: SKIP LOCKED concurrency is a PostgreSQL property."""
    if pg_server is None:
        if os.environ.get("ISTHMUS_REQUIRE_PG"):
            pytest.fail("ISTHMUS_REQUIRE_PG is set but no PostgreSQL could be started")
        pytest.skip("no PostgreSQL available")
    for url in _fresh_pg_database(pg_server):
        migrator = Database(url)
        migrator.upgrade()
        migrator.dispose()
        built = build(make_settings(tmp_path, url), clock=clock)
        yield built
        built.close()


@pytest.mark.postgres
def test_concurrent_workers_on_postgresql_never_take_the_same_job(pg_container: Container) -> None:
    container = pg_container
    db_url = container.settings.db_url
    _enqueue(container, *(NewJob(kind="effect", payload={"i": i}) for i in range(200)))
    handled: list[int] = []
    lock = threading.Lock()

    def effect(job: Job, uow: UnitOfWork) -> None:
        with lock:
            handled.append(job.id)
        _record_effect(job, uow)

    databases = [Database(db_url) for _ in range(4)]
    runners = [
        JobRunner(db.unit_of_work, container.clock, {"effect": effect}, f"w{i}")
        for i, db in enumerate(databases)
    ]
    threads = [threading.Thread(target=r.run_until_idle) for r in runners]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for db in databases:
        db.dispose()
    assert sorted(handled) == sorted(set(handled))
    assert len(handled) == 200
    assert _effects(container) == 200


def test_a_claim_returns_the_jobs_as_stored_and_filters_by_kind(container: Container) -> None:
    policy = RetryPolicy(max_attempts=7)
    _enqueue(
        container,
        NewJob(kind="a", payload={"x": "货", "n": [1, 2]}, serial_key="s1", policy=policy),
        NewJob(kind="b", payload={"y": 1}),
        NewJob(kind="a", payload={"z": None}, serial_key="s1"),  # same serial key: next claim
    )
    now = container.clock.now()
    with container.database.unit_of_work() as uow:
        taken = uow.jobs.claim("w1", now, 60.0, 10, kinds={"a"})
        others = uow.jobs.claim("w1", now, 60.0, 10, exclude_kinds={"a"})
        uow.commit()
    assert [j.payload for j in taken] == [{"x": "货", "n": [1, 2]}]
    assert [j.kind for j in others] == ["b"]
    with container.database.unit_of_work() as uow:
        stored = [uow.jobs.get(j.id) for j in [*taken, *others]]
    assert [*taken, *others] == stored
    assert taken[0].policy == policy
    assert taken[0].state is JobState.RUNNING
    assert taken[0].attempts == 1
    assert taken[0].locked_by == "w1"
    assert taken[0].updated_at == now


def _plan_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _plan_nodes(child)


@pytest.mark.postgres
def test_a_claim_reads_expired_leases_only_not_the_entries_finished_jobs_left(
    pg_container: Container,
) -> None:
    """Every finished job leaves its running version's index entries until vacuum. The claim's read
    of expired leases must not walk them (it did: 4,009 entries and 211 heap pages per claim after
    10,000 deliveries), and the serial-key checks must still find a key by its own index."""
    container = pg_container
    engine = container.database.engine
    with engine.begin() as conn:  # keep the dead versions: no vacuum during the test
        conn.execute(text("ALTER TABLE jobs SET (autovacuum_enabled = off)"))
    now = container.clock.now()
    _enqueue(container, *(NewJob(kind="effect", serial_key=f"s{i % 50}") for i in range(3000)))
    with container.database.unit_of_work() as uow:
        while claimed := uow.jobs.claim("w1", now, 300, 500):
            assert uow.jobs.complete_many([job.id for job in claimed], "w1", now)
        uow.commit()
    _enqueue(container, NewJob(kind="effect", serial_key="s1"), NewJob(kind="effect", serial_key="s2"))
    with container.database.unit_of_work() as uow:
        (running,) = uow.jobs.claim("w2", now, 300, 1)
        uow.commit()
    candidates = _candidates((), (), 100).plan(engine.dialect)
    with engine.connect() as conn:
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        cursor.execute(
            "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + candidates.sql, candidates.build({"now": now})
        )
        row = cursor.fetchone()
        assert row is not None
        (plan,) = row[0]
        conn.rollback()
    nodes = list(_plan_nodes(plan["Plan"]))
    expired = [n for n in nodes if n.get("Index Name") == "ix_jobs_running_lease"]
    assert expired, "expired leases are read through ix_jobs_running_lease"
    assert all(n["Shared Hit Blocks"] + n.get("Shared Read Blocks", 0) <= 3 for n in expired)
    serial = [n for n in nodes if n.get("Parent Relationship") == "SubPlan" and n.get("Actual Loops", 0)]
    assert serial, "the due jobs' serial keys were checked"
    assert {n.get("Index Name") for n in serial} == {"ix_jobs_serial_key_state"}
    # and the claim itself: the due job whose key is free, not the one whose key is running
    with container.database.unit_of_work() as uow:
        taken = [job.serial_key for job in uow.jobs.claim("w3", now, 300, 10)]
    assert taken == [{"s1", "s2"}.difference({running.serial_key}).pop()]
