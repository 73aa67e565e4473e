"""Review decisions stored on SQLite and PostgreSQL, audited, and applied on every re-run."""

from __future__ import annotations

import pytest

from isthmus.bootstrap import Container
from isthmus.errors import PermissionDenied
from isthmus.quality import Decision, record_ids
from isthmus.security import Principal, Role
from tests.conftest import principal_with
from tests.quality.test_review import FRAME


def test_decisions_persist_are_audited_and_apply_on_rerun(container: Container, admin: Principal) -> None:
    quality = container.quality
    ids = record_ids(FRAME)
    assert quality.dedupe(admin, "crm.csv", FRAME).as_dict()["clusters"] == [[0, 1, 2]]
    reviewer = principal_with(Role.IT_INTEGRATOR, actor="li.lei")
    quality.decide(reviewer, "crm.csv", [ids[0], ids[2]], Decision.APART)
    quality.decide(reviewer, "crm.csv", [ids[3], ids[4]], Decision.MERGE)
    stored = quality.decisions(admin, "crm.csv")
    assert sorted((d["decision"].value, d["decided_by"]) for d in stored) == [
        ("apart", "li.lei"),
        ("merge", "li.lei"),
    ]
    assert quality.dedupe(admin, "crm.csv", FRAME).as_dict()["clusters"] == [[0, 1], [3, 4]]
    assert quality.dedupe(admin, "other.csv", FRAME).as_dict()["clusters"] == [[0, 1, 2]]  # per dataset
    records, total = container.audit.search(admin, action="dedupe.review")
    assert total == 2
    assert {r.event.after["decision"] for r in records} == {"apart", "merge"}
    # deciding a pair again replaces the earlier decision
    quality.decide(reviewer, "crm.csv", [ids[0], ids[2]], Decision.MERGE)
    assert quality.dedupe(admin, "crm.csv", FRAME).as_dict()["clusters"] == [[0, 1, 2], [3, 4]]
    assert quality.forget(reviewer, "crm.csv", [ids[3], ids[4]]) == 1
    assert quality.dedupe(admin, "crm.csv", FRAME).as_dict()["clusters"] == [[0, 1, 2]]


def test_deciding_needs_data_clean(container: Container) -> None:
    ids = record_ids(FRAME)
    with pytest.raises(PermissionDenied):
        container.quality.decide(principal_with(Role.AUDITOR), "crm.csv", ids[:2], Decision.MERGE)
    assert container.quality.decisions(principal_with(Role.AUDITOR), "crm.csv") == []
