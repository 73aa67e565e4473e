"""``/api/v1/data``: profile, clean and dedupe an uploaded table through a real client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from isthmus.adapters.api.app import create_app
from isthmus.bootstrap import Container
from isthmus.security import SYSTEM, Role

CSV = (
    "客户名称,手机,城市\n"
    "华通科技有限公司,138 0013 8000,上海市\n"
    "远大贸易,139-1111-2222,北京\n"
    "华通科技有限责任公司,+86 13800138000,上海\n"
).encode("gb18030")


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container), base_url="http://127.0.0.1") as test_client:
        yield test_client


def _token(container: Container, name: str, role: Role) -> dict[str, str]:
    container.accounts.add_user(SYSTEM, name, "long enough pw", {role})
    return {"Authorization": f"Bearer {container.accounts.issue_token(SYSTEM, name, 'test')}"}


def test_profile_clean_dedupe(client: TestClient, container: Container) -> None:
    it = _token(container, "it", Role.IT_INTEGRATOR)
    files = {"file": ("customers.csv", CSV, "text/csv")}
    profile = client.post("/api/v1/data/profile", files=files, headers=it)
    assert profile.status_code == 200, profile.text
    assert profile.json()["columns"][1]["patterns"][0] == {"pattern": "999 9999 9999", "count": 1}
    rules = "rules:\n  - {type: phone, columns: [手机]}\n  - {type: company_suffix, columns: [客户名称]}\n"
    clean = client.post("/api/v1/data/clean", files=files, data={"rules": rules}, headers=it)
    assert clean.status_code == 200, clean.text
    assert [r["changed"] for r in clean.json()["rules"]] == [3, 1]
    assert clean.json()["preview"][2]["客户名称"] == "华通科技有限公司"
    found = client.post("/api/v1/data/dedupe", files=files, headers=it).json()
    assert found["clusters"] == [[0, 2]]
    assert found["records"][0][1]["手机"] == "+86 13800138000"


def test_permissions_and_bad_rules(client: TestClient, container: Container) -> None:
    files = {"file": ("customers.csv", CSV, "text/csv")}
    approver = _token(container, "approver", Role.APPROVER)
    assert client.post("/api/v1/data/profile", files=files, headers=approver).status_code == 403
    it = _token(container, "it", Role.IT_INTEGRATOR)
    bad = client.post(
        "/api/v1/data/clean", files=files, data={"rules": "rules:\n  - type: nope\n"}, headers=it
    )
    assert bad.status_code in (400, 422)
    assert "line 2" in bad.json()["detail"]
