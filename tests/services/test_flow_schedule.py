"""Cron and poll triggers run by the worker from a durable schedule, on SQLite and PostgreSQL, with a
fake clock (no sleeps): the guide's ERP→finance flow at 22:00 Asia/Shanghai."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from isthmus.bootstrap import Container
from isthmus.demo.integration import create_erp_tables, flow_text
from isthmus.integration import parse_flow
from isthmus.jobs import JobState
from isthmus.security import SYSTEM
from isthmus.services.flow_schedule import SCHEDULE, FlowScheduler, next_due, schedule_first
from isthmus.services.jobs import JobRunner
from isthmus.testing import FakeClock, InMemoryStore, memory_uow_factory

# FakeClock starts at 2024-06-01 09:00 UTC = 17:00 in Shanghai; 22:00 there is 14:00 UTC.
FIRST_DUE = datetime(2024, 6, 1, 14, 0, tzinfo=UTC)


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    folder = tmp_path / "demo"
    create_erp_tables(folder)
    return folder


def add_receivables(demo: Path, *numbers: int) -> None:
    with sqlite3.connect(demo / "erp.db") as conn:
        conn.executemany(
            "INSERT INTO bseg VALUES (?, ?, ?, ?)",
            [(f"{n:010d}", f"SO-{n}", f"{n}.50", "2024-06-01") for n in numbers],
        )


def finance(demo: Path) -> list[str]:
    with sqlite3.connect(demo / "fic.db") as conn:
        return [row[0] for row in conn.execute("SELECT belnr FROM fic ORDER BY belnr")]


def scheduler(container: Container) -> FlowScheduler:
    assert container.schedule is not None
    return container.schedule


def schedule_jobs(container: Container, state: JobState = JobState.READY) -> list[tuple[str, int, str]]:
    with container.database.unit_of_work() as uow:
        found = [j for j in uow.jobs.list(state, limit=1000) if j.kind == SCHEDULE]
    return sorted((j.payload["flow"], j.payload["version"], j.payload["due"]) for j in found)


@pytest.fixture
def erp_fic(container: Container, demo: Path) -> Container:
    container.flows.deploy(SYSTEM, flow_text("erp-fic-daily", demo), "erp-fic-daily.yaml")
    return container


def test_deploy_schedules_the_first_run_at_22_in_shanghai(erp_fic: Container, demo: Path) -> None:
    [upcoming] = scheduler(erp_fic).upcoming(SYSTEM)
    assert (upcoming.flow_id, upcoming.due) == ("erp-fic-daily", FIRST_DUE)
    assert "0 22 * * *" in upcoming.trigger
    add_receivables(demo, 1, 2)
    erp_fic.job_runner("w1").run_until_idle()
    assert finance(demo) == []  # not due yet


def test_the_flow_runs_at_its_due_time_and_again_the_next_night(
    erp_fic: Container, demo: Path, clock: FakeClock
) -> None:
    add_receivables(demo, 1, 2)
    clock.advance(hours=5)  # 14:00 UTC = 22:00 Shanghai
    erp_fic.job_runner("w1").run_until_idle()
    assert finance(demo) == ["0000000001", "0000000002"]
    assert schedule_jobs(erp_fic) == [("erp-fic-daily", 1, "2024-06-02T14:00:00+00:00")]
    add_receivables(demo, 3)
    clock.advance(hours=23, minutes=59)
    erp_fic.job_runner("w1").run_until_idle()
    assert finance(demo) == ["0000000001", "0000000002"]  # a minute early
    clock.advance(minutes=1)
    erp_fic.job_runner("w1").run_until_idle()
    assert finance(demo) == ["0000000001", "0000000002", "0000000003"]
    assert [due for _, due in scheduler(erp_fic).runs] == [
        "2024-06-01T14:00:00+00:00",
        "2024-06-02T14:00:00+00:00",
    ]


def test_missed_runs_after_downtime_run_once(erp_fic: Container, demo: Path, clock: FakeClock) -> None:
    add_receivables(demo, 1)
    clock.advance(days=3, hours=6)  # the worker was down for four 22:00s (June 1-4)
    erp_fic.job_runner("w1").run_until_idle()
    assert len(scheduler(erp_fic).runs) == 1
    assert finance(demo) == ["0000000001"]
    assert schedule_jobs(erp_fic) == [("erp-fic-daily", 1, "2024-06-05T14:00:00+00:00")]


def test_many_workers_one_run_per_due_time(erp_fic: Container, demo: Path, clock: FakeClock) -> None:
    again = erp_fic.flows.deploy(SYSTEM, flow_text("erp-fic-daily", demo), "erp-fic-daily.yaml")
    assert again.version == 1
    assert scheduler(erp_fic).ensure() == 0  # deploy already scheduled it
    add_receivables(demo, 1)
    clock.advance(hours=5)
    runners = [erp_fic.job_runner(f"w{i}") for i in range(4)]
    for _ in range(3):
        for runner in runners:
            runner.run_due(limit=1)
    for runner in runners:
        runner.run_until_idle()
    assert len(scheduler(erp_fic).runs) == 1
    assert len(schedule_jobs(erp_fic)) == 1
    assert len(schedule_jobs(erp_fic, JobState.DONE)) == 1


def test_a_new_version_replaces_the_chain(erp_fic: Container, demo: Path, clock: FakeClock) -> None:
    text = flow_text("erp-fic-daily", demo).replace('cron: "0 22 * * *"', 'cron: "30 21 * * *"')
    assert erp_fic.flows.deploy(SYSTEM, text, "erp-fic-daily.yaml").version == 2
    assert schedule_jobs(erp_fic) == [
        ("erp-fic-daily", 1, FIRST_DUE.isoformat()),
        ("erp-fic-daily", 2, "2024-06-01T13:30:00+00:00"),
    ]
    [upcoming] = scheduler(erp_fic).upcoming(SYSTEM)
    assert upcoming.version == 2
    clock.advance(hours=6)
    erp_fic.job_runner("w1").run_until_idle()
    assert [due for _, due in scheduler(erp_fic).runs] == ["2024-06-01T13:30:00+00:00"]
    assert schedule_jobs(erp_fic) == [("erp-fic-daily", 2, "2024-06-02T13:30:00+00:00")]


def test_a_failing_pull_is_retried_then_the_chain_goes_on(
    container: Container, demo: Path, clock: FakeClock
) -> None:
    text = flow_text("erp-fic-daily", demo).replace("table: bseg", "table: no_such_table")
    container.flows.deploy(SYSTEM, text, "erp-fic-daily.yaml")
    clock.advance(hours=5)
    runner = container.job_runner("w1")
    for _ in range(4):
        runner.run_until_idle()
        clock.advance(minutes=15)  # past the backoff of the schedule's retry policy
    assert scheduler(container).runs == []
    assert schedule_jobs(container) == [("erp-fic-daily", 1, "2024-06-02T14:00:00+00:00")]
    [done] = [j for j in container.jobs.find(SYSTEM, JobState.DONE) if j.kind == SCHEDULE]
    assert done.attempts == 3


def test_a_poll_trigger_runs_every_interval(container: Container, demo: Path, clock: FakeClock) -> None:
    text = flow_text("erp-fic-daily", demo).replace(
        'trigger: {cron: "0 22 * * *", timezone: Asia/Shanghai}', "trigger: {poll: 5m}"
    )
    container.flows.deploy(SYSTEM, text, "erp-fic-daily.yaml")
    runner = container.job_runner("w1")
    for number in range(1, 4):
        add_receivables(demo, number)
        clock.advance(minutes=5)
        runner.run_until_idle()
    assert finance(demo) == ["0000000001", "0000000002", "0000000003"]
    assert len(scheduler(container).runs) == 3


def test_webhook_flows_have_no_schedule(container: Container) -> None:
    from isthmus.integration import EXAMPLE

    container.flows.deploy(SYSTEM, EXAMPLE, "example.yaml")
    assert schedule_jobs(container) == []
    assert scheduler(container).ensure() == 0


def test_next_due() -> None:
    cron = parse_flow(flow_text("erp-fic-daily", Path("/x"))).trigger
    assert next_due(cron, FIRST_DUE) == datetime(2024, 6, 2, 14, 0, tzinfo=UTC)
    assert next_due(parse_flow(flow_text("oa-hr-employees", Path("/x"))).trigger, FIRST_DUE) == datetime(
        2024, 6, 1, 14, 1, tzinfo=UTC
    )


def test_a_flow_stored_without_the_scheduler_is_scheduled_when_a_worker_starts(
    container: Container, demo: Path, clock: FakeClock
) -> None:
    with container.database.unit_of_work() as uow:  # as a database from before the scheduler has it
        uow.flows.deploy(
            "erp-fic-daily", flow_text("erp-fic-daily", demo), deployed_by="old", now=clock.now()
        )
        uow.commit()
    assert schedule_jobs(container) == []
    container.job_runner("w1")
    assert schedule_jobs(container) == [("erp-fic-daily", 1, FIRST_DUE.isoformat())]
    container.job_runner("w2")
    assert len(schedule_jobs(container)) == 1


POLL_EVERY_10M = """\
flow: poller
source: {system: ERP, connector: sql, options: {url: "sqlite://", table: t}}
target: {system: FIC, connector: sql, options: {url: "sqlite://", table: t, key: [k]}}
trigger: {cron: "*/10 * * * *", timezone: Asia/Shanghai}
mapping: {k: k}
idempotency_key: k
"""


@settings(max_examples=40, deadline=None)
@given(gaps=st.lists(st.integers(1, 95), min_size=1, max_size=25), workers=st.integers(1, 3))
def test_runs_once_per_wake_up_that_finds_a_due_time(gaps: list[int], workers: int) -> None:
    """Whenever the workers wake (every few minutes, or after long downtime), a due schedule runs
    once — never once per missed due time — and the next due time is always in the future."""
    clock = FakeClock(datetime(2024, 6, 1, 9, 0, tzinfo=UTC))
    uow = memory_uow_factory(InMemoryStore())
    ran: list[datetime] = []

    def pull(_who: object, _flow: str, _checkpoint: object) -> dict[str, str]:
        ran.append(clock.now())
        return {}

    scheduler = FlowScheduler(uow, clock, pull)
    with uow() as tx:
        deployed = tx.flows.deploy("poller", POLL_EVERY_10M, deployed_by="t", now=clock.now())
        schedule_first(tx, deployed, parse_flow(POLL_EVERY_10M), clock.now())
        tx.commit()
    runners = [JobRunner(uow, clock, {SCHEDULE: scheduler}, f"w{i}") for i in range(workers)]
    due = datetime(2024, 6, 1, 9, 10, tzinfo=UTC)
    expected: list[datetime] = []
    for gap in gaps:
        clock.advance(minutes=gap)
        if clock.now() >= due:  # the model: one run, then the first slot after now
            expected.append(clock.now())
            due = next_due(parse_flow(POLL_EVERY_10M).trigger, clock.now())  # type: ignore[assignment]
        for runner in runners:
            runner.run_until_idle()
    assert ran == expected
    with uow() as tx:
        ready = [j for j in tx.jobs.list(JobState.READY, limit=100) if j.kind == SCHEDULE]
    assert [j.run_at for j in ready] == [due]
