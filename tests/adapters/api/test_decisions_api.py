"""``/api/v1/decisions`` through a real client: deploy, list, XML, evaluate, problem+json errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from isthmus.adapters.api.app import create_app
from isthmus.bootstrap import Container
from isthmus.security import SYSTEM, Role

PROBLEM = "application/problem+json"
DEMO = Path(__file__).parents[3] / "src" / "isthmus" / "demo" / "decisions"
APPROVAL = (DEMO / "tiered-approval.dmn").read_bytes()
PHONE = (DEMO / "phone-validation.dmn").read_bytes()
XML = {"content-type": "application/xml"}


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


def _evaluate(client: TestClient, auth: dict[str, str], key: str, decision: str, **inputs: object) -> object:
    response = client.post(
        f"/api/v1/decisions/{key}/evaluate", json={"decision": decision, "inputs": inputs}, headers=auth
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_deploy_list_xml_and_evaluate_the_tiered_approval(client: TestClient, owner: dict[str, str]) -> None:
    files = {"file": ("tiered-approval.dmn", APPROVAL, "application/xml")}
    deployed = client.post("/api/v1/decisions", files=files, headers=owner)
    assert deployed.status_code == 201, deployed.text
    body = deployed.json()
    assert (body["key"], body["version"], len(body["hash"])) == ("tiered_approval", 1, 64)
    assert body["decisions"][0] | {"inputs": None} == {
        "id": "approval_route",
        "name": "Approval route",
        "kind": "decision",
        "inputs": None,
    }
    again = client.post("/api/v1/decisions", content=APPROVAL, headers=owner | XML)
    assert (again.status_code, again.json()["version"]) == (201, 1)  # same hash: the same version

    routes = {
        30000: ("department_manager", False),
        60000: ("director", False),
        120000: ("director", True),
    }
    for amount, (approver, pre_review) in routes.items():
        out = _evaluate(client, owner, "tiered_approval", "Approval route", amount=amount)
        assert isinstance(out, dict)
        assert out["result"] == {"approver": approver, "finance_pre_review": pre_review}
        assert (out["decision"], out["version"], out["warnings"]) == ("Approval route", 1, [])
    assert isinstance(out, dict)
    assert out["matched_rules"] == {"Approval route": ["rule_finance_then_director"]}

    page = client.get("/api/v1/decisions", headers=owner).json()
    assert (page["total"], [m["key"] for m in page["items"]]) == (1, ["tiered_approval"])
    detail = client.get("/api/v1/decisions/tiered_approval", headers=owner).json()
    assert [v["version"] for v in detail["versions"]] == [1]
    xml = client.get("/api/v1/decisions/tiered_approval/xml?version=1", headers=owner)
    assert xml.headers["content-type"].startswith("application/xml")
    assert xml.content == APPROVAL


def test_phone_model_formats(client: TestClient, owner: dict[str, str]) -> None:
    assert client.post("/api/v1/decisions", content=PHONE, headers=owner | XML).status_code == 201
    cases = {
        "13812345678": True,
        "+86 138-1234-5678": True,
        "+86 12345": False,
        "+852 9123 4567": True,
        "+44 20 7946 0958": True,
        "12345": False,
    }
    for phone, valid in cases.items():
        out = _evaluate(client, owner, "phone_validation_model", "phone_validation", phone=phone)
        assert isinstance(out, dict)
        assert out["result"]["valid"] is valid, (phone, out)
    missing = _evaluate(client, owner, "phone_validation_model", "Phone check")
    assert isinstance(missing, dict)
    assert missing["result"]["valid"] is False


def test_problems(client: TestClient, owner: dict[str, str], container: Container) -> None:
    client.post("/api/v1/decisions", content=APPROVAL, headers=owner | XML)
    unknown_key = client.post("/api/v1/decisions/nope/evaluate", json={"decision": "x"}, headers=owner)
    assert (unknown_key.status_code, unknown_key.headers["content-type"]) == (404, PROBLEM)
    assert "nope" in unknown_key.json()["detail"]
    unknown = client.post(
        "/api/v1/decisions/tiered_approval/evaluate", json={"decision": "Route"}, headers=owner
    )
    assert unknown.status_code == 404
    assert "'Route'" in unknown.json()["detail"]
    assert client.get("/api/v1/decisions/nope", headers=owner).status_code == 404
    assert client.get("/api/v1/decisions/tiered_approval/xml?version=5", headers=owner).status_code == 404
    bad_inputs = client.post(
        "/api/v1/decisions/tiered_approval/evaluate",
        json={"decision": "Approval route", "inputs": [1]},
        headers=owner,
    )
    assert (bad_inputs.status_code, bad_inputs.json()["code"]) == (422, "invalid_input")
    broken = client.post(
        "/api/v1/decisions", content=APPROVAL.replace(b"</rule>", b"</rul>", 1), headers=owner | XML
    )
    assert (broken.status_code, broken.json()["code"]) == (422, "syntax_error")
    assert broken.json()["location"]["line"] == 34
    plain = client.post("/api/v1/decisions", content=b"hello", headers=owner | {"content-type": "text/plain"})
    assert plain.status_code == 422
    viewer = _token(container, "viewer", Role.VIEWER)
    denied = client.post("/api/v1/decisions", content=APPROVAL, headers=viewer | XML)
    assert (denied.status_code, denied.json()["permission"]) == (403, "decision:write")
    assert client.get("/api/v1/decisions").status_code == 401
    assert "/api/v1/decisions/{key}/evaluate" in client.get("/api/v1/openapi.json").json()["paths"]
