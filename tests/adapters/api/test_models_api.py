"""``/api/v1/models`` through a real client: deploy, drafts, validate, list, versions, XML, diff."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from isthmus.adapters.api.app import create_app
from isthmus.bootstrap import Container
from isthmus.security import SYSTEM, Role
from tests.models._builders import bpmn, straight
from tests.models._files import fixture

PROBLEM = "application/problem+json"
APPROVAL = fixture("approval.bpmn")
XML = {"content-type": "application/xml"}
INVALID = bpmn('<startEvent id="s"/><task id="t"/><endEvent id="e"/>' + straight("s", "e"))


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container), base_url="http://127.0.0.1") as test_client:
        yield test_client


def _token(container: Container, name: str, role: Role) -> dict[str, str]:
    container.accounts.add_user(SYSTEM, name, "long enough pw", {role})
    return {"Authorization": f"Bearer {container.accounts.issue_token(SYSTEM, name, 'test')}"}


@pytest.fixture
def owner(container: Container) -> dict[str, str]:
    return _token(container, "owner", Role.PROCESS_OWNER)


def test_deploy_list_versions_xml_and_diff(client: TestClient, owner: dict[str, str]) -> None:
    deployed = client.post(
        "/api/v1/models", files={"file": ("approval.bpmn", APPROVAL, "application/xml")}, headers=owner
    )
    assert deployed.status_code == 201, deployed.text
    body = deployed.json()
    assert (body["key"], body["version"], len(body["hash"])) == ("approval", 1, 64)
    again = client.post("/api/v1/models", content=APPROVAL, headers=owner | XML)
    assert (again.status_code, again.json()["version"], again.json()["unchanged"]) == (201, 1, True)
    edited = APPROVAL.replace(b'name="Enter order"', b'name="Enter the order"')
    assert client.post("/api/v1/models", content=edited, headers=owner | XML).json()["version"] == 2

    listed = client.get("/api/v1/models", headers=owner).json()
    assert [(i["key"], i["version"]) for i in listed["items"]] == [("approval", 2)]
    detail = client.get("/api/v1/models/approval", headers=owner).json()
    assert [v["version"] for v in detail["versions"]] == [1, 2]
    assert [v["version"] for v in client.get("/api/v1/models/approval/versions", headers=owner).json()] == [
        1,
        2,
    ]
    xml = client.get("/api/v1/models/approval/xml", params={"version": 1}, headers=owner)
    assert (xml.status_code, xml.content, xml.headers["content-type"]) == (200, APPROVAL, "application/xml")
    diff = client.get("/api/v1/models/approval/diff", params={"from": 1, "to": 2}, headers=owner).json()
    assert diff["nodes"]["changed"][0]["fields"]["name"] == {
        "before": "Enter order",
        "after": "Enter the order",
    }


def test_invalid_model_is_422_with_every_problem(client: TestClient, owner: dict[str, str]) -> None:
    refused = client.post(
        "/api/v1/models", content=INVALID, headers=owner | XML, params={"filename": "bad.bpmn"}
    )
    assert refused.status_code == 422
    assert refused.headers["content-type"] == PROBLEM
    errors = refused.json()["errors"]
    assert {e["location"]["field"] for e in errors} == {"t"}
    assert {e["location"]["line"] for e in errors} == {5}


def test_validate_and_drafts(client: TestClient, owner: dict[str, str]) -> None:
    checked = client.post("/api/v1/models/validate", content=INVALID, headers=owner | XML).json()
    assert checked["valid"] is False
    assert {p["element_id"] for p in checked["problems"]} == {"t"}
    assert client.post("/api/v1/models/validate", content=APPROVAL, headers=owner | XML).json() == {
        "valid": True,
        "problems": [],
    }
    draft = client.post("/api/v1/models/drafts", content=INVALID, headers=owner | XML)
    assert draft.status_code == 201
    assert (draft.json()["key"], draft.json()["draft"], len(draft.json()["problems"])) == ("p", True, 2)
    assert client.get("/api/v1/models", headers=owner).json()["items"] == []
    assert len(client.get("/api/v1/models", params={"drafts": True}, headers=owner).json()["items"]) == 1
    assert client.get("/api/v1/models/p/xml", headers=owner).status_code == 404  # drafts never "latest"
    assert client.get("/api/v1/models/p/xml", params={"version": 1}, headers=owner).content == INVALID


def test_permissions_and_bad_uploads(client: TestClient, container: Container, owner: dict[str, str]) -> None:
    viewer = _token(container, "viewer", Role.VIEWER)
    denied = client.post("/api/v1/models", content=APPROVAL, headers=viewer | XML)
    assert denied.status_code == 403
    assert "model:deploy" in denied.json()["detail"]
    broken = client.post("/api/v1/models/validate", content=b"<definitions", headers=owner | XML)
    assert broken.status_code == 422
    wrong = client.post("/api/v1/models", content=b"{}", headers=owner | {"content-type": "application/json"})
    assert wrong.status_code == 422
    assert client.get("/api/v1/models/nope", headers=owner).status_code == 404
