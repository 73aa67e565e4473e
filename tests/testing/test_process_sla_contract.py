"""The SLA part of the ProcessRepository contract, on the in-memory fake, SQLite and PostgreSQL:
order kept, whole-list replace, rollback, unknown process, delete cascades."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from isthmus.catalog import NodeSla, Process, ProcessId
from isthmus.errors import NotFound
from isthmus.services.ports import UnitOfWorkFactory
from tests.testing.test_contracts import pg_database, sqlite_template, uow_factory  # noqa: F401  (fixtures)

NOW = datetime(2026, 1, 1, tzinfo=UTC)
ONE = ProcessId("SAL-ORD-001")
SLAS = (NodeSla("审核订单", "PT4H"), NodeSla("发货", "P2D"), NodeSla("开票", "PT30M"))


def _add(uow_factory: UnitOfWorkFactory, pid: ProcessId) -> None:  # noqa: F811
    with uow_factory() as uow:
        uow.processes.add(Process(id=pid, name=pid.lower()), NOW)
        uow.commit()


def test_replace_read_rollback_and_cascade(uow_factory: UnitOfWorkFactory) -> None:  # noqa: F811
    _add(uow_factory, ONE)
    _add(uow_factory, ProcessId("PUR-REQ-001"))
    with uow_factory() as uow:
        assert uow.processes.slas(ONE) == ()
        uow.processes.replace_slas(ONE, SLAS)
        uow.commit()
    with uow_factory() as uow:
        assert uow.processes.slas(ONE) == SLAS
        assert uow.processes.all_slas() == {ONE: SLAS}
        uow.processes.replace_slas(ONE, SLAS[:1])
        # not committed: thrown away
    with uow_factory() as uow:
        assert uow.processes.slas(ONE) == SLAS
        uow.processes.replace_slas(ONE, SLAS[::-1])
        uow.commit()
    with uow_factory() as uow:
        assert uow.processes.slas(ONE) == SLAS[::-1]
        with pytest.raises(NotFound):
            uow.processes.replace_slas(ProcessId("NOPE-1"), SLAS)
        uow.processes.delete(ONE)
        uow.commit()
    _add(uow_factory, ONE)
    with uow_factory() as uow:
        assert uow.processes.slas(ONE) == ()
        assert uow.processes.all_slas() == {}
