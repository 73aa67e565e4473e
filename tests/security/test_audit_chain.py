"""Property: whatever single tampering happens to a chain, verification finds it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from isthmus.security import GENESIS_HASH, AuditEvent, AuditRecord, chain, verify_chain


def _chain(n: int) -> list[AuditRecord]:
    records: list[AuditRecord] = []
    prev = GENESIS_HASH
    start = datetime(2024, 6, 1, tzinfo=UTC)
    for i in range(1, n + 1):
        event = AuditEvent(
            actor=f"user{i % 3}",
            action="catalog.update",
            object_type="process",
            object_id=f"P-{i}",
            before={"avg_hours": i},
            after={"avg_hours": i + 1},
            at=start + timedelta(seconds=i),
        )
        record = chain(i, event, prev)
        records.append(record)
        prev = record.hash
    return records


def test_an_untouched_chain_verifies() -> None:
    records = _chain(10)
    assert verify_chain(records, (10, records[-1].hash)) == (10, None)
    assert verify_chain([], None) == (0, None)


@given(st.integers(3, 12), st.data())
def test_any_single_tampering_is_detected(n: int, data: st.DataObject) -> None:
    records = _chain(n)
    head = (n, records[-1].hash)
    i = data.draw(st.integers(0, n - 1))
    kind = data.draw(st.sampled_from(["edit", "delete", "swap", "duplicate", "truncate"]))
    tampered = list(records)
    if kind == "edit":
        event = replace(tampered[i].event, after={"avg_hours": -1})
        tampered[i] = replace(tampered[i], event=event)
    elif kind == "delete":
        del tampered[i]
    elif kind == "swap":
        j = (i + 1) % n
        tampered[i], tampered[j] = tampered[j], tampered[i]
    elif kind == "duplicate":
        tampered.insert(i, tampered[i])
    else:
        tampered = tampered[:i]
    _, broken = verify_chain(tampered, head)
    assert broken is not None
