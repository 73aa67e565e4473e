"""Retention on SQLite and PostgreSQL: what goes (finished jobs, delivered messages past their period)
and what stays (incidents, dead letters, live work, chain-starting jobs), in small batches, audited;
the hourly chain the worker starts; the settings; ``isthmus job purge``."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from isthmus.adapters.storage.retention import SqlRetention
from isthmus.adapters.storage.tables import flow_messages, jobs
from isthmus.bootstrap import Container
from isthmus.errors import ConfigurationError, PermissionDenied
from isthmus.integration import EXAMPLE, MessageState, NewMessage
from isthmus.jobs import JobState, NewJob
from isthmus.security import SYSTEM, Role
from isthmus.services.retention import PURGE, Retention
from isthmus.settings import load_settings, parse_duration
from isthmus.testing import FakeClock
from tests.conftest import principal_with

DAY = timedelta(days=1)


def _job(container: Container, name: str, state: JobState, age: timedelta, dedupe: str | None = None) -> None:
    now = container.clock.now()
    with container.database.unit_of_work() as uow:
        job_id = uow.jobs.enqueue(NewJob(kind="test", payload={"name": name}, dedupe_key=dedupe), now)
        uow.commit()
    with container.database.engine.begin() as db:
        db.execute(update(jobs).where(jobs.c.id == job_id).values(state=state.value, updated_at=now - age))


def _message(container: Container, key: str, state: MessageState, age: timedelta) -> None:
    at = container.clock.now() - age
    with container.database.unit_of_work() as uow:
        stored = uow.flows.add_message(
            NewMessage(flow_id="crm-erp-orders", idempotency_key=key, payload={}, display={}), at
        )
        assert stored is not None
        delivered = at if state is MessageState.DELIVERED else None
        uow.flows.save_message(replace(stored, state=state, updated_at=at, delivered_at=delivered))
        uow.commit()


def _left(container: Container) -> tuple[list[str], list[str]]:
    with container.database.engine.connect() as db:
        names = sorted(
            str(p["name"]) for p in db.execute(select(jobs.c.payload).where(jobs.c.kind == "test")).scalars()
        )
        keys = sorted(db.execute(select(flow_messages.c.idempotency_key)).scalars())
    return names, keys


@pytest.fixture
def seeded(container: Container) -> Container:
    container.flows.deploy(SYSTEM, EXAMPLE)
    for i in range(5):
        _job(container, f"old-done-{i}", JobState.DONE, 8 * DAY)
    _job(container, "old-cancelled", JobState.CANCELLED, 8 * DAY)
    _job(container, "new-done", JobState.DONE, 6 * DAY)
    _job(container, "old-incident", JobState.INCIDENT, 30 * DAY)
    _job(container, "old-ready", JobState.READY, 30 * DAY)
    _job(container, "chain-start", JobState.DONE, 30 * DAY, dedupe="flow-schedule:f:v1:first")
    _job(
        container,
        "chain-link",
        JobState.DONE,
        30 * DAY,
        dedupe="flow-schedule:f:v1:2024-01-01T00:00:00+00:00",
    )
    for i in range(3):
        _message(container, f"old-delivered-{i}", MessageState.DELIVERED, 31 * DAY)
    _message(container, "new-delivered", MessageState.DELIVERED, 29 * DAY)
    _message(container, "old-dead", MessageState.DEAD_LETTERED, 90 * DAY)
    _message(container, "old-pending", MessageState.PENDING, 90 * DAY)
    return container


def test_purge_takes_what_retention_allows_in_batches_and_is_audited(seeded: Container) -> None:
    retention = Retention(
        SqlRetention(seeded.database.engine),
        seeded.database.unit_of_work,
        seeded.clock,
        jobs=7 * DAY,
        messages=30 * DAY,
        batch=2,  # many small transactions
    )
    dry = retention.purge(SYSTEM, dry_run=True)
    assert (dry.jobs, dry.messages, dry.dry_run) == (7, 3, True)
    assert len(_left(seeded)[0]) == 11  # nothing deleted

    report = retention.purge(SYSTEM)

    assert (report.jobs, report.messages) == (7, 3)
    names, keys = _left(seeded)
    assert names == ["chain-start", "new-done", "old-incident", "old-ready"]
    assert keys == ["new-delivered", "old-dead", "old-pending"]
    trail, _ = seeded.audit.search(SYSTEM, action="retention.purge")
    assert len(trail) == 1
    assert trail[0].event.after["jobs"] == 7
    assert retention.purge(SYSTEM).jobs == 0
    assert len(seeded.audit.search(SYSTEM, action="retention.purge")[0]) == 1  # nothing purged, no record
    with pytest.raises(PermissionDenied):
        retention.purge(principal_with(Role.AUDITOR))


def test_an_explicit_age_and_never(seeded: Container) -> None:
    assert seeded.retention is not None
    report = seeded.retention.purge(SYSTEM, jobs=DAY * 365, messages=DAY * 60)
    assert (report.jobs, report.messages) == (0, 0)
    kept = Retention(
        SqlRetention(seeded.database.engine),
        seeded.database.unit_of_work,
        seeded.clock,
        jobs=None,
        messages=None,
    )
    assert (kept.purge(SYSTEM).jobs, kept.purge(SYSTEM).messages) == (0, 0)


def test_the_worker_purges_hourly_one_job_per_hour(seeded: Container, clock: FakeClock) -> None:
    assert seeded.retention is not None
    seeded.retention.ensure()
    seeded.retention.ensure()  # a second worker starting: same hour slot, no second job

    def purge_jobs(state: JobState) -> list[str]:
        with seeded.database.unit_of_work() as uow:
            return [j.payload["slot"] for j in uow.jobs.list(state, 1000) if j.kind == PURGE]

    assert len(purge_jobs(JobState.READY)) == 1
    seeded.job_runner("w1").run_until_idle()
    assert _left(seeded)[1] == ["new-delivered", "old-dead", "old-pending"]
    [next_slot] = purge_jobs(JobState.READY)
    assert next_slot.endswith("T10:00:00+00:00")  # the clock is at 09:00 UTC
    seeded.retention.ensure()  # a worker restarting within the hour: the slot's job is done, not redone
    assert len(purge_jobs(JobState.READY)) == 1
    assert len(purge_jobs(JobState.DONE)) == 1
    clock.advance(hours=1)
    seeded.job_runner("w1").run_until_idle()
    assert len(purge_jobs(JobState.DONE)) == 2


def test_settings_and_durations(tmp_path: Path) -> None:
    base = {"ISTHMUS_DATA_DIR": str(tmp_path), "ISTHMUS_SECRET_KEY": "k" * 40}
    default = load_settings(base)
    assert (default.job_retention, default.message_retention) == (7 * DAY, 30 * DAY)
    custom = load_settings(base | {"ISTHMUS_JOB_RETENTION": "2w", "ISTHMUS_MESSAGE_RETENTION": "never"})
    assert (custom.job_retention, custom.message_retention) == (14 * DAY, None)
    with pytest.raises(ConfigurationError, match="ISTHMUS_JOB_RETENTION"):
        load_settings(base | {"ISTHMUS_JOB_RETENTION": "30m"})
    with pytest.raises(ConfigurationError, match="ISTHMUS_MESSAGE_RETENTION"):
        load_settings(base | {"ISTHMUS_MESSAGE_RETENTION": "a month"})
    assert parse_duration("1d12h") == timedelta(hours=36)
    with pytest.raises(ValueError, match="7x"):
        parse_duration("7x")


def test_orphaned_chunk_files_are_swept_and_live_ones_kept(container: Container, tmp_path: Path) -> None:
    """A crash between writing a chunk file and committing its message leaves a file no message
    names: the purge removes it once it is older than the grace period; files of messages waiting
    for delivery or replay stay, and so do young files (their message may be about to commit)."""
    import os

    from isthmus.adapters.storage.chunk_files import FileChunkStore
    from isthmus.services.retention import CHUNK_GRACE

    store = FileChunkStore(tmp_path / "flow-chunks")
    container.flows.deploy(SYSTEM, EXAMPLE)
    live, delivered, orphan, young = (
        "a" * 32 + ".arrow",
        "b" * 32 + ".arrow",
        "c" * 32 + ".arrow",
        "d" * 32 + ".arrow",
    )
    for name in (live, delivered, orphan, young):
        store.put(name, b"rows")
    stale = tmp_path / "flow-chunks" / f".{orphan}.123.tmp"
    stale.write_bytes(b"half")
    old = (container.clock.now() - CHUNK_GRACE - timedelta(minutes=1)).timestamp()
    for path in (tmp_path / "flow-chunks").iterdir():
        if young not in path.name:
            os.utime(path, (old, old))
    now = container.clock.now()
    with container.database.unit_of_work() as uow:
        for key, name, state in (
            ("chunk:1", live, MessageState.DEAD_LETTERED),
            ("chunk:2", delivered, MessageState.DELIVERED),
        ):
            payload = {"chunk": {"format": "arrow-ipc-lz4-file", "file": name}}
            stored = uow.flows.add_message(
                NewMessage(flow_id="crm-erp-orders", idempotency_key=key, payload=payload, display={}), now
            )
            assert stored is not None
            uow.flows.save_message(replace(stored, state=state, updated_at=now))
        uow.commit()
    retention = Retention(
        SqlRetention(container.database.engine),
        container.database.unit_of_work,
        container.clock,
        jobs=None,
        messages=None,
        chunks=store,
    )

    assert (
        retention.purge(SYSTEM, dry_run=True).chunk_files == 3
    )  # the orphan, the delivered one's, the temporary
    assert len(list((tmp_path / "flow-chunks").iterdir())) == 5  # a dry run removes nothing
    report = retention.purge(SYSTEM)

    assert report.chunk_files == 3
    assert sorted(p.name for p in (tmp_path / "flow-chunks").iterdir()) == [live, young]
    trail, _ = container.audit.search(SYSTEM, action="retention.purge")
    assert trail[0].event.after["chunk_files"] == 3
