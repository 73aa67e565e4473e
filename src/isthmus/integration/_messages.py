"""The outbox: one :class:`FlowMessage` per accepted record, and the connector contracts.

States::

    pending ──deliver ok──▶ delivered
       │ fails (transient)
       ▼
    retrying ──ok──▶ delivered
       │ last attempt failed, or a terminal error (4xx, bad data)
       ▼
    dead_lettered ──replay──▶ pending        dead_lettered ──discard(reason)──▶ discarded
"""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

import polars as pl

from isthmus.integration._errors import ChunkLost


class MessageState(StrEnum):
    PENDING = "pending"
    RETRYING = "retrying"
    DELIVERED = "delivered"
    DEAD_LETTERED = "dead_lettered"
    DISCARDED = "discarded"


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowMessage:
    """One record on its way to the target. ``payload`` is what is sent; ``display`` its masked copy."""

    id: int
    flow_id: str
    idempotency_key: str
    state: MessageState
    payload: dict[str, Any]
    display: dict[str, Any]
    attempts: int = 0
    last_error: str | None = None
    row_number: int | None = None
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        """The public form: the masked payload only."""
        return {
            "id": self.id,
            "flow": self.flow_id,
            "idempotency_key": self.idempotency_key,
            "state": self.state.value,
            "payload": self.display,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "row": self.row_number,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "delivered_at": self.delivered_at.isoformat() if self.delivered_at else None,
        }


@dataclass(frozen=True, slots=True)
class Outbound:
    """What a :class:`Target` receives: the flow, the idempotency key and the mapped payload."""

    flow_id: str
    idempotency_key: str
    payload: Mapping[str, Any]
    timeout_s: float


class Target(Protocol):
    """A system a flow writes to.

    ``send`` delivers one message and returns only when the target has it. Raise an error with the
    ``Terminal`` mixin when retrying cannot help (a 4xx answer, a constraint the data breaks) and
    one with ``Transient`` (or any other error) when it may (5xx, timeout, refused connection).
    The idempotency key goes to the target (a header, the upsert key): sending the same message
    twice must leave one effect.
    """

    def send(self, message: Outbound) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class OutboundChunk:
    """A chunk of a batch flow as one delivery: the mapped rows, each with its idempotency key
    (column ``__key``) and source row number (``__row``); ``idempotency_key`` names the chunk."""

    flow_id: str
    idempotency_key: str
    frame: pl.DataFrame
    timeout_s: float

    @property
    def fields(self) -> list[str]:
        return [c for c in self.frame.columns if not c.startswith("__")]

    def records(self) -> Iterator[Outbound]:
        """One :class:`Outbound` per row, for targets that take records one at a time."""
        fields = self.fields
        for values in self.frame.iter_rows(named=True):
            payload = {name: values[name] for name in fields}
            yield Outbound(self.flow_id, str(values["__key"]), payload, self.timeout_s)


@runtime_checkable
class ChunkTarget(Protocol):
    """A target that writes a whole chunk at once (a bulk upsert by key, in one transaction).

    Writing the same chunk twice must leave one effect per row key, as ``send`` does per message.
    """

    def send_chunk(self, chunk: OutboundChunk) -> None: ...


CHUNK = "chunk"
_FORMAT = "arrow-ipc-lz4-base64"
_CLAIM = "arrow-ipc-lz4-file"


class ChunkStore(Protocol):
    """Where a chunk's rows wait for delivery when they are too big for an outbox row (the "claim
    check" pattern): the outbox message holds only the file's name and digest.

    ``put`` must be durable when it returns (the message naming the file commits right after);
    ``remove`` of a missing file is not an error."""

    def put(self, name: str, data: bytes) -> bool:
        """Store ``data`` as ``name``; False if a file of that name was already there."""
        ...

    def get(self, name: str) -> bytes: ...

    def remove(self, name: str) -> None: ...


def _ipc(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.rechunk().write_ipc(buffer, compression="lz4")
    return buffer.getvalue()


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=12).hexdigest()


def _summary(frame: pl.DataFrame, first_row: int, last_row: int) -> dict[str, Any]:
    return {
        "rows": frame.height,
        "first_row": first_row,
        "last_row": last_row,
        "fields": [c for c in frame.columns if not c.startswith("__")],
    }


def claim_chunk(
    flow_id: str, frame: pl.DataFrame, first_row: int, last_row: int
) -> tuple[str, dict[str, Any], dict[str, Any], str, bytes]:
    """As :func:`encode_chunk`, but the rows go to a :class:`ChunkStore` file: (key, payload,
    display, file name, file content). The key is the same as :func:`encode_chunk` gives, so
    either form of a chunk is recognised as a duplicate of the other; the file is named after the
    flow and the key, so reading a file again after a crash names the same file."""
    data = _ipc(frame)
    digest = _digest(data)
    key = f"chunk:{first_row}-{last_row}:{frame.height}:{digest}"
    name = hashlib.blake2b(f"{flow_id}\n{key}".encode(), digest_size=16).hexdigest() + ".arrow"
    summary = _summary(frame, first_row, last_row)
    payload = {CHUNK: summary | {"format": _CLAIM, "file": name, "digest": digest}}
    return key, payload, {CHUNK: summary}, name, data


def chunk_file(payload: Mapping[str, Any]) -> str | None:
    """The :class:`ChunkStore` file a chunk message's rows are in, if they are not inline."""
    body = payload.get(CHUNK)
    if isinstance(body, Mapping) and body.get("format") == _CLAIM:
        return str(body["file"])
    return None


def encode_chunk(
    frame: pl.DataFrame, first_row: int, last_row: int
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(idempotency key, payload, display) of a chunk message.

    The rows travel as one Arrow IPC buffer (lz4) inside the JSON payload: a 50,000-row chunk is one
    outbox row of a few MB instead of 50,000 rows. The key is the chunk's row span and a digest of
    its content, so a file read again after a crash gives the same keys and the outbox drops them."""
    data = _ipc(frame)
    digest = _digest(data)
    summary = _summary(frame, first_row, last_row)
    payload = {CHUNK: summary | {"format": _FORMAT, "data": base64.b64encode(data).decode("ascii")}}
    return f"chunk:{first_row}-{last_row}:{frame.height}:{digest}", payload, {CHUNK: summary}


def records_in(idempotency_key: str) -> int:
    """How many records a message carries: a chunk's row count is in its key, anything else is one."""
    if idempotency_key.startswith("chunk:"):
        parts = idempotency_key.split(":")
        if len(parts) == 4 and parts[2].isdigit():
            return int(parts[2])
    return 1


def is_chunk(payload: Mapping[str, Any]) -> bool:
    body = payload.get(CHUNK)
    return isinstance(body, Mapping) and body.get("format") in (_FORMAT, _CLAIM)


def decode_chunk(payload: Mapping[str, Any], store: ChunkStore | None = None) -> pl.DataFrame:
    """The rows of a chunk message: inline, or read from ``store`` and checked against the digest
    (a file that is missing or altered raises :class:`ChunkLost`; delivery dead-letters the message)."""
    body = payload[CHUNK]
    if body.get("format") != _CLAIM:
        return pl.read_ipc(io.BytesIO(base64.b64decode(body["data"])))
    if store is None:
        raise ChunkLost("chunk file {file}: no chunk store is configured", file=body["file"])
    try:
        data = store.get(str(body["file"]))
    except FileNotFoundError as exc:
        raise ChunkLost("chunk file {file} is missing", file=body["file"]) from exc
    if _digest(data) != body["digest"]:
        raise ChunkLost("chunk file {file} does not match its digest", file=body["file"])
    return pl.read_ipc(io.BytesIO(data))


class Source(Protocol):
    """A system a flow reads from in batches: each item is (first row number, records).

    ``commit(cursor)`` is called after a batch is stored in the outbox; a source that keeps a
    position (a watermark, a file to move) advances it only then.
    """

    def batches(self) -> Iterator[tuple[int, list[dict[str, Any]]]]: ...

    def commit(self) -> None: ...

    def fail(self, reason: str) -> None: ...


class TestStatus(StrEnum):
    """The guide's 测试状态: from the flow's last ``isthmus flow test`` run."""

    NOT_STARTED = "not_started"
    PASSED = "passed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True, kw_only=True)
class DeployedFlow:
    """A stored version of a flow definition (the YAML text as deployed)."""

    flow_id: str
    version: int
    text: str
    deployed_at: datetime
    deployed_by: str
    test_status: TestStatus = TestStatus.NOT_STARTED
    tested_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NewMessage:
    """A message to add to the outbox (see ``FlowRepository.add_message``)."""

    flow_id: str
    idempotency_key: str
    payload: dict[str, Any]
    display: dict[str, Any]
    state: MessageState = MessageState.PENDING
    last_error: str | None = None
    row_number: int | None = None
