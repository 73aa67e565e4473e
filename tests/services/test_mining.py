"""MiningService on the real databases (SQLite and PostgreSQL through the ``container`` fixture)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from isthmus.bootstrap import Container
from isthmus.catalog import Process, ProcessId
from isthmus.engine import HistoryLine
from isthmus.errors import InvalidInput, PermissionDenied
from isthmus.security import SYSTEM, Role
from tests.conftest import principal_with

CSV = (
    "case,activity,timestamp,lifecycle,system,customer\n"
    "1,Enter order,2024-01-01T08:00:00Z,start,CRM,ACME\n"
    "1,Enter order,2024-01-01T08:10:00Z,complete,CRM,ACME\n"
    "1,Enter order,2024-01-01T09:00:00Z,start,ERP,ACME\n"
    "1,Enter order,2024-01-01T10:00:00Z,complete,ERP,ACME\n"
    "2,Enter order,2024-01-02T08:00:00Z,start,CRM,BETA\n"
    "2,Enter order,2024-01-02T09:00:00Z,complete,CRM,BETA\n"
)


def test_import_registers_once_with_statistics_and_audit(container: Container, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(CSV)
    stored = container.mining.import_file(SYSTEM, path)
    assert (stored.statistics.cases, stored.statistics.events) == (2, 6)
    assert (container.mining.logs_dir / stored.file).is_file()
    assert [log.id for log in container.mining.list(SYSTEM)] == [stored.id]
    records, _ = container.audit.search(SYSTEM, action="log.import")
    assert [r.event.object_id for r in records] == [stored.id]
    assert container.mining.analyse(SYSTEM, stored.id, "dfg")["start"] == {"Enter order": 2}


def test_a_bad_file_registers_nothing_and_leaves_no_file(container: Container, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("case,activity,timestamp\n1,a,not a time\n")
    with pytest.raises(InvalidInput):
        container.mining.import_file(SYSTEM, path)
    assert container.mining.list(SYSTEM) == []
    assert not list(container.mining.logs_dir.glob("*")) if container.mining.logs_dir.exists() else True


def test_import_needs_the_permission(container: Container, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(CSV)
    with pytest.raises(PermissionDenied):
        container.mining.import_file(principal_with(Role.VIEWER), path)


def test_link_fills_table_one_and_proposals_are_accepted(container: Container, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(CSV)
    stored = container.mining.import_file(SYSTEM, path)
    container.catalog.create(SYSTEM, Process(id=ProcessId("SAL-ORD-001"), name="销售订单处理流程"))
    linked = container.mining.link(SYSTEM, stored.id, "SAL-ORD-001")
    assert linked["key_nodes"] == 1
    assert linked["avg_hours"] == 1.5  # (2 h + 1 h) / 2
    assert container.mining.get(SYSTEM, stored.id).process_id == "SAL-ORD-001"
    proposals = container.mining.proposals(SYSTEM, stored.id, slas={"Enter order": "PT30M"})
    kinds = {p.kind for p in proposals}
    assert {"duplicate_entry", "rework", "sla"} <= kinds
    accepted = container.mining.accept(SYSTEM, "SAL-ORD-001", [proposals[0].text, "edited by the owner"])
    assert accepted["pain_points"][-1] == "edited by the owner"
    process = container.catalog.get(SYSTEM, "SAL-ORD-001")
    assert process.avg_hours == Decimal("1.5")


def test_the_engines_history_is_a_log(container: Container) -> None:
    with pytest.raises(InvalidInput):
        container.mining.import_engine_history(SYSTEM)
    start = datetime(2024, 6, 30, 8, 0, tzinfo=UTC)
    lines = [
        HistoryLine(
            case_id="SO-1",
            activity="Enter order",
            timestamp=start,
            lifecycle="complete",
            resource="ann",
            instance_id="i1",
            node_id="enter",
        ),
        HistoryLine(
            case_id="SO-1",
            activity="Check stock",
            timestamp=start + timedelta(minutes=5),
            lifecycle="complete",
            resource="",
            instance_id="i1",
            node_id="check",
        ),
    ]
    with container.database.unit_of_work() as uow:
        uow.history.append(lines)
        uow.commit()
    stored = container.mining.import_engine_history(SYSTEM)
    assert (stored.source_format, stored.statistics.events) == ("engine", 2)
    assert container.mining.analyse(SYSTEM, stored.id, "dfg")["edges"] == [
        {"source": "Enter order", "target": "Check stock", "count": 1}
    ]
