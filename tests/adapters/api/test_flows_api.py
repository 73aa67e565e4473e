"""``/api/v1/flows`` and ``/api/v1/dead-letters`` through a real client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from isthmus.adapters.api.app import create_app
from isthmus.bootstrap import Container
from isthmus.integration import EXAMPLE
from isthmus.security import SYSTEM, Role


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container), base_url="http://127.0.0.1") as test_client:
        yield test_client


def _token(container: Container, role: Role) -> dict[str, str]:
    container.accounts.add_user(SYSTEM, f"u-{role.value}", "long enough pw", {role})
    return {"Authorization": f"Bearer {container.accounts.issue_token(SYSTEM, f'u-{role.value}', 'test')}"}


def test_table2_metrics_and_dead_letters(container: Container, client: TestClient) -> None:
    container.flows.deploy(SYSTEM, EXAMPLE)
    container.flows.accept(
        SYSTEM, "crm-erp-orders", [{"order_id": None, "cust_code": "C1", "phone": "13812345678"}]
    )
    auth = _token(container, Role.IT_INTEGRATOR)
    (row,) = client.get("/api/v1/flows", headers=auth).json()
    assert (row["系统A"], row["方向"], row["测试状态"]) == ("CRM", "CRM→ERP", "未开始")
    shown = client.get("/api/v1/flows/crm-erp-orders", headers=auth).json()
    assert shown["metrics"]["failures"] == 1
    (dead,) = client.get("/api/v1/dead-letters", headers=auth).json()
    assert dead["payload"]["phone"] == "138****5678"
    viewer = _token(container, Role.VIEWER)
    assert (
        client.post(
            "/api/v1/dead-letters/discard", json={"ids": [dead["id"]], "reason": "x"}, headers=viewer
        ).status_code
        == 403
    )
    answer = client.post(
        "/api/v1/dead-letters/discard", json={"ids": [dead["id"]], "reason": "test data"}, headers=auth
    )
    assert answer.json() == {"discarded": 1}
    assert client.get("/api/v1/dead-letters", headers=auth).json() == []
