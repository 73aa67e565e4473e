"""Batch delivery: the same outcomes as the one-by-one path, many messages per transaction."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from isthmus.bootstrap import Container
from isthmus.demo.integration import SandboxApi
from isthmus.integration import MessageState
from isthmus.jobs import JobId, JobState
from isthmus.security import SYSTEM
from isthmus.services.flow_delivery import BatchDelivery, Send
from isthmus.services.integration import DELIVER
from isthmus.testing import FakeClock
from tests.services.test_integration import order
from tests.services.test_integration_batches import batch, target_rows, target_url
from tests.services.test_integration_batches import orders as orders_frame

__all__ = ["batch", "target_url"]  # fixtures shared with the batch tests

FLOW_ID = "crm-erp-orders"


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(8) as executor:
        yield executor


def _batch(
    container: Container, pool: ThreadPoolExecutor, worker: str = "w1", lease_s: float = 300
) -> BatchDelivery:
    def run(send: Send) -> Exception | None:
        try:
            send()
        except Exception as error:
            return error
        return None

    def send_all(sends: Sequence[Send]) -> list[Exception | None]:
        return list(pool.map(run, sends))

    return BatchDelivery(
        container.database.unit_of_work, container.clock, container.flows, worker, send_all, lease_s=lease_s
    )


def drain(runner: BatchDelivery, clock: FakeClock, rounds: int = 10) -> None:
    for _ in range(rounds):
        while runner.run_due().claimed:
            pass
        clock.advance(hours=1)


def test_a_batch_is_delivered_once_each_with_the_token_reused(
    deployed: Container, api: SandboxApi, clock: FakeClock, pool: ThreadPoolExecutor
) -> None:
    deployed.flows.accept(SYSTEM, FLOW_ID, [order(i) for i in range(30)])
    runner = _batch(deployed, pool)
    stats = runner.run_due()
    assert (stats.claimed, stats.done) == (30, 30)
    assert len(api.records["/api/orders"]) == 30
    assert sorted(str(key) for _, key in api.requests) == [f"SO-{i:04d}" for i in range(30)]
    assert api.tokens_issued == 1
    stored = deployed.flows.messages(SYSTEM, flow_id=FLOW_ID)
    assert {(m.state, m.attempts) for m in stored} == {(MessageState.DELIVERED, 1)}
    assert deployed.jobs.counts(SYSTEM) == {JobState.DONE.value: 30}


def test_failures_keep_the_retry_and_dead_letter_rules(
    deployed: Container, api: SandboxApi, clock: FakeClock, pool: ThreadPoolExecutor
) -> None:
    api.fail_next(3, 503)
    deployed.flows.accept(SYSTEM, FLOW_ID, [order(1)])
    drain(_batch(deployed, pool), clock)
    (message,) = deployed.flows.messages(SYSTEM, flow_id=FLOW_ID)
    assert (message.state, message.attempts) == (MessageState.DELIVERED, 4)
    assert [key for _, key in api.requests] == ["SO-0001"] * 4
    api.fail_next(1, 422)
    deployed.flows.accept(SYSTEM, FLOW_ID, [order(2)])
    drain(_batch(deployed, pool), clock)
    rejected = [m for m in deployed.flows.messages(SYSTEM, flow_id=FLOW_ID) if m.idempotency_key == "SO-0002"]
    assert [(m.state, m.attempts) for m in rejected] == [(MessageState.DEAD_LETTERED, 1)]


def test_a_lost_lease_drops_only_that_job(
    deployed: Container, api: SandboxApi, clock: FakeClock, pool: ThreadPoolExecutor
) -> None:
    deployed.flows.accept(SYSTEM, FLOW_ID, [order(1), order(2)])
    first = _batch(deployed, pool, "w1", lease_s=1)
    with deployed.database.unit_of_work() as uow:  # w1 holds both, then its lease on one runs out
        claimed = uow.jobs.claim("w1", clock.now(), 1, 10, kinds=(DELIVER,))
        uow.commit()
    clock.advance(seconds=5)
    with deployed.database.unit_of_work() as uow:
        taken = uow.jobs.claim("w2", clock.now(), 300, 1, kinds=(DELIVER,))
        uow.commit()
    with deployed.database.unit_of_work() as uow:
        found, latest = uow.flows.delivery_messages([int(job.payload["message"]) for job in claimed])
        attempts, done, single = first._plan(uow, claimed, found, latest)
    outcomes: dict[JobId, Exception | None] = {a.job.id: None for a in attempts}
    assert (len(attempts), done, single) == (2, [], [])
    assert first._write(attempts, outcomes, done) == 1  # one lost, the other recorded
    states = {m.idempotency_key: m.state for m in deployed.flows.messages(SYSTEM, flow_id=FLOW_ID)}
    lost_key = next(a.message.idempotency_key for a in attempts if a.job.id == taken[0].id)
    assert states[lost_key] is MessageState.PENDING  # w2 delivers it (the target dedupes the key)
    assert list(states.values()).count(MessageState.DELIVERED) == 1


def test_the_job_runner_leaves_delivery_to_the_batch_loop(deployed: Container, clock: FakeClock) -> None:
    deployed.flows.accept(SYSTEM, FLOW_ID, [order(1)])
    with deployed.database.unit_of_work() as uow:  # nor does it wake the job loop (no busy wait)
        assert uow.jobs.next_due(exclude_kinds=(DELIVER,)) is None
        assert uow.jobs.next_due() is not None
    assert deployed.job_runner(skip_kinds=(DELIVER,)).run_until_idle().claimed == 0
    assert deployed.job_runner().run_until_idle().claimed == 1


def test_a_chunk_takes_the_handler_path(
    batch: Container, target_url: str, clock: FakeClock, pool: ThreadPoolExecutor
) -> None:
    report = batch.flows.accept_frame(SYSTEM, "orders-batch", orders_frame(5), first_row=1)
    assert len(report.message_ids) == 1
    stats = _batch(batch, pool).run_due()  # the chunk is prepared and upserted like the job loop does
    assert (stats.claimed, stats.done) == (1, 1)
    assert len(target_rows(target_url)) == 5
    assert batch.flows.metrics(SYSTEM, "orders-batch").delivered == 5
