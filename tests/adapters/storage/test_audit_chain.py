"""The audit chain catches any edit, deletion, insertion or reordering made directly in SQL."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Connection, text

from isthmus.bootstrap import Container
from isthmus.catalog import Priority, Process, ProcessId
from isthmus.security import SYSTEM


def _fill(container: Container, n: int = 5) -> None:
    for i in range(n):
        container.catalog.create(
            SYSTEM, Process(id=ProcessId(f"P-{i}"), name=f"流程 {i}", priority=Priority.LOW)
        )


def _tamper(container: Container, statement: str) -> None:
    with container.database.engine.begin() as conn:
        conn.execute(text(statement))


def test_intact_chain_verifies(container: Container) -> None:
    _fill(container)
    report = container.audit.verify(SYSTEM)
    assert report.intact
    assert report.checked == 5
    assert report.head_seq == 5


@pytest.mark.parametrize(
    ("statement", "first_broken"),
    [
        ("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3", 3),
        ("UPDATE audit_log SET after = NULL WHERE seq = 2", 2),
        ("DELETE FROM audit_log WHERE seq = 4", 5),
        ("DELETE FROM audit_log WHERE seq = 5", 5),
        ("UPDATE audit_log SET seq = seq + 100 WHERE seq = 2", 3),
    ],
    ids=["edit-actor", "edit-content", "delete-middle", "delete-last", "reorder"],
)
def test_tampering_is_caught_at_the_first_broken_record(
    container: Container, statement: str, first_broken: int
) -> None:
    _fill(container)
    _tamper(container, statement)
    report = container.audit.verify(SYSTEM)
    assert not report.intact
    assert report.broken is not None
    assert report.broken.seq == first_broken


def test_inserted_forged_record_is_caught(container: Container) -> None:
    _fill(container, 3)

    def forge(conn: Connection) -> None:
        row = conn.execute(text("SELECT * FROM audit_log WHERE seq = 3")).mappings().one()
        conn.execute(text("UPDATE audit_log SET seq = 4 WHERE seq = 3"))
        conn.execute(
            text(
                "INSERT INTO audit_log (seq, at, actor, action, object_type, object_id, prev_hash, hash) "
                "VALUES (3, :at, 'mallory', 'catalog.delete', 'process', 'P-9', :prev, :hash)"
            ),
            {"at": row["at"], "prev": row["prev_hash"], "hash": "f" * 64},
        )

    runner: Callable[[Connection], None] = forge
    with container.database.engine.begin() as conn:
        runner(conn)
    report = container.audit.verify(SYSTEM)
    assert report.broken is not None
    assert report.broken.seq == 3


def test_change_and_its_audit_record_commit_together(container: Container) -> None:
    """A failing change leaves neither the change nor an audit record behind."""
    _fill(container, 1)
    with pytest.raises(Exception, match="already exists"):
        container.catalog.create(SYSTEM, Process(id=ProcessId("P-0"), name="dup", priority=Priority.LOW))
    records, total = container.audit.search(SYSTEM)
    assert total == 1
    assert records[0].event.action == "catalog.create"
