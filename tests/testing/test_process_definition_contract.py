"""The ProcessDefinitionRepository contract, on the in-memory fake, SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses

import pytest

from isthmus.models import prepare_deployment
from isthmus.services.ports import UnitOfWorkFactory
from isthmus.testing import FakeClock
from tests.models._files import fixture
from tests.testing.test_contracts import pg_database, sqlite_template, uow_factory

__all__ = ["pg_database", "sqlite_template", "uow_factory"]  # fixtures, shared with test_contracts

T0 = FakeClock().now()


def test_versions_per_key_drafts_and_rollback(uow_factory: UnitOfWorkFactory) -> None:
    (draft,), _, _ = prepare_deployment(fixture("approval.bpmn"), "approval.bpmn")
    with uow_factory() as uow:
        repo = uow.process_definitions
        assert repo.latest("approval") is None
        v1 = repo.add(draft, deployment_id="d1", deployed_by="owner", now=T0)
        v2 = repo.add(dataclasses.replace(draft, draft=True), deployment_id="d2", deployed_by="owner", now=T0)
        uow.commit()
    assert (v1.version, v2.version, v2.draft) == (1, 2, True)
    with uow_factory() as uow:
        repo = uow.process_definitions
        repo.add(draft, deployment_id="d3", deployed_by="owner", now=T0)  # v3, rolled back
    with uow_factory() as uow:
        repo = uow.process_definitions
        latest = repo.latest("approval")
        assert latest is not None
        assert (latest.version, latest.content, latest.deployment_id) == (1, draft.content, "d1")
        assert latest.deployed_at == T0
        drafted = repo.latest("approval", include_drafts=True)
        assert drafted is not None
        assert drafted.version == 2
        assert [v.version for v in repo.versions("approval")] == [1, 2]
        assert repo.get("approval", 3) is None
        assert [p.version for p in repo.list_latest()] == [1]
        assert [p.version for p in repo.list_latest(include_drafts=True)] == [2]
        assert repo.versions("nope") == []


def test_only_drafts_are_listed_only_when_asked(uow_factory: UnitOfWorkFactory) -> None:
    (draft,), _, _ = prepare_deployment(fixture("approval.bpmn"), "approval.bpmn")
    with uow_factory() as uow:
        uow.process_definitions.add(
            dataclasses.replace(draft, draft=True), deployment_id="d", deployed_by="o", now=T0
        )
        uow.commit()
    with uow_factory() as uow:
        assert uow.process_definitions.list_latest() == []
        assert uow.process_definitions.latest("approval") is None
        assert len(uow.process_definitions.list_latest(include_drafts=True)) == 1


@pytest.mark.parametrize("name", ["approval.bpmn"])
def test_content_bytes_survive_storage(uow_factory: UnitOfWorkFactory, name: str) -> None:
    data = fixture(name).replace(b"Order approval", "订单审批".encode())
    (draft,), _, _ = prepare_deployment(data, name)
    with uow_factory() as uow:
        stored = uow.process_definitions.add(draft, deployment_id="d", deployed_by="o", now=T0)
        uow.commit()
    assert stored.content == data
