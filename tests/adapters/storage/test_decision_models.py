"""Deployed decision models: versions per key, hash idempotency — on SQL and on the in-memory fake."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from isthmus.adapters.storage import Database
from isthmus.decisions import ModelDraft, prepare_model
from isthmus.services.ports import DecisionModelRepository
from isthmus.testing._memory_decisions import InMemoryDecisionModelRepository

DEMO = Path(__file__).parents[3] / "src" / "isthmus" / "demo" / "decisions"
NOW = datetime(2024, 6, 1, 9, 0, tzinfo=UTC)


def _draft(name: str, edit: str = "") -> ModelDraft:
    content = (DEMO / name).read_bytes().replace(b"</definitions>", f"<!-- {edit} --></definitions>".encode())
    return prepare_model(content, name)[0]


def _check_contract(repo: DecisionModelRepository) -> None:
    approval, phone = _draft("tiered-approval.dmn"), _draft("phone-validation.dmn")
    first = repo.add(approval, deployed_by="owner", now=NOW)
    assert (first.key, first.version, first.deployed_by, first.deployed_at) == (
        "tiered_approval",
        1,
        "owner",
        NOW,
    )
    assert repo.add(approval, deployed_by="other", now=NOW + timedelta(hours=1)) == first  # same hash
    second = repo.add(
        _draft("tiered-approval.dmn", "edited"), deployed_by="expert", now=NOW + timedelta(hours=2)
    )
    assert second.version == 2
    assert second.content_hash != first.content_hash
    assert (
        repo.add(approval, deployed_by="owner", now=NOW + timedelta(hours=3)).version == 3
    )  # back to v1's text
    repo.add(phone, deployed_by="owner", now=NOW)
    assert [m.version for m in repo.versions("tiered_approval")] == [1, 2, 3]
    assert repo.versions("nope") == []
    assert [(m.key, m.version) for m in repo.list_latest()] == [
        ("phone_validation_model", 1),
        ("tiered_approval", 3),
    ]
    got = repo.get("tiered_approval", 2)
    assert got is not None
    assert (got.deployed_by, got.content, got.decisions) == ("expert", second.content, approval.decisions)
    assert repo.get("tiered_approval", 9) is None
    assert repo.latest("nope") is None
    latest = repo.latest("tiered_approval")
    assert latest is not None
    assert latest.version == 3


def test_sql_repository_versions_and_hash_idempotency(database: Database) -> None:
    with database.unit_of_work() as uow:
        _check_contract(uow.decision_models)
        uow.commit()
    with database.unit_of_work() as uow:
        assert len(uow.decision_models.versions("tiered_approval")) == 3


def test_sql_rollback_stores_nothing(database: Database) -> None:
    with database.unit_of_work() as uow:
        uow.decision_models.add(_draft("tiered-approval.dmn"), deployed_by="owner", now=NOW)
    with database.unit_of_work() as uow:
        assert uow.decision_models.list_latest() == []


def test_memory_repository_keeps_the_same_contract() -> None:
    _check_contract(InMemoryDecisionModelRepository())
