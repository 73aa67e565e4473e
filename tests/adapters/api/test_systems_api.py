"""``/api/v1/systems`` through a real client on SQLite and PostgreSQL: credentials write-only,
permissions, audit without secrets, "test connection" against a real JSON-RPC server on loopback."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from isthmus.adapters.api.app import create_app
from isthmus.bootstrap import Container
from isthmus.security import SYSTEM, Role
from tests.adapters.connectors.odoo_servers import FakeOdoo, JsonRpcServer

SECRET = "odoo-pass-9f3"


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container), base_url="http://127.0.0.1") as test_client:
        yield test_client


def token(container: Container, role: Role) -> dict[str, str]:
    container.accounts.add_user(SYSTEM, f"u-{role.value}", "long enough pw", {role})
    return {"Authorization": f"Bearer {container.accounts.issue_token(SYSTEM, f'u-{role.value}', 'test')}"}


@pytest.fixture
def odoo() -> Iterator[JsonRpcServer]:
    with JsonRpcServer() as server:
        server.odoo.PASSWORD = SECRET
        yield server


def erp(url: str) -> dict[str, object]:
    return {
        "name": "ERP",
        "kind": "ERP",
        "owner": "王*",
        "settings": {
            "connector": "jsonrpc",
            "url": url,
            "auth": "odoo",
            "database": FakeOdoo.DB,
            "username": FakeOdoo.USER,
        },
        "credentials": {"password": SECRET},
    }


def test_crud_never_returns_or_audits_the_credentials(
    container: Container, client: TestClient, odoo: JsonRpcServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    auth = token(container, Role.IT_INTEGRATOR)
    created = client.post("/api/v1/systems", json=erp(f"{odoo.url}/jsonrpc"), headers=auth)
    assert created.status_code == 201
    assert created.json()["credentials"] == "set"
    assert client.post("/api/v1/systems", json=erp("http://x"), headers=auth).status_code == 409
    (listed,) = client.get("/api/v1/systems", headers=auth).json()
    shown = client.get("/api/v1/systems/ERP", headers=auth).json()
    assert listed == shown
    assert shown["key_id"] == container.systems.key_id
    body = erp(f"{odoo.url}/jsonrpc") | {"owner": "李*"}
    del body["credentials"], body["name"]
    replaced = client.put("/api/v1/systems/ERP", json=body, headers=auth)
    assert replaced.json()["owner"] == "李*"
    assert replaced.json()["credentials"] == "set"  # kept: none were given
    test = client.post("/api/v1/systems/ERP/test", headers=auth).json()
    assert test["ok"] is True
    assert "logged in as isthmus" in test["detail"]
    assert odoo.odoo.logins == 1
    records = client.get("/api/v1/audit", params={"object_type": "system"}, headers=auth)
    everything = json.dumps(
        [
            created.json(),
            listed,
            shown,
            replaced.json(),
            test,
            records.json() if records.status_code == 200 else None,
        ]
    )
    audited, _ = container.audit.search(SYSTEM, action="system.register")
    assert len(audited) == 2
    assert SECRET not in everything
    assert SECRET not in json.dumps([r.as_dict() for r in audited], ensure_ascii=False)
    assert SECRET not in caplog.text
    assert client.delete("/api/v1/systems/ERP", headers=auth).status_code == 204
    assert client.get("/api/v1/systems/ERP", headers=auth).status_code == 404
    assert client.delete("/api/v1/systems/ERP", headers=auth).status_code == 404
    (deleted,) = container.audit.search(SYSTEM, action="system.delete")[0]
    assert SECRET not in json.dumps(deleted.as_dict(), ensure_ascii=False)


def test_a_failed_connection_is_an_answer_without_the_secret(
    container: Container, client: TestClient, odoo: JsonRpcServer
) -> None:
    auth = token(container, Role.IT_INTEGRATOR)
    wrong = erp(f"{odoo.url}/jsonrpc")
    wrong["credentials"] = {"password": "wrong-" + SECRET}
    client.post("/api/v1/systems", json=wrong, headers=auth)
    result = client.post("/api/v1/systems/ERP/test", headers=auth).json()
    assert result["ok"] is False
    assert "refused" in result["detail"]
    assert SECRET not in json.dumps(result)


def test_the_url_with_a_password_is_scrubbed_from_the_answer(
    container: Container, client: TestClient
) -> None:
    auth = token(container, Role.IT_INTEGRATOR)
    body = {
        "name": "FIC",
        "kind": "finance",
        "settings": {"connector": "sql"},
        "credentials": {"url": f"postgresql://fic:{SECRET}@127.0.0.1:1/fic"},
    }
    assert client.post("/api/v1/systems", json=body, headers=auth).status_code == 201
    result = client.post("/api/v1/systems/FIC/test", headers=auth).json()
    assert result["ok"] is False
    assert SECRET not in json.dumps(result)


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"password": "x"}, "settings.password"),
        ({"client_secret": "x"}, "settings.client_secret"),
        ({"url": "postgresql://u:pw@db/x"}, "settings.url"),
    ],
)
def test_secrets_in_the_settings_are_refused(
    container: Container, client: TestClient, values: dict[str, str], field: str
) -> None:
    auth = token(container, Role.IT_INTEGRATOR)
    answer = client.post(
        "/api/v1/systems", json={"name": "X", "kind": "other", "settings": values}, headers=auth
    )
    assert answer.status_code in (400, 422)
    assert field in answer.text
    assert "credentials" in answer.json()["detail"]


def test_permissions(container: Container, client: TestClient) -> None:
    viewer = token(container, Role.VIEWER)
    auditor = token(container, Role.AUDITOR)
    integrator = token(container, Role.IT_INTEGRATOR)
    body = {"name": "CRM", "kind": "CRM", "settings": {"connector": "http", "url": "http://127.0.0.1:1"}}
    assert client.post("/api/v1/systems", json=body, headers=viewer).status_code == 403
    assert client.post("/api/v1/systems", json=body, headers=integrator).status_code == 201
    assert client.get("/api/v1/systems", headers=viewer).status_code == 403
    assert client.get("/api/v1/systems", headers=auditor).status_code == 200
    assert client.post("/api/v1/systems/CRM/test", headers=auditor).status_code == 403
    assert client.delete("/api/v1/systems/CRM", headers=auditor).status_code == 403
    assert client.get("/api/v1/systems").status_code == 401


def test_unknown_connector_and_missing_kind(container: Container, client: TestClient) -> None:
    auth = token(container, Role.IT_INTEGRATOR)
    client.post("/api/v1/systems", json={"name": "OA", "kind": "OA", "settings": {}}, headers=auth)
    answer = client.post("/api/v1/systems/OA/test", headers=auth)
    assert answer.status_code in (400, 422)
    assert "settings.connector" in answer.text
    client.put("/api/v1/systems/OA", json={"kind": "OA", "settings": {"connector": "ftp"}}, headers=auth)
    result = client.post("/api/v1/systems/OA/test", headers=auth).json()
    assert result["ok"] is False
    assert "unknown connector" in result["detail"]
    assert client.put("/api/v1/systems/HR", json={"kind": "HR"}, headers=auth).status_code == 404
    assert (
        client.post("/api/v1/systems", json={"name": "Y", "kind": "mainframe"}, headers=auth).status_code
        == 422
    )
