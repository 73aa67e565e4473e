"""Deployed decisions: permissions, one audit record per new version, evaluation from the engine cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from isthmus.bootstrap import Container
from isthmus.errors import InvalidInput, NotFound, PermissionDenied, SyntaxProblem
from isthmus.security import SYSTEM, Role
from tests.conftest import principal_with

DEMO = Path(__file__).parents[2] / "src" / "isthmus" / "demo" / "decisions"
APPROVAL = (DEMO / "tiered-approval.dmn").read_bytes()

# A decision service over a decision that requires another one, to show services evaluate alike.
SERVICE_MODEL = b"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="bonus" name="Bonus"
             namespace="https://isthmus.example/dmn/bonus">
  <inputData id="salary" name="salary"><variable name="salary" typeRef="number"/></inputData>
  <decision id="bonus_d" name="Bonus">
    <variable name="Bonus" typeRef="number"/>
    <informationRequirement><requiredInput href="#salary"/></informationRequirement>
    <literalExpression><text>salary * 0.1</text></literalExpression>
  </decision>
  <decisionService id="bonus_service" name="Bonus service">
    <outputDecision href="#bonus_d"/>
    <inputData href="#salary"/>
  </decisionService>
</definitions>
"""


def test_deploy_records_one_audit_record_per_new_version(container: Container) -> None:
    owner = principal_with(Role.PROCESS_OWNER, actor="owner")
    first = container.decisions.deploy(owner, APPROVAL, "tiered-approval.dmn")
    again = container.decisions.deploy(owner, APPROVAL, "tiered-approval.dmn")
    assert (first.key, first.version, again.version) == ("tiered_approval", 1, 1)
    records, total = container.audit.search(SYSTEM, action="decision.deploy")
    assert total == 1
    assert (records[0].event.actor, records[0].event.object_id) == ("owner", "tiered_approval:1")
    assert records[0].event.after is not None
    assert records[0].event.after["hash"] == first.content_hash
    assert container.audit.verify(SYSTEM).intact


def test_permissions(container: Container) -> None:
    container.decisions.deploy(SYSTEM, APPROVAL, "a.dmn")
    viewer = principal_with(Role.VIEWER)
    auditor = principal_with(Role.AUDITOR)
    with pytest.raises(PermissionDenied, match="decision:write"):
        container.decisions.deploy(auditor, APPROVAL, "a.dmn")
    with pytest.raises(PermissionDenied, match="decision:read"):
        container.decisions.list(viewer)
    with pytest.raises(PermissionDenied, match="decision:evaluate"):
        container.decisions.evaluate(auditor, "tiered_approval", "Approval route", {"amount": 1})
    assert [m.key for m in container.decisions.list(auditor)] == ["tiered_approval"]
    integrator = principal_with(Role.IT_INTEGRATOR)
    assert container.decisions.evaluate(integrator, "tiered_approval", "approval_route", {"amount": 1})[
        "result"
    ] == {
        "approver": "department_manager",
        "finance_pre_review": False,
    }


def test_invalid_model_is_refused_and_nothing_is_stored(container: Container) -> None:
    broken = APPROVAL.replace(b"</decision>", b"</decisionX>", 1)
    with pytest.raises(SyntaxProblem) as caught:
        container.decisions.deploy(SYSTEM, broken, "broken.dmn")
    assert caught.value.location is not None
    assert caught.value.location.line is not None
    with pytest.raises(InvalidInput, match="not a DMN file"):
        container.decisions.deploy(SYSTEM, b"<x/>", "x.dmn")
    assert container.decisions.list(SYSTEM) == []
    assert container.audit.search(SYSTEM)[1] == 0


def test_evaluate_by_version_with_matched_rules_and_cache(container: Container) -> None:
    container.decisions.deploy(SYSTEM, APPROVAL, "tiered-approval.dmn")
    edited = APPROVAL.replace(b"&lt;= 50000", b"&lt;= 60000").replace(b"(50000..100000)", b"(60000..100000)")
    assert container.decisions.deploy(SYSTEM, edited, "tiered-approval.dmn").version == 2
    latest = container.decisions.evaluate(SYSTEM, "tiered_approval", "Approval route", {"amount": 55000})
    v1 = container.decisions.evaluate(
        SYSTEM, "tiered_approval", "Approval route", {"amount": 55000}, version=1
    )
    assert (latest["version"], latest["result"]["approver"]) == (2, "department_manager")
    assert (v1["version"], v1["result"]["approver"]) == (1, "director")
    assert v1["matched_rules"] == {"Approval route": ["rule_director"]}
    assert v1["warnings"] == []
    assert len(container.decisions.engines) == 2
    assert [m.version for m in container.decisions.versions(SYSTEM, "tiered_approval")] == [1, 2]


def test_unknown_key_version_or_decision_is_not_found(container: Container) -> None:
    container.decisions.deploy(SYSTEM, APPROVAL, "tiered-approval.dmn")
    with pytest.raises(NotFound, match="nope"):
        container.decisions.evaluate(SYSTEM, "nope", "x", {})
    with pytest.raises(NotFound, match="version 7"):
        container.decisions.get(SYSTEM, "tiered_approval", 7)
    with pytest.raises(NotFound, match=r"'Route'.*Approval route"):
        container.decisions.evaluate(SYSTEM, "tiered_approval", "Route", {})
    with pytest.raises(NotFound):
        container.decisions.versions(SYSTEM, "nope")


def test_decision_services_evaluate_the_same_way(container: Container) -> None:
    model = container.decisions.deploy(SYSTEM, SERVICE_MODEL, "bonus.dmn")
    assert [(d.name, d.kind.value) for d in model.decisions] == [
        ("Bonus", "decision"),
        ("Bonus service", "decision_service"),
    ]
    out = container.decisions.evaluate(SYSTEM, "bonus", "Bonus service", {"salary": 1000})
    assert (out["decision"], out["result"]) == ("Bonus service", 100)
