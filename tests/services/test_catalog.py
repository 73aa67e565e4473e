"""Catalog use cases: CRUD with optimistic locking, all-or-nothing import, one audit record per change."""

from __future__ import annotations

from decimal import Decimal

import pytest

from isthmus.bootstrap import Container
from isthmus.catalog import (
    Priority,
    PriorityScores,
    Process,
    ProcessId,
    ProcessQuery,
    SortField,
    write_csv,
    write_xlsx,
)
from isthmus.demo import GUIDE_PROCESSES
from isthmus.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from isthmus.security import SYSTEM, Role
from tests.conftest import principal_with


def _load(container: Container) -> None:
    for process in GUIDE_PROCESSES:
        container.catalog.create(SYSTEM, process)


def test_create_read_update_delete_with_audit(container: Container) -> None:
    _load(container)
    current = container.catalog.get(SYSTEM, "SAL-ORD-001")
    saved = container.catalog.update(SYSTEM, current.with_changes(avg_hours=Decimal(24)))
    assert (saved.version, container.catalog.get(SYSTEM, "SAL-ORD-001").avg_hours) == (2, Decimal(24))
    container.catalog.delete(SYSTEM, "PRO-MFG-001")
    with pytest.raises(NotFound):
        container.catalog.get(SYSTEM, "PRO-MFG-001")
    records, total = container.audit.search(SYSTEM, object_type="process")
    assert total == 5
    update = next(r for r in records if r.event.action == "catalog.update")
    assert (update.event.before["avg_hours"], update.event.after["avg_hours"]) == (48, 24)


def test_stale_version_is_a_conflict(container: Container) -> None:
    _load(container)
    read_twice = container.catalog.get(SYSTEM, "PUR-REQ-001")
    container.catalog.update(SYSTEM, read_twice.with_changes(owner="赵*"))
    with pytest.raises(Conflict, match="changed by someone else"):
        container.catalog.update(SYSTEM, read_twice.with_changes(owner="钱*"))


def test_duplicate_id_is_a_conflict_and_bad_values_are_named(container: Container) -> None:
    _load(container)
    with pytest.raises(Conflict, match="already exists"):
        container.catalog.create(SYSTEM, GUIDE_PROCESSES[0])
    with pytest.raises(InvalidInput) as caught:
        container.catalog.create(SYSTEM, Process(id=ProcessId("bad id!"), name=" ", key_nodes=-1))
    fields = {d.location.field for d in caught.value.details if d.location}
    assert fields == {"id", "name", "key_nodes"}


def test_query_searches_sorts_filters_and_pages(container: Container) -> None:
    _load(container)
    found, total = container.catalog.query(SYSTEM, ProcessQuery(search="erp"))
    assert {p.id for p in found} == {"SAL-ORD-001", "PUR-REQ-001"}
    assert total == 2
    found, _ = container.catalog.query(SYSTEM, ProcessQuery(search="仓库主管"))
    assert [p.id for p in found] == ["SAL-ORD-001"]
    found, _ = container.catalog.query(SYSTEM, ProcessQuery(sort=SortField.AVG_HOURS, descending=True))
    assert [p.id for p in found] == ["PRO-MFG-001", "SAL-ORD-001", "PUR-REQ-001"]
    found, _ = container.catalog.query(SYSTEM, ProcessQuery(sort=SortField.PRIORITY))
    assert [p.priority for p in found] == [Priority.HIGH, Priority.HIGH, Priority.MEDIUM]
    found, total = container.catalog.query(SYSTEM, ProcessQuery(priority=Priority.HIGH, limit=1, offset=1))
    assert (len(found), total) == (1, 2)
    found, _ = container.catalog.query(SYSTEM, ProcessQuery(search="100%_"))
    assert found == []


def test_computed_priority_follows_the_scores(container: Container) -> None:
    created = container.catalog.create(
        SYSTEM,
        Process(
            id=ProcessId("HR-LEAVE-001"),
            name="请假流程",
            priority_manual=False,
            scores=PriorityScores(value=2, pain=2, ease=2),
        ),
    )
    assert (created.priority, created.priority_manual) == (Priority.LOW, False)


def test_import_creates_updates_and_leaves_unchanged_with_one_record_each(container: Container) -> None:
    _load(container)
    edited = [
        GUIDE_PROCESSES[0].with_changes(avg_hours=Decimal(36)),
        GUIDE_PROCESSES[1],
        Process(id=ProcessId("FIN-AR-001"), name="应收对账流程", priority=Priority.MEDIUM),
    ]
    report = container.catalog.import_file(SYSTEM, write_xlsx(edited), "t.xlsx")
    assert (report.created, report.updated, report.unchanged) == (
        ["FIN-AR-001"],
        ["SAL-ORD-001"],
        ["PUR-REQ-001"],
    )
    assert container.audit.search(SYSTEM, action="catalog.import.")[1] == 2


def test_a_bad_file_writes_nothing(container: Container) -> None:
    _load(container)
    before = container.catalog.all(SYSTEM)
    audit_before = container.audit.search(SYSTEM)[1]
    good_then_bad = write_csv(
        [
            GUIDE_PROCESSES[0].with_changes(avg_hours=Decimal(1)),
            Process(id=ProcessId("X-1"), name="x", priority=Priority.LOW),
        ]
    )
    broken = good_then_bad.replace(b"X-1", b"X 1")  # the second row's id is invalid
    with pytest.raises(InvalidInput, match="row 3"):
        container.catalog.import_file(SYSTEM, broken, "t.csv")
    assert container.catalog.all(SYSTEM) == before
    assert container.audit.search(SYSTEM)[1] == audit_before


def test_permissions_are_checked_per_use_case(container: Container) -> None:
    _load(container)
    viewer = principal_with(Role.VIEWER)
    assert len(container.catalog.all(viewer)) == 3
    with pytest.raises(PermissionDenied) as caught:
        container.catalog.delete(viewer, "SAL-ORD-001")
    assert caught.value.permission == "catalog:write"
    with pytest.raises(PermissionDenied):
        container.catalog.import_file(principal_with(Role.BUSINESS_EXPERT), b"", "x.xlsx")
