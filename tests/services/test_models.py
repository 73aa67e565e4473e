"""ModelService on a real database (SQLite and PostgreSQL): deploy, drafts, versions, diff, load."""

from __future__ import annotations

import pytest

from isthmus.bootstrap import Container
from isthmus.errors import InvalidInput, NotFound, PermissionDenied
from isthmus.models import InvalidModel
from isthmus.security import Principal, Role
from tests.conftest import principal_with
from tests.models._builders import bpmn, straight
from tests.models._files import fixture

APPROVAL = fixture("approval.bpmn")


def test_deploy_versions_and_idempotence(container: Container, admin: Principal) -> None:
    first = container.models.deploy(admin, APPROVAL, "approval.bpmn")
    assert (first.main.key, first.main.version, first.unchanged) == ("approval", 1, False)
    again = container.models.deploy(admin, APPROVAL, "approval.bpmn")
    assert (again.main.version, again.unchanged) == (1, True)
    changed = APPROVAL.replace(b'isthmus:sla="PT30M"', b'isthmus:sla="PT45M"')
    second = container.models.deploy(admin, changed, "approval.bpmn")
    assert second.main.version == 2
    assert [v.version for v in container.models.versions(admin, "approval")] == [1, 2]
    assert container.models.get(admin, "approval").content == changed
    assert container.models.get(admin, "approval", 1).content == APPROVAL
    actions = [r.event.action for r in container.audit.search(admin, action="model.deploy")[0]]
    assert actions == ["model.deploy", "model.deploy"]


def test_invalid_model_is_refused_with_every_problem(container: Container, admin: Principal) -> None:
    data = bpmn(
        '<startEvent id="s"/><task id="t"/><serviceTask id="x"/><endEvent id="e"/>' + straight("s", "x", "e")
    )
    with pytest.raises(InvalidModel) as caught:
        container.models.deploy(admin, data, "bad.bpmn")
    assert {p.element_id for p in caught.value.problems if p.is_error} == {"t", "x"}
    assert len(caught.value.details) == len([p for p in caught.value.problems if p.is_error])
    assert container.models.list(admin) == []


def test_non_executable_file_is_not_deployable(container: Container, admin: Principal) -> None:
    data = bpmn('<startEvent id="s"/><endEvent id="e"/>' + straight("s", "e"), executable=False)
    with pytest.raises(InvalidInput, match="isExecutable"):
        container.models.deploy(admin, data, "doc.bpmn")


def test_drafts_are_versions_that_never_run(container: Container, admin: Principal) -> None:
    container.models.deploy(admin, APPROVAL, "approval.bpmn")
    broken = APPROVAL.replace(b'<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="enter"/>', b"")
    draft, problems = container.models.save_draft(admin, broken, "approval.bpmn")
    assert (draft.version, draft.draft) == (2, True)
    assert any(p.element_id == "enter" for p in problems)
    assert container.models.get(admin, "approval").version == 1
    assert container.models.load("approval").definition.version == 1
    assert [p.version for p in container.models.list(admin, include_drafts=True)] == [2]
    assert [p.version for p in container.models.list(admin)] == [1]
    same, _ = container.models.save_draft(admin, broken, "approval.bpmn")
    assert same.version == 2


def test_diff_between_versions(container: Container, admin: Principal) -> None:
    container.models.deploy(admin, APPROVAL, "approval.bpmn")
    container.models.deploy(
        admin, APPROVAL.replace(b'name="Enter order"', b'name="Enter the order"'), "a.bpmn"
    )
    diff = container.models.diff(admin, "approval", 1, 2)
    assert [c.id for c in diff.nodes.changed] == ["enter"]
    with pytest.raises(NotFound):
        container.models.diff(admin, "approval", 1, 3)


def test_load_is_cached_and_gives_the_spec(container: Container, admin: Principal) -> None:
    container.models.deploy(admin, APPROVAL, "approval.bpmn")
    container.models.cache = type(container.models.cache)()
    loaded = container.models.load("approval")
    assert loaded.spec.nodes["enter"].props.sla == "PT30M"
    assert container.models.load("approval", 1).model is loaded.model
    with pytest.raises(NotFound):
        container.models.load("nope")


def test_permissions(container: Container) -> None:
    viewer = principal_with(Role.VIEWER)
    expert = principal_with(Role.BUSINESS_EXPERT)
    with pytest.raises(PermissionDenied, match="model:deploy"):
        container.models.deploy(expert, APPROVAL, "approval.bpmn")
    draft, _ = container.models.save_draft(expert, APPROVAL, "approval.bpmn")
    assert draft.draft
    with pytest.raises(PermissionDenied, match="model:write"):
        container.models.save_draft(viewer, APPROVAL, "approval.bpmn")
    assert container.models.versions(viewer, "approval")[0].deployed_by == "tester"
