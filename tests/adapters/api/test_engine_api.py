"""``/api/v1/instances`` and ``/api/v1/tasks`` through a real client on the demo process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from isthmus.adapters.api.app import create_app
from isthmus.bootstrap import Container
from isthmus.demo import deploy_demo_decisions, deploy_demo_processes
from isthmus.security import SYSTEM, Role
from isthmus.testing import FakeClock


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    deploy_demo_decisions(SYSTEM, container.decisions)
    deploy_demo_processes(SYSTEM, container.models)
    with TestClient(create_app(container), base_url="http://127.0.0.1") as test_client:
        yield test_client


def _token(container: Container, name: str, role: Role) -> dict[str, str]:
    container.accounts.add_user(SYSTEM, name, "long enough pw", {role})
    return {"Authorization": f"Bearer {container.accounts.issue_token(SYSTEM, name, 'test')}"}


def test_order_through_the_inbox(client: TestClient, container: Container, tmp_path: Path) -> None:
    rep = _token(container, "rep", Role.USER_REPRESENTATIVE)
    owner = _token(container, "owner", Role.PROCESS_OWNER)
    boss = _token(container, "boss", Role.APPROVER)
    started = client.post(
        "/api/v1/instances",
        json={"process_key": "SAL-ORD-001", "business_key": "SO-7", "variables": {}},
        headers=owner,
    )
    assert started.status_code == 201, started.text
    instance_id = started.json()["id"]
    (task,) = client.get("/api/v1/tasks", headers=rep).json()
    assert task["activity_id"] == "enter_order"
    assert task["due"] is not None
    assert task["overdue"] is False
    assert (
        client.post(f"/api/v1/tasks/{task['id']}/claim", headers=boss).status_code == 403
    )  # not a candidate
    assert client.post(f"/api/v1/tasks/{task['id']}/claim", headers=rep).json()["assignee"] == "rep"
    assert client.get("/api/v1/tasks?mine=true", headers=rep).json()[0]["id"] == task["id"]
    noted = client.post(f"/api/v1/tasks/{task['id']}/comments", json={"text": "customer called"}, headers=rep)
    assert noted.json()["comments"][0]["text"] == "customer called"
    attached = client.post(
        f"/api/v1/tasks/{task['id']}/attachments",
        files={"file": ("po.txt", b"PO 42", "text/plain")},
        headers=rep,
    )
    assert attached.status_code == 201
    assert attached.json()["attachments"][0]["name"] == "po.txt"
    bad = client.post(
        f"/api/v1/tasks/{task['id']}/complete", json={"variables": {"amount": "lots"}}, headers=rep
    )
    assert bad.status_code == 422
    assert "amount" in bad.text
    done = client.post(
        f"/api/v1/tasks/{task['id']}/complete",
        json={"variables": {"customer": "ACME", "amount": 60000, "quantity": 2}},
        headers=rep,
    )
    assert done.status_code == 200, done.text
    container.job_runner().run_until_idle()
    (approval,) = client.get("/api/v1/tasks", headers=boss).json()
    assert approval["activity_id"] == "director_approval"
    assert approval["candidate_groups"] == ["approver"]
    # four-eyes: the owner started the request and may not approve it even as admin of the task
    assert (
        client.post(
            f"/api/v1/tasks/{approval['id']}/complete", json={"variables": {"approved": True}}, headers=owner
        ).status_code
        == 403
    )
    assert (
        client.post(
            f"/api/v1/tasks/{approval['id']}/complete", json={"variables": {"approved": True}}, headers=boss
        ).status_code
        == 200
    )
    container.job_runner().run_until_idle()
    shown = client.get(f"/api/v1/instances/{instance_id}", headers=owner).json()
    assert shown["state"] == "completed"
    assert "manager_approval" not in shown["completed_activities"]
    assert {h["case_id"] for h in shown["history"]} == {"SO-7"}
    assert [h["resource"] for h in shown["history"] if h["node_id"] == "director_approval"] == [
        "system",
        "boss",
    ]


ENGINE_DATA = Path(__file__).parents[2] / "engine" / "data"


def test_publish_a_message_by_correlation_key(client: TestClient, container: Container) -> None:
    for name in ("correlation.bpmn", "message_start.bpmn"):
        container.models.deploy(SYSTEM, (ENGINE_DATA / name).read_bytes(), name)
    owner = _token(container, "owner", Role.PROCESS_OWNER)
    viewer = _token(container, "viewer", Role.VIEWER)
    started = client.post(
        "/api/v1/instances",
        json={"process_key": "correlation", "variables": {"order_id": "SO-3"}},
        headers=owner,
    ).json()["id"]
    body = {"name": "shipped", "correlation_key": "SO-3", "variables": {"carrier": "SF"}, "message_id": "m-1"}
    published = client.post("/api/v1/messages", json=body, headers=owner)
    assert published.status_code == 200, published.text
    assert published.json() == {"correlated": [started], "started": [], "duplicate": False}
    again = client.post("/api/v1/messages", json=body, headers=owner).json()
    assert again == {"correlated": [started], "started": [], "duplicate": True}
    shown = client.get(f"/api/v1/instances/{started}", headers=owner).json()
    assert shown["completed_activities"] == ["start", "ship"]
    assert shown["variables"]["carrier"] == "SF"
    # a message start event starts an instance whose business key is the correlation key
    placed = client.post(
        "/api/v1/messages", json={"name": "order placed", "correlation_key": 77}, headers=owner
    ).json()
    (new_id,) = placed["started"]
    assert client.get(f"/api/v1/instances/{new_id}", headers=owner).json()["business_key"] == "77"
    assert client.post("/api/v1/messages", json={"name": ""}, headers=owner).status_code == 422
    assert client.post("/api/v1/messages", json={"name": "shipped"}, headers=viewer).status_code == 403


def test_escalation_notices_through_the_api(
    client: TestClient, container: Container, clock: FakeClock
) -> None:
    owner = _token(container, "owner", Role.PROCESS_OWNER)
    boss = _token(container, "boss", Role.APPROVER)
    container.models.deploy(SYSTEM, (ENGINE_DATA / "escalation.bpmn").read_bytes(), "escalation.bpmn")
    escalating = (
        (ENGINE_DATA / "escalation.bpmn")
        .read_bytes()
        .replace(b"notify:user:boss", b"notify:group:process_owner")
    )
    container.models.deploy(SYSTEM, escalating, "escalation.bpmn")
    started = container.engine.start(SYSTEM, "escalation", {}, business_key="SO-8")
    clock.advance(minutes=11)
    container.job_runner("w").run_until_idle()
    (note,) = client.get("/api/v1/notifications", headers=owner).json()
    assert note["instance_id"] == started.id
    assert note["recipient"] == "process_owner"
    assert "SO-8" in note["text"]
    assert client.get("/api/v1/notifications", headers=boss).json() == []
    assert client.post(f"/api/v1/notifications/{note['id']}/dismiss", headers=boss).status_code == 404
    assert client.post(f"/api/v1/notifications/{note['id']}/dismiss", headers=owner).status_code == 204
    assert client.get("/api/v1/notifications", headers=owner).json() == []
