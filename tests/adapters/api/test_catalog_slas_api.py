"""``/api/v1/processes/{id}/slas`` on both databases: read, replace, validation as problem+json
naming the entry, permissions, unknown process; the Excel export carries the SLA sheet."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from isthmus.adapters.api.app import create_app
from isthmus.bootstrap import Container
from isthmus.catalog import Process, ProcessId
from isthmus.security import SYSTEM, Role


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container), base_url="http://127.0.0.1") as test_client:
        yield test_client


def _token(container: Container, name: str, role: Role) -> dict[str, str]:
    container.accounts.add_user(SYSTEM, name, "long enough pw", {role})
    return {"Authorization": f"Bearer {container.accounts.issue_token(SYSTEM, name, 'test')}"}


def test_read_replace_and_export(client: TestClient, container: Container) -> None:
    container.catalog.create(SYSTEM, Process(id=ProcessId("SAL-ORD-001"), name="销售订单处理流程"))
    owner = _token(container, "owner", Role.PROCESS_OWNER)
    url = "/api/v1/processes/SAL-ORD-001/slas"
    assert client.get(url, headers=owner).json() == {"process_id": "SAL-ORD-001", "slas": []}
    put = client.put(
        url,
        json={"slas": [{"node": "审核订单", "duration": "pt4h"}, {"node": "发货", "duration": "P2D"}]},
        headers=owner,
    )
    assert put.status_code == 200, put.text
    expected = [
        {"node": "审核订单", "duration": "PT4H", "seconds": 14400.0},
        {"node": "发货", "duration": "P2D", "seconds": 172800.0},
    ]
    assert put.json()["slas"] == expected
    assert client.get(url, headers=owner).json()["slas"] == expected
    exported = client.get("/api/v1/processes/export", headers=owner)
    sheet = load_workbook(io.BytesIO(exported.content))["关键节点SLA"]
    assert [c.value for c in sheet[3]] == ["SAL-ORD-001", "发货", "P2D"]
    assert client.put(url, json={"slas": []}, headers=owner).json()["slas"] == []


def test_bad_lists_permissions_and_unknown_processes(client: TestClient, container: Container) -> None:
    container.catalog.create(SYSTEM, Process(id=ProcessId("SAL-ORD-001"), name="销售订单处理流程"))
    owner = _token(container, "owner", Role.PROCESS_OWNER)
    url = "/api/v1/processes/SAL-ORD-001/slas"
    bad = client.put(url, json={"slas": [{"node": "审核订单", "duration": "P1M"}]}, headers=owner)
    assert bad.status_code in (400, 422)
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert "slas[0].duration" in bad.text
    twice = client.put(
        url,
        json={"slas": [{"node": "a", "duration": "PT1H"}, {"node": "a", "duration": "PT2H"}]},
        headers=owner,
    )
    assert twice.status_code in (400, 422)
    viewer = _token(container, "viewer", Role.VIEWER)
    assert client.get(url, headers=viewer).status_code == 200
    denied = client.put(url, json={"slas": []}, headers=viewer)
    assert denied.status_code == 403
    missing = client.put("/api/v1/processes/NOPE-1/slas", json={"slas": []}, headers=owner)
    assert missing.status_code == 404
    assert client.get("/api/v1/processes/NOPE-1/slas", headers=owner).status_code == 404
