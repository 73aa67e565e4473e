"""A scheduled pull that outlasts its job lease, on SQLite and PostgreSQL, driven by the fake clock:
the pull's checkpoints renew the lease so no other worker takes the job while it makes progress, and a
run that stalled past its lease and lost the job cannot move its cursor or schedule the next run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from isthmus.adapters.connectors.sources import pull
from isthmus.bootstrap import Container
from isthmus.demo.integration import create_erp_tables, flow_text
from isthmus.integration import parse_flow
from isthmus.jobs import JobState
from isthmus.security import SYSTEM
from isthmus.services.flow_schedule import SCHEDULE, FlowScheduler, LeaseLost, schedule_first
from isthmus.services.jobs import JobRunner, RunStats
from isthmus.testing import FakeClock
from tests.services.test_flow_schedule import POLL_EVERY_10M, add_receivables

LEASE_S = 300.0


def _schedule(
    container: Container, run: Callable[..., dict[str, str]]
) -> tuple[FlowScheduler, JobRunner, JobRunner]:
    uow = container.database.unit_of_work
    scheduler = FlowScheduler(uow, container.clock, run, lease_s=LEASE_S)
    with uow() as tx:
        deployed = tx.flows.deploy("poller", POLL_EVERY_10M, deployed_by="t", now=container.clock.now())
        schedule_first(tx, deployed, parse_flow(POLL_EVERY_10M), container.clock.now())
        tx.commit()
    a, b = (JobRunner(uow, container.clock, {SCHEDULE: scheduler}, w, lease_s=LEASE_S) for w in ("wa", "wb"))
    return scheduler, a, b


def _first_run(
    container: Container, clock: FakeClock, run: Callable[..., dict[str, str]], runners: list[JobRunner]
) -> RunStats:
    """Schedule the poller, reach its due time, let worker A run it (``runners`` gets A and B)."""
    _, a, b = _schedule(container, run)
    runners += [a, b]
    clock.advance(minutes=10)
    return a.run_due()


def _jobs(container: Container, state: JobState) -> list[str]:
    with container.database.unit_of_work() as uow:
        return sorted(j.payload["due"] for j in uow.jobs.list(state, limit=100) if j.kind == SCHEDULE)


def test_checkpoints_keep_a_long_pull_from_being_taken(container: Container, clock: FakeClock) -> None:
    other_claims: list[int] = []
    runners: list[JobRunner] = []

    def long_pull(_who: object, _flow: str, checkpoint: Callable[[], None]) -> dict[str, str]:
        for _ in range(4):  # 4 chunks of 200 s: 800 s in all, well past the 300 s lease
            clock.advance(seconds=200)
            checkpoint()
            other_claims.append(runners[1].run_due().claimed)
        return {}

    stats = _first_run(container, clock, long_pull, runners)

    assert (stats.claimed, stats.done, stats.lost) == (1, 1, 0)
    assert other_claims == [0, 0, 0, 0]  # without the renewals the second worker takes it at 400 s
    assert len(_jobs(container, JobState.DONE)) == 1
    assert len(_jobs(container, JobState.READY)) == 1


def test_a_run_that_lost_its_lease_commits_nothing(container: Container, clock: FakeClock) -> None:
    cursor_moves: list[str] = []
    runners: list[JobRunner] = []
    calls = 0

    def pull_(_who: object, _flow: str, checkpoint: Callable[[], None]) -> dict[str, str]:
        nonlocal calls
        calls += 1
        me = "first" if calls == 1 else "second"
        if me == "first":
            clock.advance(seconds=LEASE_S + 1)  # one chunk stalls past the lease …
            taken = runners[1].run_due()  # … and the other worker takes the job and runs it through
            assert (taken.claimed, taken.done) == (1, 1)
        checkpoint()  # the fence: the stalled run stops here, before its cursor moves
        cursor_moves.append(me)
        return {}

    stats = _first_run(container, clock, pull_, runners)

    assert (stats.claimed, stats.done, stats.lost) == (1, 0, 1)
    assert cursor_moves == ["second"]
    assert len(_jobs(container, JobState.DONE)) == 1  # completed once, by the second worker
    assert len(_jobs(container, JobState.READY)) == 1  # one next run: the chain did not fork
    assert _jobs(container, JobState.INCIDENT) == []


def test_a_stale_claim_cannot_renew_even_on_the_same_worker(container: Container, clock: FakeClock) -> None:
    _schedule(container, lambda *_: {})
    clock.advance(minutes=10)
    with container.database.unit_of_work() as uow:
        [first] = uow.jobs.claim("w", clock.now(), LEASE_S, 1)
        uow.commit()
    clock.advance(seconds=LEASE_S + 1)
    with container.database.unit_of_work() as uow:
        [second] = uow.jobs.claim("w", clock.now(), LEASE_S, 1)
        assert second.id == first.id
        assert second.attempts == first.attempts + 1
        assert not uow.jobs.renew(first.id, "w", first.attempts, clock.now(), LEASE_S)
        assert uow.jobs.renew(second.id, "w", second.attempts, clock.now(), LEASE_S)
        uow.commit()


def test_the_real_pull_leaves_its_cursor_when_the_checkpoint_refuses(
    container: Container, tmp_path: Path
) -> None:
    demo = tmp_path / "demo"
    create_erp_tables(demo)
    container.flows.deploy(SYSTEM, flow_text("erp-fic-daily", demo), "erp-fic-daily.yaml")
    add_receivables(demo, 1, 2)
    cursors = tmp_path / "cursors"

    def lost() -> None:
        raise LeaseLost("lease lost")

    with pytest.raises(LeaseLost):
        pull(container.flows, SYSTEM, "erp-fic-daily", cursor_dir=cursors, checkpoint=lost)
    assert not (cursors / "erp-fic-daily.json").exists()

    beats: list[int] = []
    run = pull(
        container.flows, SYSTEM, "erp-fic-daily", cursor_dir=cursors, checkpoint=lambda: beats.append(1)
    )
    assert (cursors / "erp-fic-daily.json").exists()
    assert beats
    assert run.watermark is not None
