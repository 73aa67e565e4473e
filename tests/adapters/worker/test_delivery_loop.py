"""The pipelined delivery loop: the next batch is claimed while an earlier one is still being sent,
every message is delivered once, and a stop records the batches in hand before it returns."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from isthmus.adapters.storage.wakeups import DeliveryWakeups
from isthmus.adapters.worker import DeliveryLoop
from isthmus.bootstrap import Container
from isthmus.demo.integration import SandboxApi
from isthmus.integration import MessageState
from isthmus.jobs import JobState
from isthmus.security import SYSTEM
from isthmus.services.flow_delivery import BatchDelivery, Claimed, Send
from isthmus.services.jobs import RunStats
from tests.services.conftest import deployed
from tests.services.test_integration import order

__all__ = ["deployed"]  # a fixture shared with the services' tests

FLOW_ID = "crm-erp-orders"
WAIT_S = 30  # a bound on waits for the other threads, never a timing assumption


class GatedDelivery(BatchDelivery):
    """Batch delivery whose first batch's requests wait for ``gate``; records claims and finishes."""

    def __init__(self, container: Container, batch: int) -> None:
        super().__init__(
            container.database.unit_of_work,
            container.clock,
            container.flows,
            "loop-test",
            lambda sends: [None for _ in sends],
            batch=batch,
        )
        self.gate = threading.Event()
        self.claimed_batches = 0
        self.second_claim = threading.Event()
        self.finished = 0
        self.all_finished = threading.Event()
        self.expected = 0

    def claim_due(self) -> Claimed | None:
        claimed = super().claim_due()
        if claimed is None:
            return None
        self.claimed_batches += 1
        if self.claimed_batches == 1:
            claimed = Claimed(
                claimed.claimed,
                claimed.attempts,
                claimed.done,
                claimed.single,
                [self._gated(send) for send in claimed.sends],
            )
        else:
            self.second_claim.set()
        return claimed

    def _gated(self, send: Send) -> Send:
        def run() -> None:
            assert self.gate.wait(WAIT_S)
            send()

        return run

    def finish(self, claimed: Claimed, errors: Sequence[Exception | None]) -> RunStats:
        stats = super().finish(claimed, errors)
        self.finished += stats.done
        if self.finished >= self.expected:
            self.all_finished.set()
        return stats


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(4) as executor:
        yield executor


def _loop(container: Container, runner: BatchDelivery, pool: ThreadPoolExecutor) -> DeliveryLoop:
    return DeliveryLoop(runner, DeliveryWakeups(container.database.url), pool, 0.05, depth=2)


def test_the_next_batch_is_claimed_and_sent_while_the_first_is_still_in_flight(
    deployed: Container, api: SandboxApi, pool: ThreadPoolExecutor
) -> None:
    deployed.flows.accept(SYSTEM, FLOW_ID, [order(i) for i in range(3)])
    runner = GatedDelivery(deployed, batch=1)
    runner.expected = 3
    loop = _loop(deployed, runner, pool)
    thread = loop.start_thread()
    try:
        # the first batch's request is held: the loop still claims (and sends) the next one
        assert runner.second_claim.wait(WAIT_S)
        assert not runner.gate.is_set()
        runner.gate.set()
        assert runner.all_finished.wait(WAIT_S)
    finally:
        runner.gate.set()
        loop.stop()
        thread.join(WAIT_S)
        loop.close()
    assert not thread.is_alive()
    assert sorted(str(key) for _, key in api.requests) == [f"SO-{i:04d}" for i in range(3)]  # once each
    stored = deployed.flows.messages(SYSTEM, flow_id=FLOW_ID)
    assert {(m.state, m.attempts) for m in stored} == {(MessageState.DELIVERED, 1)}
    assert deployed.jobs.counts(SYSTEM) == {JobState.DONE.value: 3}


def test_a_stop_records_the_batch_in_flight_before_the_loop_returns(
    deployed: Container, api: SandboxApi, pool: ThreadPoolExecutor
) -> None:
    deployed.flows.accept(SYSTEM, FLOW_ID, [order(1)])
    runner = GatedDelivery(deployed, batch=10)
    runner.expected = 1
    claimed = threading.Event()
    original = runner.claim_due

    def claim_due() -> Claimed | None:
        found = original()
        if found is not None:
            claimed.set()
        return found

    runner.claim_due = claim_due  # type: ignore[method-assign]
    loop = _loop(deployed, runner, pool)
    thread = loop.start_thread()
    assert claimed.wait(WAIT_S)
    loop.stop()  # while the batch's request is still held
    runner.gate.set()
    thread.join(WAIT_S)
    loop.close()
    assert not thread.is_alive()
    (message,) = deployed.flows.messages(SYSTEM, flow_id=FLOW_ID)
    assert (message.state, message.attempts) == (MessageState.DELIVERED, 1)
    assert deployed.jobs.counts(SYSTEM) == {JobState.DONE.value: 1}
