"""The audit trail: an append-only SHA-256 hash chain.

Each record's hash covers its own fields and the previous record's hash, so editing, deleting,
inserting or reordering any record breaks the chain at that record. A separate *head* (the last
sequence number and hash, updated in the same transaction as each append) also catches the
deletion of the newest records, which a chain alone cannot see.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS_HASH = "0" * 64


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEvent:
    """What happened, before it is chained. ``before``/``after`` are already masked."""

    actor: str
    action: str
    object_type: str
    object_id: str
    before: Any = None
    after: Any = None
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditRecord:
    seq: int
    event: AuditEvent
    prev_hash: str
    hash: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.event.at.isoformat(),
            "actor": self.event.actor,
            "action": self.event.action,
            "object_type": self.event.object_type,
            "object_id": self.event.object_id,
            "before": self.event.before,
            "after": self.event.after,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


def canonical_time(at: datetime) -> str:
    """UTC, microseconds, fixed format: the same instant always hashes the same way."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def record_hash(seq: int, event: AuditEvent, prev_hash: str) -> str:
    payload = json.dumps(
        [
            seq,
            canonical_time(event.at),
            event.actor,
            event.action,
            event.object_type,
            event.object_id,
            event.before,
            event.after,
            prev_hash,
        ],
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def chain(seq: int, event: AuditEvent, prev_hash: str) -> AuditRecord:
    return AuditRecord(seq=seq, event=event, prev_hash=prev_hash, hash=record_hash(seq, event, prev_hash))


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """The first record where the chain does not hold, and why."""

    seq: int
    reason: str


def verify_chain(
    records: Iterable[AuditRecord], head: tuple[int, str] | None
) -> tuple[int, ChainBreak | None]:
    """Walk ``records`` in storage order; return how many were checked and the first break.

    ``head`` is the stored (last seq, last hash), or None when nothing was ever appended.
    """
    expected_seq, prev_hash, count = 1, GENESIS_HASH, 0
    for record in records:
        count += 1
        if record.seq != expected_seq:
            what = (
                "missing or reordered records"
                if record.seq > expected_seq
                else "inserted or reordered record"
            )
            return count, ChainBreak(record.seq, f"{what}: expected sequence {expected_seq}")
        if record.prev_hash != prev_hash:
            return count, ChainBreak(record.seq, "previous-hash link does not match the record before it")
        if record_hash(record.seq, record.event, record.prev_hash) != record.hash:
            return count, ChainBreak(record.seq, "content was changed after it was written (hash mismatch)")
        expected_seq, prev_hash = expected_seq + 1, record.hash
    last_seq = expected_seq - 1
    if head is None:
        if last_seq:
            return count, ChainBreak(1, "records exist but the chain head is missing")
        return count, None
    head_seq, head_hash = head
    if head_seq != last_seq or head_hash != prev_hash:
        return count, ChainBreak(
            min(head_seq, last_seq) + 1,
            f"chain ends at {last_seq} but the head records {head_seq}: records were deleted",
        )
    return count, None
