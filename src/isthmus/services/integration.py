"""Use cases of integration flows: deploy, accept records into the outbox, deliver, dead letters.

Accepting is the outbox pattern: every record's message and the job that delivers it commit in one
transaction, so a crash loses nothing. Delivery (job kind ``flow.deliver``) sends one message with
its idempotency key; a failure the target may recover from is retried with the flow's backoff
(a new job per attempt, so the outbox row counts attempts), anything else — or the last attempt —
dead-letters the message. Replays and discards are audited.

A chunk of a batch flow (a file or query read in chunks) whose target writes chunks
(:class:`~isthmus.integration.ChunkTarget`, e.g. SQL) is mapped in FEEL batch mode and stored as
*one* message holding every valid row, with one delivery job: its rejected rows are dead-lettered
one message each (with their row numbers) in the same transaction, and the target upserts the
chunk by the rows' keys, so a redelivered chunk has one effect per key. With a
:class:`~isthmus.integration.ChunkStore` the chunk's rows go to a file of their own, written durably
before the transaction, and the message holds only its name and digest (a "claim check"): the file
is removed once the message is delivered or discarded, so a dead-lettered chunk can be replayed.
"""

from __future__ import annotations

import builtins
import functools
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import polars as pl

from isthmus.errors import InvalidInput, NotFound, is_retryable
from isthmus.integration import (
    ChunkStore,
    ChunkTarget,
    DeployedFlow,
    Endpoint,
    FlowDefinition,
    FlowMapper,
    FlowMessage,
    MappedRecord,
    MessageState,
    NewMessage,
    Outbound,
    OutboundChunk,
    Rejected,
    Table2Row,
    Target,
    TestStatus,
    chunk_file,
    claim_chunk,
    decode_chunk,
    encode_chunk,
    inline_cleanse,
    is_chunk,
    parse_flow,
    rejected_key,
    table2_row,
)
from isthmus.jobs import Job, NewJob
from isthmus.security import Principal
from isthmus.services import audit
from isthmus.services.flow_schedule import schedule_first
from isthmus.services.ports import Clock, UnitOfWork, UnitOfWorkFactory

OBJECT = "flow"
DELIVER = "flow.deliver"


def chunk_serial_key(flow_id: str) -> str:
    """Chunks of one batch flow are delivered one at a time, in the order they were stored: a key
    in two chunks (the file's duplicate rows) must end with the later chunk's row, whichever
    worker takes which chunk. Messages of real-time flows carry no serial key (they have no
    order to keep beyond their idempotency key, and serialising them would cap throughput)."""
    return f"flow-chunks:{flow_id}"


TargetFactory = Callable[[Endpoint, float], Target]
ConnectionLookup = Callable[[UnitOfWork, str], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class AcceptReport:
    """What happened to the records of one accept call."""

    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    message_ids: tuple[int, ...] = ()
    errors: tuple[tuple[int | None, str], ...] = ()

    def __add__(self, other: AcceptReport) -> AcceptReport:
        return AcceptReport(
            self.accepted + other.accepted,
            self.duplicates + other.duplicates,
            self.rejected + other.rejected,
            self.message_ids + other.message_ids,
            self.errors + other.errors,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "errors": [{"row": row, "error": error} for row, error in self.errors[:100]],
        }


@dataclass(frozen=True, slots=True)
class FlowMetrics:
    flow_id: str
    messages: int
    delivered: int
    failures: int
    backlog: int
    latency_ms: dict[str, float] = field(default_factory=dict)
    last_run: str | None = None
    by_state: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "flow": self.flow_id,
            "messages": self.messages,
            "delivered": self.delivered,
            "failures": self.failures,
            "backlog": self.backlog,
            "latency_ms": self.latency_ms,
            "last_run": self.last_run,
            "by_state": self.by_state,
        }


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class FlowCache:
    """Parsed definitions, mappers and open targets per (flow, version): compiled once."""

    def __init__(self, targets: TargetFactory) -> None:
        self._targets = targets
        self._lock = threading.Lock()
        self._mappers: dict[tuple[str, int], FlowMapper] = {}
        self._open: dict[tuple[str, int, bool], Target] = {}

    def mapper(self, deployed: DeployedFlow) -> FlowMapper:
        slot = (deployed.flow_id, deployed.version)
        with self._lock:
            found = self._mappers.get(slot)
        if found is None:
            found = FlowMapper(parse_flow(deployed.text, file=f"{deployed.flow_id} v{deployed.version}"))
            with self._lock:
                self._mappers[slot] = found
        return found

    def opened(self, deployed: DeployedFlow, *, test: bool = False) -> Target | None:
        """The target already open for this version, if any (no registry lookup needed then)."""
        with self._lock:
            return self._open.get((deployed.flow_id, deployed.version, test))

    def target(
        self, deployed: DeployedFlow, *, test: bool = False, registry: dict[str, Any] | None = None
    ) -> Target:
        slot = (deployed.flow_id, deployed.version, test)
        with self._lock:
            found = self._open.get(slot)
        if found is None:
            flow = self.mapper(deployed).flow
            endpoint = flow.target
            if registry:  # the registry's settings and credentials, overridden by the flow's options
                endpoint = replace(endpoint, options=registry | endpoint.options)
            if test:
                endpoint = replace(endpoint, options=endpoint.options | endpoint.test_options)
            found = self._targets(endpoint, flow.delivery.timeout_s)
            with self._lock:
                self._open[slot] = found
        return found

    def close(self) -> None:
        with self._lock:
            targets, self._open = list(self._open.values()), {}
        for target in targets:
            target.close()


class Delivery:
    """The ``flow.deliver`` job handler with a ``prepare`` step (``PreparedHandler``): a chunk is
    written to its target *before* the job's transaction opens, so on SQLite the outbox's write
    lock is not held while the target upserts 50,000 rows and a pull can go on storing chunks
    meanwhile. A single message is sent inside the job's transaction, as before."""

    def __init__(self, flows: FlowService) -> None:
        self._flows = flows

    def prepare(self, job: Job) -> None:
        self._flows.prepare_delivery(job)

    def __call__(self, job: Job, uow: UnitOfWork) -> None:
        self._flows.deliver(job, uow)


class FlowService:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        targets: TargetFactory,
        connections: ConnectionLookup | None = None,
        *,
        rules_dir: Path | None = None,
        chunks: ChunkStore | None = None,
    ) -> None:
        self._rules_dir = rules_dir
        self._chunks = chunks
        # outcomes of chunks written by prepare_delivery, by job id: (message attempts then, error)
        self._prepared: dict[int, tuple[int, Exception | None]] = {}
        self._lock = threading.Lock()
        self.delivery = Delivery(self)
        self._uow = uow_factory
        self._clock = clock
        self.cache = FlowCache(targets)
        self._connections = connections

    # -- definitions -------------------------------------------------------------------------------

    def validate(self, text: str, filename: str | None = None) -> FlowDefinition:
        """Parse and check a flow; raises ``InvalidInput`` naming line and field."""
        return parse_flow(self._inlined(text, filename), file=filename)

    def _inlined(self, text: str, filename: str | None) -> str:
        """The flow with a ``cleanse:`` rules file read into it: relative to the flow file when it is
        one on disk (the CLI), else to the data directory (an upload)."""
        flow_file = Path(filename) if filename else None
        base = flow_file.parent if flow_file and flow_file.is_file() else (self._rules_dir or Path.cwd())
        return inline_cleanse(text, lambda path: (base / path).read_text(encoding="utf-8"), file=filename)

    def deploy(self, principal: Principal, text: str, filename: str | None = None) -> DeployedFlow:
        principal.require("flow:deploy")
        text = self._inlined(text, filename)  # the stored version carries its rules
        flow = parse_flow(text, file=filename)
        with self._uow() as uow:
            before = uow.flows.get(flow.id)
            stored = uow.flows.deploy(flow.id, text, deployed_by=principal.actor, now=self._clock.now())
            if before is None or before.version != stored.version:
                after = {"version": stored.version, "file": filename, "source": flow.source.system}
                audit.record(uow, self._clock, principal, "flow.deploy", OBJECT, flow.id, after=after)
                schedule_first(uow, stored, flow, self._clock.now())  # cron/poll: the first run
                uow.commit()
        return stored

    def get(self, principal: Principal, flow_id: str) -> tuple[DeployedFlow, FlowDefinition]:
        principal.require("flow:read")
        with self._uow() as uow:
            deployed = self._deployed(uow, flow_id)
        return deployed, self.cache.mapper(deployed).flow

    def list(self, principal: Principal) -> builtins.list[DeployedFlow]:
        principal.require("flow:read")
        with self._uow() as uow:
            return uow.flows.list()

    def table2(self, principal: Principal) -> builtins.list[Table2Row]:
        """The guide's table 2, one row per deployed flow."""
        return [table2_row(self.cache.mapper(d).flow, d) for d in self.list(principal)]

    @staticmethod
    def _deployed(uow: UnitOfWork, flow_id: str) -> DeployedFlow:
        deployed = uow.flows.get(flow_id)
        if deployed is None:
            raise NotFound("no flow with id {flow}", flow=flow_id)
        return deployed

    # -- accepting ---------------------------------------------------------------------------------

    def accept(
        self,
        principal: Principal,
        flow_id: str,
        records: Iterable[Mapping[str, Any]],
        *,
        first_row: int | None = None,
        test: bool = False,
    ) -> AcceptReport:
        """Map ``records`` and store each as an outbox message with its delivery job, in one
        transaction. Rejected records are stored dead-lettered with their row number; a record whose
        idempotency key was accepted before is counted as a duplicate and stored once."""
        principal.require("flow:operate")
        with self._uow() as uow:
            deployed = self._deployed(uow, flow_id)
            mapper = self.cache.mapper(deployed)
            results = (
                mapper.map_record(r, None if first_row is None else first_row + i)
                for i, r in enumerate(records)
            )
            report = self._store(uow, deployed, mapper, results, test=test)
            uow.commit()
        return report

    def accept_frame(
        self,
        principal: Principal,
        flow_id: str,
        frame: pl.DataFrame,
        *,
        first_row: int = 1,
        test: bool = False,
    ) -> AcceptReport:
        """As :meth:`accept` for one chunk of a batch, mapped with FEEL batch mode.

        When the flow's target writes chunks the valid rows become one message and one job (see the
        module docstring); otherwise each row is a message of its own, as with :meth:`accept`."""
        principal.require("flow:operate")
        with self._uow() as uow:
            deployed = self._deployed(uow, flow_id)
            mapper = self.cache.mapper(deployed)
            if self._writes_chunks(uow, deployed, test=test):
                report = self._store_chunk(uow, deployed, mapper, frame, first_row, test=test)
            else:
                report = self._store(uow, deployed, mapper, mapper.map_frame(frame, first_row), test=test)
            uow.commit()
        return report

    def _writes_chunks(self, uow: UnitOfWork, deployed: DeployedFlow, *, test: bool) -> bool:
        flow = self.cache.mapper(deployed).flow
        try:
            return isinstance(self._target(uow, deployed, flow, test=test), ChunkTarget)
        except Exception:  # a target that cannot be opened now fails at delivery, with retries
            return False

    def _target(self, uow: UnitOfWork, deployed: DeployedFlow, flow: FlowDefinition, *, test: bool) -> Target:
        found = self.cache.opened(deployed, test=test)
        if found is not None:
            return found  # the registry's settings were read when it was opened
        registry = self._connections(uow, flow.target.system) if self._connections else None
        return self.cache.target(deployed, test=test, registry=registry)

    def _store_chunk(
        self,
        uow: UnitOfWork,
        deployed: DeployedFlow,
        mapper: FlowMapper,
        frame: pl.DataFrame,
        first_row: int,
        *,
        test: bool,
    ) -> AcceptReport:
        now = self._clock.now()
        chunk = mapper.map_chunk(frame, first_row)
        errors = tuple((r.row, r.error) for r in chunk.rejected)
        uow.flows.add_messages([self.rejected_message(deployed.flow_id, r, now) for r in chunk.rejected], now)
        if chunk.frame.height == 0:
            return AcceptReport(0, chunk.duplicates, len(chunk.rejected), (), errors)
        written: str | None = None
        if self._chunks is None:
            key, payload, display = encode_chunk(chunk.frame, chunk.first_row, chunk.last_row)
        else:
            key, payload, display, name, data = claim_chunk(
                deployed.flow_id, chunk.frame, chunk.first_row, chunk.last_row
            )
            written = name if self._chunks.put(name, data) else None
        message = uow.flows.add_message(
            NewMessage(
                flow_id=deployed.flow_id,
                idempotency_key=key,
                payload=payload,
                display=display,
                row_number=chunk.first_row,
            ),
            now,
        )
        if message is None:  # the same chunk was accepted before (a file read again after a crash)
            if written is not None:  # its file went with its delivery: this copy is referenced by none
                self._chunks.remove(written)  # type: ignore[union-attr]
            return AcceptReport(0, chunk.duplicates + chunk.frame.height, len(chunk.rejected), (), errors)
        self._enqueue(uow, deployed, message.id, test=test, now=now, chunk=True)
        return AcceptReport(chunk.frame.height, chunk.duplicates, len(chunk.rejected), (message.id,), errors)

    def _enqueue(
        self,
        uow: UnitOfWork,
        deployed: DeployedFlow,
        message_id: int,
        *,
        test: bool,
        now: Any,
        chunk: bool = False,
    ) -> None:
        payload: dict[str, Any] = {"message": message_id, "version": deployed.version, "test": test}
        if chunk:  # Delivery.prepare writes it before the job's transaction; others skip that step
            payload["chunk"] = True
        uow.jobs.enqueue(
            NewJob(
                kind=DELIVER,
                payload=payload,
                run_at=now,
                # No dedupe key: the message was inserted in this transaction, so no job for it exists
                # yet (a dedupe key would cost a lookup and a savepoint per message).
                policy=self.cache.mapper(deployed).flow.delivery.retry_policy(),
                serial_key=chunk_serial_key(deployed.flow_id) if chunk else None,
            ),
            now,
        )

    def _store(
        self,
        uow: UnitOfWork,
        deployed: DeployedFlow,
        mapper: FlowMapper,
        results: Iterable[MappedRecord | Rejected],
        *,
        test: bool,
    ) -> AcceptReport:
        now = self._clock.now()
        accepted = duplicates = rejected = 0
        ids: list[int] = []
        errors: list[tuple[int | None, str]] = []
        for result in results:
            if isinstance(result, Rejected):
                rejected += 1
                errors.append((result.row, result.error))
                self._dead_letter_rejected(uow, deployed.flow_id, result, now)
                continue
            message = uow.flows.add_message(
                NewMessage(
                    flow_id=deployed.flow_id,
                    idempotency_key=result.key,
                    payload=result.payload,
                    display=result.display,
                    row_number=result.row,
                ),
                now,
            )
            if message is None:
                duplicates += 1
                continue
            accepted += 1
            ids.append(message.id)
            self._enqueue(uow, deployed, message.id, test=test, now=now)
        return AcceptReport(accepted, duplicates, rejected, tuple(ids), tuple(errors))

    @classmethod
    def _dead_letter_rejected(cls, uow: UnitOfWork, flow_id: str, rejected: Rejected, now: Any) -> None:
        uow.flows.add_message(cls.rejected_message(flow_id, rejected, now), now)

    @staticmethod
    def rejected_message(flow_id: str, rejected: Rejected, now: Any) -> NewMessage:
        """The dead-lettered message that keeps a rejected record (and its row) for the DLQ."""
        from isthmus.security import mask_personal_data

        # A rejected record has no trustworthy key; its row and content name it, or (a webhook's
        # record has no row) the time and a random part: the malformed records of one request, or of
        # the requests one group commit stores at one time, are each kept.
        key = (
            rejected_key(rejected)
            if rejected.row is not None
            else f"rejected:{now.isoformat()}:{uuid.uuid4().hex}"
        )
        return NewMessage(
            flow_id=flow_id,
            idempotency_key=key,
            payload=rejected.record,
            display=mask_personal_data(rejected.record),
            state=MessageState.DEAD_LETTERED,
            last_error=rejected.error,
            row_number=rejected.row,
        )

    # -- delivering --------------------------------------------------------------------------------

    def delivery_plan(
        self, uow: UnitOfWork, deployed: DeployedFlow | None, message: FlowMessage, *, test: bool
    ) -> tuple[FlowDefinition, Target, Outbound]:
        """What one attempt at a single-record message sends, and where (for batch delivery);
        ``deployed`` is the flow's latest version (``None``: the flow is gone)."""
        if deployed is None:
            raise NotFound("no flow with id {flow}", flow=message.flow_id)
        flow = self.cache.mapper(deployed).flow
        target = self._target(uow, deployed, flow, test=test)
        return (
            flow,
            target,
            Outbound(flow.id, message.idempotency_key, message.payload, flow.delivery.timeout_s),
        )

    def deliver(self, job: Job, uow: UnitOfWork) -> None:
        """The ``flow.deliver`` job handler: one attempt at one message (a chunk's may have been
        made by :meth:`prepare_delivery` already; this records its outcome)."""
        with self._lock:
            prepared = self._prepared.pop(job.id, None)
        message = uow.flows.message(int(job.payload["message"]))
        if message is None or message.state not in (MessageState.PENDING, MessageState.RETRYING):
            return  # delivered by an earlier run of this job, replayed, or discarded
        deployed = self._deployed(uow, message.flow_id)
        flow = self.cache.mapper(deployed).flow
        attempt = message.attempts + 1
        try:
            if prepared is not None and prepared[0] == message.attempts:  # sent by prepare_delivery
                if prepared[1] is not None:
                    raise prepared[1]
            elif is_chunk(message.payload):
                self._send_chunk(
                    self._target(uow, deployed, flow, test=bool(job.payload.get("test"))), flow, message
                )
            else:
                target = self._target(uow, deployed, flow, test=bool(job.payload.get("test")))
                target.send(
                    Outbound(
                        flow.id, message.idempotency_key, message.payload, timeout_s=flow.delivery.timeout_s
                    )
                )
        except Exception as error:
            self.record_failure(uow, job, message, attempt, error, flow)
            return
        now = self._clock.now()
        uow.flows.save_message(
            replace(message, state=MessageState.DELIVERED, attempts=attempt, updated_at=now, delivered_at=now)
        )
        self._drop_chunk_file(uow, message)

    def _send_chunk(self, target: Target, flow: FlowDefinition, message: FlowMessage) -> None:
        rows = decode_chunk(message.payload, self._chunks)
        chunk = OutboundChunk(flow.id, message.idempotency_key, rows, flow.delivery.timeout_s)
        if isinstance(target, ChunkTarget):
            target.send_chunk(chunk)
        else:  # e.g. the flow's target changed since: one record at a time, each by its key
            for outbound in chunk.records():
                target.send(outbound)

    def prepare_delivery(self, job: Job) -> None:
        """Write a chunk to its target before the job's transaction opens (see :class:`Delivery`).

        The outcome is kept for :meth:`deliver`, which records it in the job's transaction as if it
        had sent the chunk itself. A worker that dies in between leaves the job to run again: the
        chunk is upserted again, one effect per key."""
        if not job.payload.get("chunk"):
            return  # a single record: sent inside the job's transaction, no extra read
        with self._uow() as uow:
            message = uow.flows.message(int(job.payload["message"]))
            if (
                message is None
                or message.state not in (MessageState.PENDING, MessageState.RETRYING)
                or not is_chunk(message.payload)
            ):
                return
            deployed = self._deployed(uow, message.flow_id)
            flow = self.cache.mapper(deployed).flow
            try:
                target = self._target(uow, deployed, flow, test=bool(job.payload.get("test")))
            except Exception:
                return
        outcome: Exception | None = None
        try:
            self._send_chunk(target, flow, message)
        except Exception as error:
            outcome = error
        with self._lock:
            self._prepared[job.id] = (message.attempts, outcome)

    def _drop_chunk_file(self, uow: UnitOfWork, message: FlowMessage) -> None:
        """Remove a claim-checked chunk's file once the message's end (delivered, discarded) commits;
        a rolled-back transaction leaves the file for the retry."""
        name = chunk_file(message.payload)
        if name is not None and self._chunks is not None:
            uow.after_commit(functools.partial(self._chunks.remove, name))

    def record_failure(
        self,
        uow: UnitOfWork,
        job: Job,
        message: FlowMessage,
        attempt: int,
        error: Exception,
        flow: FlowDefinition,
    ) -> None:
        """A failed attempt: retried with the flow's backoff (a new job), or dead-lettered."""
        now = self._clock.now()
        text = getattr(error, "message", None) or f"{type(error).__name__}: {error}"
        policy = flow.delivery.retry_policy()
        if is_retryable(error) and attempt < policy.max_attempts:
            uow.flows.save_message(
                replace(
                    message, state=MessageState.RETRYING, attempts=attempt, last_error=text, updated_at=now
                )
            )
            uow.jobs.enqueue(
                NewJob(
                    kind=DELIVER,
                    payload=dict(job.payload),
                    run_at=now + policy.delay_after(attempt),
                    dedupe_key=f"{job.dedupe_key or f'flow-message:{message.id}'}:{attempt + 1}",
                    policy=policy,
                    serial_key=job.serial_key,
                ),
                now,
            )
            return
        uow.flows.save_message(
            replace(
                message, state=MessageState.DEAD_LETTERED, attempts=attempt, last_error=text, updated_at=now
            )
        )

    # -- dead letters ------------------------------------------------------------------------------

    def messages(
        self,
        principal: Principal,
        *,
        flow_id: str | None = None,
        states: tuple[MessageState, ...] = (),
        limit: int = 100,
    ) -> builtins.list[FlowMessage]:
        principal.require("flow:read")
        with self._uow() as uow:
            return uow.flows.messages(flow_id=flow_id, states=states, limit=limit)

    def replay(self, principal: Principal, message_ids: Iterable[int]) -> builtins.list[FlowMessage]:
        """Dead-lettered messages back to pending with a fresh attempt budget; one audit record each.

        A rejected record (mapping or validation failed) is mapped again with the flow's latest
        version, so fixing the flow and replaying delivers it."""
        principal.require("flow:operate")
        replayed: list[FlowMessage] = []
        with self._uow() as uow:
            now = self._clock.now()
            for message_id in message_ids:
                message = self._dead_letter(uow, message_id)
                deployed = self._deployed(uow, message.flow_id)
                again = self._refreshed(uow, message, deployed)
                uow.flows.save_message(again)
                uow.jobs.enqueue(
                    NewJob(
                        kind=DELIVER,
                        payload={"message": message.id, "version": deployed.version, "test": False}
                        | ({"chunk": True} if is_chunk(message.payload) else {}),
                        run_at=now,
                        dedupe_key=f"flow-message:{message.id}:replay:{now.isoformat()}",
                        policy=self.cache.mapper(deployed).flow.delivery.retry_policy(),
                        serial_key=chunk_serial_key(message.flow_id) if is_chunk(message.payload) else None,
                    ),
                    now,
                )
                audit.record(
                    uow,
                    self._clock,
                    principal,
                    "flow.replay",
                    "flow_message",
                    str(message.id),
                    before={
                        "state": message.state.value,
                        "attempts": message.attempts,
                        "error": message.last_error,
                    },
                    after={"state": MessageState.PENDING.value},
                )
                replayed.append(again)
            uow.commit()
        return replayed

    def _refreshed(self, uow: UnitOfWork, message: FlowMessage, deployed: DeployedFlow) -> FlowMessage:
        now = self._clock.now()
        pending = replace(message, state=MessageState.PENDING, attempts=0, last_error=None, updated_at=now)
        if not message.idempotency_key.startswith("rejected:"):
            return pending
        result = self.cache.mapper(deployed).map_record(message.payload, message.row_number)
        if isinstance(result, Rejected):
            raise InvalidInput(
                "message {id} (row {row}) is still rejected: {error}",
                id=message.id,
                row=message.row_number,
                error=result.error,
            )
        uow.flows.replace_payload(message.id, result.key, result.payload, result.display)
        return replace(pending, idempotency_key=result.key, payload=result.payload, display=result.display)

    @staticmethod
    def _dead_letter(uow: UnitOfWork, message_id: int) -> FlowMessage:
        message = uow.flows.message(message_id)
        if message is None:
            raise NotFound("no flow message with id {id}", id=message_id)
        if message.state is not MessageState.DEAD_LETTERED:
            raise InvalidInput(
                "message {id} is {state}, not dead-lettered", id=message_id, state=message.state.value
            )
        return message

    def discard(self, principal: Principal, message_ids: Iterable[int], reason: str) -> int:
        """Give up dead-lettered messages for good, with the reason in the audit trail."""
        principal.require("flow:operate")
        if not reason.strip():
            raise InvalidInput("a reason is required to discard a message")
        count = 0
        with self._uow() as uow:
            now = self._clock.now()
            for message_id in message_ids:
                message = self._dead_letter(uow, message_id)
                uow.flows.save_message(
                    replace(
                        message,
                        state=MessageState.DISCARDED,
                        last_error=f"discarded: {reason}",
                        updated_at=now,
                    )
                )
                self._drop_chunk_file(uow, message)
                audit.record(
                    uow,
                    self._clock,
                    principal,
                    "flow.discard",
                    "flow_message",
                    str(message.id),
                    after={"reason": reason},
                )
                count += 1
            uow.commit()
        return count

    # -- metrics -----------------------------------------------------------------------------------

    def metrics(self, principal: Principal, flow_id: str, *, sample: int = 10_000) -> FlowMetrics:
        principal.require("flow:read")
        with self._uow() as uow:
            self._deployed(uow, flow_id)
            counts = uow.flows.counts(flow_id)
            delivered: builtins.list[FlowMessage] = uow.flows.messages(
                flow_id=flow_id, states=(MessageState.DELIVERED,), limit=sample
            )
        latencies = [
            (m.delivered_at - m.created_at).total_seconds() * 1000
            for m in delivered
            if m.delivered_at is not None
        ]
        last = max((m.delivered_at for m in delivered if m.delivered_at), default=None)
        percentiles = (
            {f"p{int(q * 100)}": round(_percentile(latencies, q), 1) for q in (0.5, 0.95, 0.99)}
            if latencies
            else {}
        )
        return FlowMetrics(
            flow_id=flow_id,
            messages=sum(counts.values()),
            delivered=counts.get(MessageState.DELIVERED, 0),
            failures=counts.get(MessageState.DEAD_LETTERED, 0) + counts.get(MessageState.DISCARDED, 0),
            backlog=counts.get(MessageState.PENDING, 0) + counts.get(MessageState.RETRYING, 0),
            latency_ms=percentiles,
            last_run=last.isoformat() if last else None,
            by_state={state.value: n for state, n in counts.items()},
        )

    def record_test(self, principal: Principal, flow_id: str, passed: bool) -> None:
        principal.require("flow:operate")
        with self._uow() as uow:
            self._deployed(uow, flow_id)
            status = TestStatus.PASSED if passed else TestStatus.FAILED
            uow.flows.record_test(flow_id, status, self._clock.now())
            audit.record(
                uow, self._clock, principal, "flow.test", OBJECT, flow_id, after={"status": status.value}
            )
            uow.commit()

    def close(self) -> None:
        self.cache.close()
