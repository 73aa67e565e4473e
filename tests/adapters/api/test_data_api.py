"""``/api/v1/data``: profile, clean and dedupe an uploaded table through a real client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
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


def test_review_decisions_are_stored_and_applied(client: TestClient, container: Container) -> None:
    it = _token(container, "it", Role.IT_INTEGRATOR)
    files = {"file": ("customers.csv", CSV, "text/csv")}
    found = client.post("/api/v1/data/dedupe", files=files, headers=it).json()
    assert (found["dataset"], found["clusters"]) == ("customers.csv", [[0, 2]])
    records = found["record_ids"][0]
    decided = client.post(
        "/api/v1/data/reviews/customers.csv", json={"records": records, "decision": "apart"}, headers=it
    )
    assert decided.status_code == 201, decided.text
    assert client.post("/api/v1/data/dedupe", files=files, headers=it).json()["clusters"] == []
    stored = client.get("/api/v1/data/reviews/customers.csv", headers=it).json()
    assert [(d["decision"], d["decided_by"]) for d in stored] == [("apart", "it")]
    # another dataset name: no decisions there
    other = client.post("/api/v1/data/dedupe?dataset=crm-2024", files=files, headers=it).json()
    assert other["clusters"] == [[0, 2]]
    forgot = client.request(
        "DELETE", "/api/v1/data/reviews/customers.csv", json={"records": records}, headers=it
    )
    assert forgot.json()["removed"] == 1
    assert client.post("/api/v1/data/dedupe", files=files, headers=it).json()["clusters"] == [[0, 2]]


def test_review_errors_are_problems(client: TestClient, container: Container) -> None:
    it = _token(container, "it", Role.IT_INTEGRATOR)
    bad = client.post(
        "/api/v1/data/reviews/x.csv", json={"records": ["a", "b"], "decision": "join"}, headers=it
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert "merge or apart" in bad.json()["detail"]
    auditor = _token(container, "auditor", Role.AUDITOR)
    denied = client.post(
        "/api/v1/data/reviews/x.csv", json={"records": ["a", "b"], "decision": "merge"}, headers=auditor
    )
    assert denied.status_code == 403


def _migration(tmp_path: Path, rows: int = 300) -> tuple[str, str]:
    """A CSV source and a SQLite target; the plan text."""
    source = tmp_path / "crm.csv"
    source.write_text("code,name\n" + "".join(f"C{i:04d},客户{i}\n" for i in range(rows)), encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'erp.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE kna1 (kunnr TEXT PRIMARY KEY, name1 TEXT)"))
        conn.execute(sa.text("CREATE TABLE nokey (id TEXT PRIMARY KEY, name1 TEXT)"))
    engine.dispose()
    plan = f"source: {source}\ntarget: {url}#kna1\nkey: kunnr\nbatch_size: 50\nmapping:\n  kunnr: code\n  name1: name\n"
    return url, plan


def _finish(
    client: TestClient, container: Container, started: Any, headers: dict[str, str]
) -> dict[str, Any]:
    assert started.status_code == 202, started.text
    container.job_runner().run_until_idle()
    job = client.get(started.headers["Location"], headers=headers)
    assert job.status_code == 200
    body: dict[str, Any] = job.json()
    return body


def test_migration_plan_run_verify_rollback_as_jobs(
    client: TestClient, container: Container, tmp_path: Path
) -> None:
    it = _token(container, "it", Role.IT_INTEGRATOR)
    _, plan = _migration(tmp_path)
    saved = client.put("/api/v1/data/migrations/crm", content=plan.encode(), headers=it)
    assert saved.status_code == 200, saved.text
    assert [p["name"] for p in client.get("/api/v1/data/migrations", headers=it).json()] == ["crm"]
    dry = _finish(client, container, client.post("/api/v1/data/migrations/crm/plan", headers=it), it)
    assert (dry["state"], dry["result"]["inserted"]) == ("done", 300)
    ran = _finish(client, container, client.post("/api/v1/data/migrations/crm/run", headers=it), it)
    assert (ran["state"], ran["done"], ran["total"], ran["result"]["batches"]) == ("done", 300, 300, 6)
    checked = _finish(client, container, client.post("/api/v1/data/migrations/crm/verify", headers=it), it)
    assert checked["result"]["ok"] is True
    runs = client.get("/api/v1/data/migrations/crm", headers=it).json()["runs"]
    assert [r["status"] for r in runs] == ["done"]
    undone = _finish(
        client,
        container,
        client.post("/api/v1/data/migrations/crm/rollback", json={"run": runs[0]["run_id"]}, headers=it),
        it,
    )
    assert undone["result"] == {"run_id": runs[0]["run_id"], "status": "rolled_back", "undone": 300}
    again = _finish(
        client,
        container,
        client.post("/api/v1/data/migrations/crm/rollback", json={"run": runs[0]["run_id"]}, headers=it),
        it,
    )
    assert again["state"] == "failed"
    assert "already rolled back" in again["error"]
    actions = {r.event.action for r in container.audit.search(SYSTEM, object_type="migration_plan")[0]}
    assert actions == {"migration.plan.save", "migration.run", "migration.rollback"}
    viewer = _token(container, "auditor", Role.AUDITOR)
    assert client.post("/api/v1/data/migrations/crm/run", headers=viewer).status_code == 403
    assert client.post("/api/v1/data/migrations/crm/verify", headers=viewer).status_code == 202


def _problem(response: Any, status: int, text: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert text in response.json()["detail"]


def test_bad_migration_input_is_refused_before_anything_is_queued(
    client: TestClient, container: Container, tmp_path: Path
) -> None:
    it = _token(container, "it", Role.IT_INTEGRATOR)
    url, plan = _migration(tmp_path)
    missing = plan.replace("name1: name", "name1: nom")
    client.put("/api/v1/data/migrations/missing", content=missing.encode(), headers=it)
    _problem(
        client.post("/api/v1/data/migrations/missing/run", headers=it),
        422,
        "line 7, field 'mapping.name1': the source has no column 'nom'",
    )
    client.put("/api/v1/data/migrations/nokey", content=plan.replace("#kna1", "#nokey").encode(), headers=it)
    _problem(
        client.post("/api/v1/data/migrations/nokey/run", headers=it),
        422,
        "field 'key': the target has no key column 'kunnr'",
    )
    (tmp_path / "crm.csv").write_bytes(b"code,name\nC1,\xff\xfe\xfa\n")
    client.put("/api/v1/data/migrations/crm", content=plan.encode(), headers=it)
    _problem(client.post("/api/v1/data/migrations/crm/run", headers=it), 422, "unreadable encoding")
    _problem(client.put("/api/v1/data/migrations/bad", content=b"source: [", headers=it), 422, "line")
    _problem(client.post("/api/v1/data/migrations/crm/explode", headers=it), 422, "action")
    assert sum(container.jobs.counts(SYSTEM).values()) == 0
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM kna1")).scalar() == 0
    engine.dispose()


def test_a_schema_change_mid_migration_is_a_conflict(
    client: TestClient, container: Container, tmp_path: Path
) -> None:
    from isthmus.adapters.tabular import migrate
    from isthmus.quality import parse_plan

    it = _token(container, "it", Role.IT_INTEGRATOR)
    url, plan = _migration(tmp_path)
    client.put("/api/v1/data/migrations/crm", content=plan.encode(), headers=it)

    class Crash(Exception):
        pass

    def crash(batch: int) -> None:
        if batch == 3:
            raise Crash

    with pytest.raises(Crash):
        migrate.run(parse_plan(plan), before_commit=crash)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE kna1 ADD COLUMN land1 TEXT"))
        before = conn.execute(sa.text("SELECT count(*) FROM kna1")).scalar()
    _problem(
        client.post("/api/v1/data/migrations/crm/run", headers=it), 409, "the target schema changed since run"
    )
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM kna1")).scalar() == before == 100
    engine.dispose()
