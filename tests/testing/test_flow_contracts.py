"""``FlowRepository`` and ``SystemRepository``: the in-memory fakes keep the SQL contract."""

from __future__ import annotations

from dataclasses import replace

import pytest

from isthmus.errors import Conflict
from isthmus.integration import MessageState, NewMessage, System, SystemKind
from isthmus.integration import TestStatus as FlowTestStatus
from isthmus.services.ports import UnitOfWorkFactory
from isthmus.testing import FakeClock
from tests.testing.test_contracts import (  # noqa: F401 - fixtures shared with the main contract suite
    _emptied_pg_database,
    pg_database,
    sqlite_template,
    uow_factory,
)

NOW = FakeClock().now()


def _message(key: str, **changes: object) -> NewMessage:
    return NewMessage(flow_id="f", idempotency_key=key, payload={"k": key}, display={"k": key}, **changes)  # type: ignore[arg-type]


def test_deploy_versions_and_test_status(uow_factory: UnitOfWorkFactory) -> None:  # noqa: F811
    with uow_factory() as uow:
        first = uow.flows.deploy("f", "text 1", deployed_by="a", now=NOW)
        same = uow.flows.deploy("f", "text 1", deployed_by="b", now=NOW)
        second = uow.flows.deploy("f", "text 2", deployed_by="a", now=NOW)
        uow.flows.record_test("f", FlowTestStatus.PASSED, NOW)
        uow.commit()
    with uow_factory() as uow:
        assert (first.version, same.version, second.version) == (1, 1, 2)
        latest = uow.flows.get("f")
        assert latest is not None
        assert (latest.version, latest.test_status) == (2, FlowTestStatus.PASSED)
        assert [f.flow_id for f in uow.flows.list()] == ["f"]
        assert uow.flows.get("nope") is None


def test_messages_are_unique_per_key_and_keep_their_state(uow_factory: UnitOfWorkFactory) -> None:  # noqa: F811
    with uow_factory() as uow:
        a = uow.flows.add_message(_message("a"), NOW)
        assert uow.flows.add_message(_message("a"), NOW) is None
        b = uow.flows.add_message(_message("b", state=MessageState.DEAD_LETTERED, row_number=7), NOW)
        assert a is not None
        assert b is not None
        uow.flows.save_message(replace(a, state=MessageState.DELIVERED, attempts=2))
        uow.commit()
    with uow_factory() as uow:
        found = uow.flows.message(a.id)
        assert found is not None
        assert (found.state, found.attempts, found.payload) == (MessageState.DELIVERED, 2, {"k": "a"})
        assert [m.row_number for m in uow.flows.messages(states=(MessageState.DEAD_LETTERED,))] == [7]
        assert uow.flows.counts("f") == {MessageState.DELIVERED: 1, MessageState.DEAD_LETTERED: 1}
        with pytest.raises(Conflict):
            uow.flows.replace_payload(b.id, "a", {}, {})
        uow.flows.replace_payload(b.id, "c", {"k": "c"}, {"k": "c"})
        again = uow.flows.message(b.id)
        assert again is not None
        assert (again.idempotency_key, again.payload) == ("c", {"k": "c"})


def test_systems_put_get_list(uow_factory: UnitOfWorkFactory) -> None:  # noqa: F811
    system = System(
        name="ERP", kind=SystemKind.ERP, owner="o", settings={"u": 1}, created_at=NOW, updated_at=NOW
    )
    with uow_factory() as uow:
        uow.systems.put(system, NOW)
        uow.systems.put(System(name="ERP", kind=SystemKind.OTHER, created_at=NOW, updated_at=NOW), NOW)
        uow.commit()
    with uow_factory() as uow:
        (found,) = uow.systems.list()
        assert (found.name, found.kind, found.settings) == ("ERP", SystemKind.OTHER, {})
        assert uow.systems.get("CRM") is None


def test_systems_delete(uow_factory: UnitOfWorkFactory) -> None:  # noqa: F811
    with uow_factory() as uow:
        uow.systems.put(System(name="ERP", kind=SystemKind.ERP, created_at=NOW, updated_at=NOW), NOW)
        uow.systems.put(System(name="CRM", kind=SystemKind.CRM, created_at=NOW, updated_at=NOW), NOW)
        uow.commit()
    with uow_factory() as uow:
        assert uow.systems.delete("ERP") is True
        assert uow.systems.delete("ERP") is False
        uow.commit()
    with uow_factory() as uow:
        assert [s.name for s in uow.systems.list()] == ["CRM"]
        assert uow.systems.get("ERP") is None
