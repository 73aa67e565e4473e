"""The HTTP API through a real client: auth, permissions, problem+json errors, the catalog."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from isthmus.adapters.api.app import create_app
from isthmus.bootstrap import Container
from isthmus.catalog import write_xlsx
from isthmus.demo import GUIDE_PROCESSES
from isthmus.security import SYSTEM, Role

PROBLEM = "application/problem+json"


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


def _guide_body(index: int = 0) -> dict[str, object]:
    record = GUIDE_PROCESSES[index].as_record()
    return {
        k: record[k]
        for k in (
            "id",
            "name",
            "department",
            "system_support",
            "owner",
            "roles",
            "key_nodes",
            "avg_hours",
            "pain_points",
            "priority",
        )
    }


def test_health_and_openapi_are_public(client: TestClient) -> None:
    assert client.get("/api/v1/health").json()["status"] == "ok"
    spec = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/processes" in spec["paths"]
    assert client.get("/docs").status_code == 200


def test_no_credentials_is_401_problem(client: TestClient) -> None:
    response = client.get("/api/v1/processes")
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert (body["status"], body["code"]) == (401, "authentication_failed")
    bad = client.get("/api/v1/processes", headers={"Authorization": "Bearer ist_nope"})
    assert bad.status_code == 401


def test_crud_with_pagination_and_conflicts(client: TestClient, owner: dict[str, str]) -> None:
    for i in range(3):
        assert client.post("/api/v1/processes", json=_guide_body(i), headers=owner).status_code == 201
    page = client.get("/api/v1/processes?limit=2&sort=avg_hours&order=desc", headers=owner).json()
    assert (page["total"], page["limit"], [p["id"] for p in page["items"]]) == (
        3,
        2,
        ["PRO-MFG-001", "SAL-ORD-001"],
    )
    duplicate = client.post("/api/v1/processes", json=_guide_body(0), headers=owner)
    assert (duplicate.status_code, duplicate.json()["code"]) == (409, "conflict")
    current = client.get("/api/v1/processes/SAL-ORD-001", headers=owner).json()
    changed = {**_guide_body(0), "avg_hours": 24, "version": current["version"]}
    assert client.put("/api/v1/processes/SAL-ORD-001", json=changed, headers=owner).json()["version"] == 2
    stale = client.put("/api/v1/processes/SAL-ORD-001", json=changed, headers=owner)
    assert stale.status_code == 409
    assert client.delete("/api/v1/processes/PRO-MFG-001", headers=owner).status_code == 204
    missing = client.get("/api/v1/processes/PRO-MFG-001", headers=owner)
    assert (missing.status_code, missing.headers["content-type"]) == (404, PROBLEM)


def test_invalid_bodies_name_the_field(client: TestClient, owner: dict[str, str]) -> None:
    response = client.post(
        "/api/v1/processes", json={**_guide_body(), "key_nodes": -1, "id": "bad id"}, headers=owner
    )
    assert response.status_code == 422
    body = response.json()
    assert any("key_nodes" in e["message"] for e in body["errors"])
    no_priority = client.post("/api/v1/processes", json={**_guide_body(), "priority": None}, headers=owner)
    assert no_priority.status_code == 422
    assert "priority" in no_priority.json()["detail"]


def test_permission_denied_names_the_permission(client: TestClient, container: Container) -> None:
    viewer = _token(container, "viewer", Role.VIEWER)
    response = client.post("/api/v1/processes", json=_guide_body(), headers=viewer)
    assert response.status_code == 403
    assert response.json()["permission"] == "catalog:write"
    assert client.get("/api/v1/audit", headers=viewer).json()["permission"] == "audit:read"
    auditor = _token(container, "auditor", Role.AUDITOR)
    assert client.get("/api/v1/audit", headers=auditor).status_code == 200
    assert client.get("/api/v1/audit/verify", headers=auditor).json()["intact"] is True


def test_import_export_and_all_or_nothing(
    client: TestClient, owner: dict[str, str], container: Container
) -> None:
    workbook = write_xlsx(list(GUIDE_PROCESSES))
    response = client.post(
        "/api/v1/processes/import",
        headers=owner,
        files={"file": ("table1.xlsx", workbook, "application/octet-stream")},
    )
    assert response.json()["created"] == ["SAL-ORD-001", "PUR-REQ-001", "PRO-MFG-001"]
    exported = client.get("/api/v1/processes/export?format=xlsx", headers=owner)
    assert exported.headers["content-type"].startswith("application/vnd.openxmlformats")
    csv = client.get("/api/v1/processes/export?format=csv&language=en", headers=owner)
    assert csv.content.decode("utf-8-sig").startswith("id,name,department")
    bad = "流程编号,流程名称,优化优先级(高/中/低)\nNEW-1,新流程,高\nNEW-2,,urgent\n".encode()
    rejected = client.post(
        "/api/v1/processes/import", headers=owner, files={"file": ("t.csv", bad, "text/csv")}
    )
    assert rejected.status_code == 422
    assert len(rejected.json()["errors"]) == 2
    assert client.get("/api/v1/processes/NEW-1", headers=owner).status_code == 404


def test_oversized_upload_is_413(client: TestClient, owner: dict[str, str], container: Container) -> None:
    big = io.BytesIO(b"x" * (container.settings.max_upload_bytes + 100_000))
    response = client.post(
        "/api/v1/processes/import", headers=owner, files={"file": ("big.csv", big, "text/csv")}
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM


def test_browser_session_requires_csrf_token_for_changes(client: TestClient, container: Container) -> None:
    container.accounts.add_user(SYSTEM, "zhang", "long enough pw", {Role.PROCESS_OWNER})
    wrong = client.post("/api/v1/session", json={"username": "zhang", "password": "nope nope"})
    assert wrong.status_code == 401
    login = client.post("/api/v1/session", json={"username": "zhang", "password": "long enough pw"})
    assert login.status_code == 200
    cookie = login.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    csrf = login.json()["csrf_token"]
    assert client.get("/api/v1/me").json()["actor"] == "zhang"
    forged = client.post("/api/v1/processes", json=_guide_body())
    assert (forged.status_code, forged.json()["code"]) == (403, "csrf_failed")
    wrong_token = client.post("/api/v1/processes", json=_guide_body(), headers={"X-CSRF-Token": "guess"})
    assert wrong_token.status_code == 403
    assert (
        client.post("/api/v1/processes", json=_guide_body(), headers={"X-CSRF-Token": csrf}).status_code
        == 201
    )
    assert client.request("DELETE", "/api/v1/session", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert client.get("/api/v1/me").status_code == 401


def test_login_throttling_is_429_with_retry_after(client: TestClient, container: Container) -> None:
    container.accounts.add_user(SYSTEM, "li", "long enough pw", {Role.VIEWER})
    for _ in range(5):
        client.post("/api/v1/session", json={"username": "li", "password": "wrong wrong"})
    throttled = client.post("/api/v1/session", json={"username": "li", "password": "long enough pw"})
    assert throttled.status_code == 429
    assert throttled.headers["retry-after"] == "900"


def test_unexpected_errors_leak_no_trace(container: Container) -> None:
    app = create_app(container)

    @app.get("/api/v1/boom")
    def boom() -> None:
        raise RuntimeError("secret internals at /srv/app.py line 42")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/api/v1/boom")
    assert response.status_code == 500
    assert "secret" not in response.text
    assert response.json()["code"] == "internal_error"
