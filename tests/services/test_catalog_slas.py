"""Key-node SLAs of catalog processes on SQLite and PostgreSQL: set and read back, audited; the
row's own edits never touch them; a workbook's SLA sheet replaces them all-or-nothing, a file
without one leaves them; deleting the process deletes them."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from isthmus.bootstrap import Container
from isthmus.catalog import NodeSla, write_csv, write_xlsx
from isthmus.catalog._spreadsheet import SLA_SHEET_TITLE
from isthmus.demo import GUIDE_PROCESSES
from isthmus.errors import InvalidInput, NotFound, PermissionDenied
from isthmus.security import SYSTEM, Role
from tests.conftest import principal_with

REVIEW = [NodeSla(" 审核订单 ", "pt4h"), NodeSla("发货", "P2D")]


def _load(container: Container) -> None:
    for process in GUIDE_PROCESSES:
        container.catalog.create(SYSTEM, process)


def test_set_read_audit_and_keep_them_through_row_edits(container: Container) -> None:
    _load(container)
    saved = container.catalog.set_slas(SYSTEM, "SAL-ORD-001", REVIEW)
    assert saved == (NodeSla("审核订单", "PT4H"), NodeSla("发货", "P2D"))
    assert container.catalog.slas(SYSTEM, "SAL-ORD-001") == saved
    assert container.catalog.slas(SYSTEM, "PUR-REQ-001") == ()
    process = container.catalog.get(SYSTEM, "SAL-ORD-001")
    container.catalog.update(SYSTEM, process.with_changes(avg_hours=Decimal(30)))
    assert container.catalog.slas(SYSTEM, "SAL-ORD-001") == saved
    assert container.catalog.set_slas(SYSTEM, "SAL-ORD-001", list(saved)) == saved  # unchanged: no record
    records, total = container.audit.search(SYSTEM, action="catalog.slas")
    assert total == 1
    assert records[0].event.after == {"slas": [{"node": "审核订单", "duration": "PT4H"},
                                               {"node": "发货", "duration": "P2D"}]}  # fmt: skip
    assert records[0].event.before == {"slas": []}
    container.catalog.set_slas(SYSTEM, "SAL-ORD-001", [])
    assert container.catalog.slas(SYSTEM, "SAL-ORD-001") == ()


def test_bad_lists_unknown_processes_and_readers_are_refused(container: Container) -> None:
    _load(container)
    with pytest.raises(InvalidInput) as caught:
        container.catalog.set_slas(SYSTEM, "SAL-ORD-001", [NodeSla("审核订单", "P1M")])
    assert caught.value.details[0].location.field == "slas[0].duration"  # type: ignore[union-attr]
    with pytest.raises(NotFound):
        container.catalog.set_slas(SYSTEM, "NOPE-1", REVIEW)
    with pytest.raises(PermissionDenied):
        container.catalog.set_slas(principal_with(Role.VIEWER), "SAL-ORD-001", REVIEW)
    assert container.catalog.slas(principal_with(Role.VIEWER), "SAL-ORD-001") == ()
    assert container.audit.search(SYSTEM, action="catalog.slas")[1] == 0


def test_deleting_the_process_deletes_its_slas(container: Container) -> None:
    _load(container)
    container.catalog.set_slas(SYSTEM, "PRO-MFG-001", REVIEW)
    container.catalog.delete(SYSTEM, "PRO-MFG-001")
    container.catalog.create(SYSTEM, next(p for p in GUIDE_PROCESSES if p.id == "PRO-MFG-001"))
    assert container.catalog.slas(SYSTEM, "PRO-MFG-001") == ()


def test_export_and_import_carry_them_on_their_own_sheet(container: Container) -> None:
    _load(container)
    container.catalog.set_slas(SYSTEM, "SAL-ORD-001", REVIEW)
    exported = container.catalog.export(SYSTEM, "xlsx")
    assert load_workbook(io.BytesIO(exported)).sheetnames[1] == SLA_SHEET_TITLE
    container.catalog.set_slas(SYSTEM, "SAL-ORD-001", [NodeSla("开票", "PT1H")])
    container.catalog.set_slas(SYSTEM, "PUR-REQ-001", [NodeSla("审批", "PT8H")])
    report = container.catalog.import_file(SYSTEM, exported, "catalog.xlsx")
    assert report.updated == []  # the rows did not change; only the SLAs did
    assert container.catalog.slas(SYSTEM, "SAL-ORD-001") == (
        NodeSla("审核订单", "PT4H"),
        NodeSla("发货", "P2D"),
    )
    assert container.catalog.slas(SYSTEM, "PUR-REQ-001") == ()  # on table 1, no SLA rows: none
    assert container.audit.search(SYSTEM, action="catalog.import.slas")[1] == 2
    # A file without an SLA sheet (a CSV, or a workbook of table 1 only) leaves them alone.
    container.catalog.import_file(SYSTEM, write_csv(GUIDE_PROCESSES), "catalog.csv")
    container.catalog.import_file(SYSTEM, write_xlsx(GUIDE_PROCESSES), "catalog.xlsx")
    assert len(container.catalog.slas(SYSTEM, "SAL-ORD-001")) == 2


def test_a_bad_sla_sheet_imports_nothing(container: Container) -> None:
    _load(container)
    workbook = load_workbook(io.BytesIO(container.catalog.export(SYSTEM, "xlsx")))
    workbook[SLA_SHEET_TITLE].append(["SAL-ORD-001", "审核订单", "PT4H"])
    workbook[SLA_SHEET_TITLE].append(["SAL-ORD-001", "发货", "next week"])
    workbook["流程现状分析表"]["B2"] = "改过的名称"
    buffer = io.BytesIO()
    workbook.save(buffer)
    with pytest.raises(InvalidInput, match="nothing was imported"):
        container.catalog.import_file(SYSTEM, buffer.getvalue(), "catalog.xlsx")
    assert container.catalog.slas(SYSTEM, "SAL-ORD-001") == ()
    assert all(p.name != "改过的名称" for p in container.catalog.all(SYSTEM))


def test_a_new_process_and_its_slas_arrive_in_one_import(container: Container) -> None:
    data = write_xlsx(GUIDE_PROCESSES, slas={GUIDE_PROCESSES[0].id: (NodeSla("审核订单", "PT4H"),)})
    report = container.catalog.import_file(SYSTEM, data, "catalog.xlsx")
    assert len(report.created) == len(GUIDE_PROCESSES)
    assert container.catalog.slas(SYSTEM, GUIDE_PROCESSES[0].id) == (NodeSla("审核订单", "PT4H"),)
