"""Batch flows end to end: a chunk is one outbox message and one delivery job, upserted by key into a
real SQL target (a table in the test database: SQLite, and PostgreSQL through COPY)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import create_engine, text

from isthmus.adapters.connectors import make_target
from isthmus.adapters.storage import Database
from isthmus.adapters.storage.chunk_files import FileChunkStore
from isthmus.bootstrap import Container
from isthmus.integration import (
    Endpoint,
    MessageState,
    Outbound,
    OutboundChunk,
    Target,
    TargetRejected,
    TargetUnavailable,
)
from isthmus.security import SYSTEM
from isthmus.services.integration import DELIVER, AcceptReport, FlowService
from isthmus.services.jobs import JobRunner
from isthmus.testing import FakeClock

FLOW = """\
flow: orders-batch
source: {{system: CRM, connector: files, options: {{folder: "{folder}"}}}}
target: {{system: ERP, connector: sql, options: {{url: "{url}", table: vbak, key: [vbeln]}}}}
trigger: {{poll: 60s}}
mapping: {{vbeln: order_id, kunnr: cust_code, dmbtr: amount, telf1: phone}}
transforms: {{dmbtr: {{type: decimal}}, telf1: {{mask: phone}}}}
validate:
  - rule: 'matches(phone, "^1\\\\d{{10}}$")'
    message: phone must be 11 digits
idempotency_key: order_id
delivery: {{attempts: 4, backoff: 2s}}
"""


@pytest.fixture
def target_url(db_url: str, tmp_path: Path) -> str:
    """The ERP: a file of its own on SQLite (the outbox holds its file's write lock while delivering),
    a table beside the outbox on PostgreSQL."""
    url = f"sqlite:///{tmp_path / 'erp.db'}" if db_url.startswith("sqlite") else db_url
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text("CREATE TABLE vbak (vbeln VARCHAR(20) PRIMARY KEY, kunnr TEXT, dmbtr TEXT, telf1 TEXT)")
        )
    engine.dispose()
    return url


@pytest.fixture
def batch(container: Container, target_url: str, tmp_path: Path) -> Container:
    (tmp_path / "inbox").mkdir()
    container.flows.deploy(SYSTEM, FLOW.format(folder=tmp_path / "inbox", url=target_url))
    return container


def orders(n: int, *, bad: tuple[int, ...] = (), first: int = 0) -> pl.DataFrame:
    rows = [
        {
            "order_id": f"SO-{i:04d}",
            "cust_code": f"C{i % 7}",
            "amount": f"{i}.50",
            "phone": "1381234" if i in bad else f"138{i:08d}",
        }
        for i in range(first, first + n)
    ]
    return pl.DataFrame(rows)


def target_rows(url: str) -> dict[str, tuple[str, str, str]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        found = {r[0]: (r[1], r[2], r[3]) for r in conn.execute(text("SELECT * FROM vbak"))}
    engine.dispose()
    return found


def deliver_all(container: Container, clock: FakeClock) -> None:
    runner = container.job_runner("test-worker")
    for _ in range(6):
        runner.run_until_idle()
        clock.advance(hours=1)


def test_a_chunk_is_one_message_and_one_job_and_malformed_rows_go_to_the_dlq_with_their_rows(
    batch: Container, target_url: str, clock: FakeClock
) -> None:
    report = batch.flows.accept_frame(SYSTEM, "orders-batch", orders(10, bad=(3, 8)), first_row=1)
    assert (report.accepted, report.rejected, len(report.message_ids)) == (8, 2, 1)
    assert [row for row, _ in report.errors] == [4, 9]
    with batch.database.unit_of_work() as uow:
        assert [j.payload["message"] for j in uow.jobs.list() if j.kind == DELIVER] == list(
            report.message_ids
        )
    deliver_all(batch, clock)
    rows = target_rows(target_url)
    assert len(rows) == 8
    assert rows["SO-0002"] == ("C2", "2.50", "138****0002")
    assert "SO-0003" not in rows
    dead = batch.flows.messages(SYSTEM, flow_id="orders-batch", states=(MessageState.DEAD_LETTERED,))
    assert [(m.row_number, m.last_error) for m in dead] == [
        (4, "validation: phone must be 11 digits"),
        (9, "validation: phone must be 11 digits"),
    ]
    assert dead[0].display["phone"] == "*******"
    metrics = batch.flows.metrics(SYSTEM, "orders-batch")
    assert (metrics.delivered, metrics.failures, metrics.backlog) == (8, 2, 0)


def test_a_chunk_read_again_is_a_duplicate_and_a_redelivered_chunk_has_one_effect_per_key(
    batch: Container, target_url: str, clock: FakeClock
) -> None:
    frame = orders(6)
    first = batch.flows.accept_frame(SYSTEM, "orders-batch", frame, first_row=1)
    again = batch.flows.accept_frame(SYSTEM, "orders-batch", frame, first_row=1)
    assert (first.accepted, again.accepted, again.duplicates, again.message_ids) == (6, 0, 6, ())
    # A worker that dies after the target committed but before the outbox did: the chunk runs again.
    with batch.database.unit_of_work() as uow:
        (job,) = [j for j in uow.jobs.list() if j.kind == DELIVER]
        batch.flows.deliver(job, uow)  # the target commits; this transaction never does
    assert len(target_rows(target_url)) == 6
    assert len(chunk_files(batch)) == 1  # kept: the outbox still says pending
    deliver_all(batch, clock)
    rows = target_rows(target_url)
    assert sorted(rows) == [f"SO-{i:04d}" for i in range(6)]
    assert batch.flows.metrics(SYSTEM, "orders-batch").delivered == 6
    assert chunk_files(batch) == []
    # the same file read again after its delivery: a duplicate, and no file left behind
    late = batch.flows.accept_frame(SYSTEM, "orders-batch", frame, first_row=1)
    assert (late.accepted, late.duplicates, chunk_files(batch)) == (0, 6, [])


def chunk_files(container: Container) -> list[str]:
    folder = container.settings.data_dir / "flow-chunks"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_a_chunk_waits_in_a_file_named_by_its_message_until_it_is_delivered(
    batch: Container, target_url: str, clock: FakeClock
) -> None:
    report = batch.flows.accept_frame(SYSTEM, "orders-batch", orders(20, bad=(5,)), first_row=1)
    (message,) = batch.flows.messages(SYSTEM, flow_id="orders-batch", states=(MessageState.PENDING,))
    body = message.payload["chunk"]
    assert "data" not in body  # the outbox row holds the claim check, not the rows
    assert chunk_files(batch) == [body["file"]]
    assert (body["rows"], report.accepted) == (19, 19)
    deliver_all(batch, clock)
    assert len(target_rows(target_url)) == 19
    assert chunk_files(batch) == []


class Refusing:
    """A chunk target that refuses every chunk until ``fixed``."""

    def __init__(self, real: Target) -> None:
        self.real = real
        self.fixed = False

    def send(self, message: Outbound) -> None:
        self.real.send(message)

    def send_chunk(self, chunk: OutboundChunk) -> None:
        if not self.fixed:
            raise TargetRejected("the ERP refuses the chunk")
        self.real.send_chunk(chunk)  # type: ignore[attr-defined]

    def close(self) -> None:
        self.real.close()


def test_a_dead_lettered_chunk_keeps_its_file_for_a_replay_and_a_discard_removes_it(
    database: Database, target_url: str, clock: FakeClock, tmp_path: Path
) -> None:
    opened: list[Refusing] = []

    def targets(endpoint: Endpoint, timeout_s: float) -> Target:
        opened.append(Refusing(make_target(endpoint, timeout_s)))
        return opened[-1]

    store = FileChunkStore(tmp_path / "chunks")
    flows = FlowService(database.unit_of_work, clock, targets, chunks=store)
    flows.deploy(SYSTEM, FLOW.format(folder=tmp_path, url=target_url))
    flows.accept_frame(SYSTEM, "orders-batch", orders(5), first_row=1)
    flows.accept_frame(SYSTEM, "orders-batch", orders(5, first=5), first_row=6)
    runner = JobRunner(database.unit_of_work, clock, {DELIVER: flows.deliver}, "w")
    runner.run_until_idle()
    dead = flows.messages(SYSTEM, flow_id="orders-batch", states=(MessageState.DEAD_LETTERED,))
    assert len(dead) == 2
    assert len(list(store.directory.iterdir())) == 2
    opened[0].fixed = True
    flows.replay(SYSTEM, [dead[0].id])
    runner.run_until_idle()
    assert sorted(target_rows(target_url)) == [f"SO-{i:04d}" for i in range(5)]
    assert [p.name for p in store.directory.iterdir()] == [dead[1].payload["chunk"]["file"]]
    assert flows.discard(SYSTEM, [dead[1].id], "sent by hand") == 1
    assert list(store.directory.iterdir()) == []
    flows.close()


def test_a_chunk_whose_file_is_gone_or_altered_is_dead_lettered_saying_so(
    database: Database, target_url: str, clock: FakeClock, tmp_path: Path
) -> None:
    store = FileChunkStore(tmp_path / "chunks")
    flows = FlowService(database.unit_of_work, clock, make_target, chunks=store)
    flows.deploy(SYSTEM, FLOW.format(folder=tmp_path, url=target_url))
    flows.accept_frame(SYSTEM, "orders-batch", orders(3), first_row=1)
    flows.accept_frame(SYSTEM, "orders-batch", orders(3, first=3), first_row=4)
    first, second = flows.messages(SYSTEM, flow_id="orders-batch")
    (store.directory / first.payload["chunk"]["file"]).unlink()
    (store.directory / second.payload["chunk"]["file"]).write_bytes(b"not the rows")
    JobRunner(database.unit_of_work, clock, {DELIVER: flows.deliver}, "w").run_until_idle()
    dead = flows.messages(SYSTEM, flow_id="orders-batch", states=(MessageState.DEAD_LETTERED,))
    assert [("missing" in (m.last_error or ""), "digest" in (m.last_error or "")) for m in dead] == [
        (True, False),
        (False, True),
    ]
    assert target_rows(target_url) == {}
    flows.close()


def test_duplicate_keys_in_a_chunk_keep_the_last_row(
    batch: Container, target_url: str, clock: FakeClock
) -> None:
    frame = pl.concat([orders(3), orders(1, first=1).with_columns(pl.lit("C-new").alias("cust_code"))])
    report = batch.flows.accept_frame(SYSTEM, "orders-batch", frame, first_row=1)
    assert (report.accepted, report.duplicates) == (3, 1)
    deliver_all(batch, clock)
    assert target_rows(target_url)["SO-0001"][0] == "C-new"


class Flaky:
    """A chunk target that is down for its first ``failures`` calls, then writes to the real one."""

    def __init__(self, real: Target, failures: int) -> None:
        self.real = real
        self.failures = failures
        self.calls = 0

    def send(self, message: Outbound) -> None:
        self.real.send(message)

    def send_chunk(self, chunk: OutboundChunk) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise TargetUnavailable("target down (call {n})", n=self.calls)
        self.real.send_chunk(chunk)  # type: ignore[attr-defined]

    def close(self) -> None:
        self.real.close()


def test_a_chunk_target_failing_three_times_then_recovering_gets_exactly_four_attempts(
    database: Database, target_url: str, clock: FakeClock, tmp_path: Path
) -> None:
    opened: list[Flaky] = []

    def targets(endpoint: Endpoint, timeout_s: float) -> Target:
        opened.append(Flaky(make_target(endpoint, timeout_s), failures=3))
        return opened[-1]

    flows = FlowService(database.unit_of_work, clock, targets)
    flows.deploy(SYSTEM, FLOW.format(folder=tmp_path, url=target_url))
    flows.accept_frame(SYSTEM, "orders-batch", orders(5), first_row=1)
    runner = JobRunner(database.unit_of_work, clock, {DELIVER: flows.deliver}, "w")
    for _ in range(8):
        runner.run_until_idle()
        clock.advance(hours=1)
    assert opened[0].calls == 4
    (message,) = flows.messages(SYSTEM, flow_id="orders-batch")
    assert (message.state, message.attempts) == (MessageState.DELIVERED, 4)
    assert len(target_rows(target_url)) == 5
    flows.close()


class Meanwhile:
    """A chunk target that runs ``during`` (once) while it writes a chunk."""

    def __init__(self, real: Target, during: list[Callable[[], object]]) -> None:
        self.real = real
        self.during = during

    def send(self, message: Outbound) -> None:
        self.real.send(message)

    def send_chunk(self, chunk: OutboundChunk) -> None:
        while self.during:
            self.during.pop()()
        self.real.send_chunk(chunk)  # type: ignore[attr-defined]

    def close(self) -> None:
        self.real.close()


def test_a_chunk_is_written_to_its_target_while_the_outbox_takes_the_next_one(
    database: Database, target_url: str, clock: FakeClock, tmp_path: Path
) -> None:
    """The job's transaction (on SQLite: the outbox file's write lock) opens only after the target
    took the chunk, so a pull storing its next chunk meanwhile does not wait for the upsert."""
    during: list[Callable[[], object]] = []
    flows = FlowService(
        database.unit_of_work,
        clock,
        lambda endpoint, timeout_s: Meanwhile(make_target(endpoint, timeout_s), during),
        chunks=FileChunkStore(tmp_path / "chunks"),
    )
    flows.deploy(SYSTEM, FLOW.format(folder=tmp_path, url=target_url))
    flows.accept_frame(SYSTEM, "orders-batch", orders(4), first_row=1)
    meanwhile: list[AcceptReport] = []
    during.append(
        lambda: meanwhile.append(flows.accept_frame(SYSTEM, "orders-batch", orders(3, first=4), first_row=5))
    )
    runner = JobRunner(database.unit_of_work, clock, {DELIVER: flows.delivery}, "w")
    assert runner.run_until_idle().done == 2
    assert [r.accepted for r in meanwhile] == [3]
    assert sorted(target_rows(target_url)) == [f"SO-{i:04d}" for i in range(7)]
    messages = flows.messages(SYSTEM, flow_id="orders-batch")
    assert [(m.state, m.attempts) for m in messages] == [(MessageState.DELIVERED, 1)] * 2
    flows.close()


def test_chunks_of_one_flow_are_delivered_one_at_a_time_in_order(
    batch: Container, target_url: str, clock: FakeClock
) -> None:
    """Two workers must not write two chunks of one flow at once: a key in both would end with
    whichever commits last, not with the later chunk's row."""
    batch.flows.accept_frame(SYSTEM, "orders-batch", orders(3), first_row=1)
    batch.flows.accept_frame(SYSTEM, "orders-batch", orders(3, first=3), first_row=4)
    with batch.database.unit_of_work() as uow:
        first = uow.jobs.claim("worker-a", clock.now(), 60, 10, kinds=(DELIVER,))
        uow.commit()
    with batch.database.unit_of_work() as uow:
        second = uow.jobs.claim("worker-b", clock.now(), 60, 10, kinds=(DELIVER,))
        uow.commit()
    assert len(first) == 1
    assert second == []
    assert first[0].serial_key == "flow-chunks:orders-batch"
    assert first[0].payload["message"] < max(
        m.id for m in batch.flows.messages(SYSTEM, flow_id="orders-batch")
    )
    clock.advance(minutes=5)  # worker-a's lease runs out: the chunks are delivered in order
    deliver_all(batch, clock)
    assert len(target_rows(target_url)) == 6
