"""``/api/v1/logs`` through a real client on both databases: upload, list, analyses, conformance,
as-is BPMN, catalog link and pain points, permissions and problem+json errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from isthmus.adapters.api.app import create_app
from isthmus.bootstrap import Container
from isthmus.catalog import Process, ProcessId
from isthmus.security import SYSTEM, Role

CSV = (
    "case,activity,timestamp,lifecycle,resource,system,customer\n"
    "1,Enter order,2024-01-01T08:00:00Z,start,ann,CRM,ACME\n"
    "1,Enter order,2024-01-01T08:10:00Z,complete,ann,CRM,ACME\n"
    "1,Enter order,2024-01-01T09:00:00Z,start,bob,ERP,ACME\n"
    "1,Enter order,2024-01-01T10:00:00Z,complete,bob,ERP,ACME\n"
    "1,Ship,2024-01-02T10:00:00Z,complete,cat,ERP,ACME\n"
    "2,Enter order,2024-01-02T08:00:00Z,start,ann,CRM,BETA\n"
    "2,Enter order,2024-01-02T09:00:00Z,complete,ann,CRM,BETA\n"
)


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container), base_url="http://127.0.0.1") as test_client:
        yield test_client


def _token(container: Container, name: str, role: Role) -> dict[str, str]:
    container.accounts.add_user(SYSTEM, name, "long enough pw", {role})
    return {"Authorization": f"Bearer {container.accounts.issue_token(SYSTEM, name, 'test')}"}


def test_upload_analyse_export_link_and_accept(client: TestClient, container: Container) -> None:
    owner = _token(container, "owner", Role.PROCESS_OWNER)
    created = client.post("/api/v1/logs", files={"file": ("orders.csv", CSV, "text/csv")}, headers=owner)
    assert created.status_code == 201, created.text
    log_id = created.json()["id"]
    assert created.json()["statistics"]["cases"] == 2
    listed = client.get("/api/v1/logs", headers=owner).json()
    assert [item["id"] for item in listed["items"]] == [log_id]
    assert client.get(f"/api/v1/logs/{log_id}/dfg", headers=owner).json()["end"] == {
        "Ship": 1,
        "Enter order": 1,
    }
    variants = client.get(f"/api/v1/logs/{log_id}/variants", headers=owner).json()["variants"]
    assert variants[0]["count"] == 1
    for analysis in ("performance", "durations", "throughput", "waiting", "bottlenecks", "rework", "handover",
                     "duplicates", "statistics"):  # fmt: skip
        assert client.get(f"/api/v1/logs/{log_id}/{analysis}", headers=owner).status_code == 200, analysis
    edge = client.get(
        f"/api/v1/logs/{log_id}/edges", params={"source": "Enter order", "target": "Ship"}, headers=owner
    )
    assert edge.json()["case_ids"] == ["1"]
    bpmn = client.get(f"/api/v1/logs/{log_id}/bpmn", params={"coverage": 1}, headers=owner)
    assert bpmn.status_code == 200
    assert b"bpmndi:BPMNDiagram" in bpmn.content
    replay = client.post(f"/api/v1/logs/{log_id}/conformance", content=bpmn.content,
                         headers=owner | {"content-type": "application/xml"})  # fmt: skip
    assert replay.status_code == 200
    assert replay.json()["cases_total"] == 2
    sla = client.post(f"/api/v1/logs/{log_id}/sla", json={"slas": {"Enter order": "PT30M"}}, headers=owner)
    assert sla.json()["activities"][0]["breaches"] == 2
    container.catalog.create(SYSTEM, Process(id=ProcessId("SAL-ORD-001"), name="销售订单处理流程"))
    linked = client.post(f"/api/v1/logs/{log_id}/link", json={"process_id": "SAL-ORD-001"}, headers=owner)
    assert linked.status_code == 200, linked.text
    assert linked.json()["key_nodes"] == 2
    found = client.post(
        f"/api/v1/logs/{log_id}/proposals", json={"slas": {"Enter order": "PT30M"}}, headers=owner
    )
    texts = [p["text"] for p in found.json()["proposals"]]
    assert any("CRM and ERP" in t for t in texts)
    accepted = client.post(f"/api/v1/logs/{log_id}/proposals/accept",
                           json={"process_id": "SAL-ORD-001", "pain_points": [texts[0]]}, headers=owner)  # fmt: skip
    assert accepted.json()["pain_points"] == [texts[0]]


def test_permissions_and_errors(client: TestClient, container: Container) -> None:
    viewer = _token(container, "viewer", Role.VIEWER)
    denied = client.post("/api/v1/logs", files={"file": ("orders.csv", CSV, "text/csv")}, headers=viewer)
    assert denied.status_code == 403
    expert = _token(container, "expert", Role.BUSINESS_EXPERT)
    assert client.get("/api/v1/logs/nope", headers=expert).status_code == 404
    integrator = _token(container, "it", Role.IT_INTEGRATOR)
    bad = client.post("/api/v1/logs", files={"file": ("bad.csv", "case,activity,timestamp\n1,a,x\n", "text/csv")},
                      headers=integrator)  # fmt: skip
    assert bad.status_code in (400, 422)
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert "line 2" in bad.json()["detail"]
    assert client.get("/api/v1/logs", headers=integrator).json()["total"] == 0


SEQUENCE = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="urn:t">
  <bpmn:process id="orders" name="Orders" isExecutable="true">
    <bpmn:startEvent id="s"/>
    <bpmn:userTask id="enter" name="Enter order"/>
    <bpmn:userTask id="ship" name="Ship"/>
    <bpmn:endEvent id="e"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="enter"/>
    <bpmn:sequenceFlow id="f2" sourceRef="enter" targetRef="ship"/>
    <bpmn:sequenceFlow id="f3" sourceRef="ship" targetRef="e"/>
  </bpmn:process>
</bpmn:definitions>
"""


def test_conformance_against_a_deployed_model(client: TestClient, container: Container) -> None:
    owner = _token(container, "owner", Role.PROCESS_OWNER)
    container.models.deploy(SYSTEM, SEQUENCE, "orders.bpmn")
    created = client.post("/api/v1/logs", files={"file": ("orders.csv", CSV, "text/csv")}, headers=owner)
    log_id = created.json()["id"]
    replay = client.post(f"/api/v1/logs/{log_id}/conformance", params={"model": "orders"}, headers=owner)
    assert replay.status_code == 200, replay.text
    cases = {c["case_id"]: c for c in replay.json()["cases"]}
    assert cases["1"]["fit"] is False  # "Enter order" twice: a token is missing the second time
    assert replay.json()["deviating_cases"] == ["1", "2"]  # case 2 never ships
    missing = client.post(f"/api/v1/logs/{log_id}/conformance", params={"model": "nope"}, headers=owner)
    assert missing.status_code == 404


def test_analyses_of_a_selection(client: TestClient, container: Container) -> None:
    owner = _token(container, "owner", Role.PROCESS_OWNER)
    log_id = client.post(
        "/api/v1/logs", files={"file": ("orders.csv", CSV, "text/csv")}, headers=owner
    ).json()["id"]
    url = f"/api/v1/logs/{log_id}/statistics"
    assert client.get(url, headers=owner).json()["cases"] == 2
    shipped = client.get(url, params={"attribute": "activity", "values": ["Ship"]}, headers=owner)
    assert shipped.json()["cases"] == 1
    second_day = client.get(
        url, params={"from": "2024-01-02T00:00:00", "time_mode": "intersecting"}, headers=owner
    )
    assert second_day.json()["cases"] == 2
    contained = client.get(url, params={"from": "2024-01-02T00:00:00"}, headers=owner)
    assert contained.json()["cases"] == 1
    short = client.get(url, params={"max_duration_s": 3600}, headers=owner)
    assert short.json()["cases"] == 1
    top = client.get(f"/api/v1/logs/{log_id}/variants", params={"top_variants": 1}, headers=owner)
    assert len(top.json()["variants"]) == 1
    bad = client.get(url, params={"attribute": "nope", "values": ["x"]}, headers=owner)
    assert bad.status_code in (400, 422)


def test_slas_from_the_deployed_model(client: TestClient, container: Container) -> None:
    owner = _token(container, "owner", Role.PROCESS_OWNER)
    with_sla = SEQUENCE.replace(
        b'id="d" targetNamespace', b'xmlns:isthmus="https://isthmus.dev/schema/bpmn" id="d" targetNamespace'
    ).replace(b'name="Enter order"/>', b'name="Enter order" isthmus:sla="PT30M"/>')
    container.models.deploy(SYSTEM, with_sla, "orders.bpmn")
    log_id = client.post(
        "/api/v1/logs", files={"file": ("orders.csv", CSV, "text/csv")}, headers=owner
    ).json()["id"]
    found = client.post(f"/api/v1/logs/{log_id}/sla", params={"model": "orders"}, json={}, headers=owner)
    assert found.status_code == 200, found.text
    (row,) = found.json()["activities"]
    assert (row["activity"], row["sla_s"], row["breaches"]) == ("Enter order", 1800.0, 2)
    overridden = client.post(
        f"/api/v1/logs/{log_id}/sla",
        params={"model": "orders"},
        json={"slas": {"Enter order": "PT2H"}},
        headers=owner,
    )
    assert overridden.json()["activities"][0]["breaches"] == 0
    proposals = client.post(
        f"/api/v1/logs/{log_id}/proposals", params={"model": "orders"}, json={}, headers=owner
    )
    assert "sla" in {p["kind"] for p in proposals.json()["proposals"]}


def test_the_heat_map_of_a_deployed_model(client: TestClient, container: Container) -> None:
    owner = _token(container, "owner", Role.PROCESS_OWNER)
    container.models.deploy(SYSTEM, SEQUENCE, "orders.bpmn")
    log_id = client.post(
        "/api/v1/logs", files={"file": ("orders.csv", CSV, "text/csv")}, headers=owner
    ).json()["id"]
    found = client.get(f"/api/v1/logs/{log_id}/heatmap", params={"model": "orders"}, headers=owner)
    assert found.status_code == 200, found.text
    body = found.json()
    assert body["model"] == {"key": "orders", "version": 1, "name": "Orders"}
    assert body["xml"].startswith("<?xml")
    nodes = {n["id"]: n for n in body["nodes"]}
    assert {k for k, n in nodes.items() if n["activity"]} == {"enter", "ship"}
    assert nodes["enter"]["instances"] == 3
    assert nodes["ship"]["level"] == 5  # Ship waited a day; Enter order at most 50 minutes
    assert (body["metric"], body["matched"]) == ("mean", 2)
    p90 = client.get(
        f"/api/v1/logs/{log_id}/heatmap", params={"model": "orders", "metric": "p90"}, headers=owner
    )
    assert p90.json()["metric"] == "p90"
    unknown = client.get(f"/api/v1/logs/{log_id}/heatmap", params={"model": "nope"}, headers=owner)
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/problem+json")
    bad = client.get(
        f"/api/v1/logs/{log_id}/heatmap", params={"model": "orders", "metric": "max"}, headers=owner
    )
    assert bad.status_code == 422
    viewer = _token(container, "someone", Role.VIEWER)  # may read models, not logs
    denied = client.get(f"/api/v1/logs/{log_id}/heatmap", params={"model": "orders"}, headers=viewer)
    assert denied.status_code == 403


def test_a_linked_log_checks_the_catalog_slas(client: TestClient, container: Container) -> None:
    owner = _token(container, "owner", Role.PROCESS_OWNER)
    container.catalog.create(SYSTEM, Process(id=ProcessId("SAL-ORD-001"), name="销售订单处理流程"))
    put = client.put(
        "/api/v1/processes/SAL-ORD-001/slas",
        json={"slas": [{"node": "Enter order", "duration": "PT30M"}]},
        headers=owner,
    )
    assert put.status_code == 200, put.text
    log_id = client.post(
        "/api/v1/logs", files={"file": ("orders.csv", CSV, "text/csv")}, headers=owner
    ).json()["id"]
    assert client.post(f"/api/v1/logs/{log_id}/sla", json={}, headers=owner).json()["activities"] == []
    client.post(f"/api/v1/logs/{log_id}/link", json={"process_id": "SAL-ORD-001"}, headers=owner)
    found = client.post(f"/api/v1/logs/{log_id}/sla", json={}, headers=owner).json()
    assert found["process_id"] == "SAL-ORD-001"
    (row,) = found["activities"]
    assert (row["activity"], row["breaches"], row["source"], row["duration"]) == (
        "Enter order",
        2,
        "catalog",
        "PT30M",
    )
    given = client.post(f"/api/v1/logs/{log_id}/sla", json={"slas": {"Enter order": "PT2H"}}, headers=owner)
    assert given.json()["activities"][0]["source"] == "given"
