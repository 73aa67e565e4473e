"""SLA sources of the mining analyses and the heat map, on SQLite and PostgreSQL: a log linked to a
catalog process checks that process's key-node SLAs; a model's ``isthmus:sla`` overrides them, SLAs
given with the request override both; every breach row says where its SLA came from."""

from __future__ import annotations

from pathlib import Path

import pytest

from isthmus.bootstrap import Container
from isthmus.catalog import NodeSla, Process, ProcessId
from isthmus.mining._heatmap import HeatMetric
from isthmus.security import SYSTEM

# Waits: Enter order 0 (first), Check 1 h / 3 h, Ship 0 / 1 h; services: 10 min, 30 min, 1 h …
CSV = (
    "case,activity,timestamp,start\n"
    "1,Enter order,2024-01-01T08:10:00Z,2024-01-01T08:00:00Z\n"
    "1,Check,2024-01-01T09:40:00Z,2024-01-01T09:10:00Z\n"
    "1,Ship,2024-01-01T10:40:00Z,2024-01-01T09:40:00Z\n"
    "2,Enter order,2024-01-02T08:10:00Z,2024-01-02T08:00:00Z\n"
    "2,Check,2024-01-02T11:40:00Z,2024-01-02T11:10:00Z\n"
    "2,Ship,2024-01-02T13:40:00Z,2024-01-02T12:40:00Z\n"
)
MODEL = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:isthmus="https://isthmus.dev/schema/bpmn" id="d" targetNamespace="urn:t">
  <bpmn:process id="orders" isExecutable="true">
    <bpmn:startEvent id="s"/>
    <bpmn:userTask id="enter" name="Enter  order"/>
    <bpmn:userTask id="Check" name="Check the order" isthmus:sla="PT2H"/>
    <bpmn:userTask id="approve" name="Approve"/>
    <bpmn:endEvent id="e"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="enter"/>
    <bpmn:sequenceFlow id="f2" sourceRef="enter" targetRef="Check"/>
    <bpmn:sequenceFlow id="f3" sourceRef="Check" targetRef="approve"/>
    <bpmn:sequenceFlow id="f4" sourceRef="approve" targetRef="e"/>
  </bpmn:process>
</bpmn:definitions>
"""


@pytest.fixture
def log_id(container: Container, tmp_path: Path) -> str:
    path = tmp_path / "orders.csv"
    path.write_text(CSV)
    return container.mining.import_file(SYSTEM, path).id


def _link(container: Container, log_id: str) -> None:
    container.catalog.create(SYSTEM, Process(id=ProcessId("SAL-ORD-001"), name="销售订单处理流程"))
    container.catalog.set_slas(SYSTEM, "SAL-ORD-001", [NodeSla("Check", "PT3H"), NodeSla("Ship", "PT1H")])
    container.mining.link(SYSTEM, log_id, "SAL-ORD-001")


def test_an_unlinked_log_has_only_the_given_slas(container: Container, log_id: str) -> None:
    assert container.mining.sla(SYSTEM, log_id) == []
    (row,) = container.mining.sla(SYSTEM, log_id, {"Check": "PT2H"})
    assert (row["activity"], row["breaches"], row["source"]) == ("Check", 1, "given")


def test_a_linked_log_uses_the_catalog_slas_then_the_model_then_the_given(
    container: Container, log_id: str
) -> None:
    _link(container, log_id)
    rows = {r["activity"]: r for r in container.mining.sla(SYSTEM, log_id)}
    # lead time = wait + service: Check 1.5 h and 3.5 h against 3 h; Ship 1 h and 2 h against 1 h
    assert {a: (r["breaches"], r["source"], r["duration"]) for a, r in rows.items()} == {
        "Check": (1, "catalog", "PT3H"),
        "Ship": (1, "catalog", "PT1H"),
    }
    rows = {r["activity"]: r for r in container.mining.sla(SYSTEM, log_id, model={"Check": "PT1H"})}
    assert (rows["Check"]["breaches"], rows["Check"]["source"]) == (2, "model")
    assert rows["Ship"]["source"] == "catalog"
    rows = {
        r["activity"]: r
        for r in container.mining.sla(SYSTEM, log_id, {"Check": "PT4H"}, model={"Check": "PT1H"})
    }
    assert (rows["Check"]["breaches"], rows["Check"]["source"]) == (0, "given")
    kinds = {p.kind for p in container.mining.proposals(SYSTEM, log_id)}
    assert "sla" in kinds  # the catalog's SLAs reach the proposed pain points too


def test_the_heat_map_matches_by_name_then_id_and_colours_by_waiting(
    container: Container, log_id: str
) -> None:
    _link(container, log_id)
    found = container.mining.heatmap(SYSTEM, log_id, MODEL, "orders.bpmn")
    nodes = {n["id"]: n for n in found["nodes"]}
    assert (nodes["enter"]["activity"], nodes["enter"]["matched_by"]) == ("Enter order", "name")
    assert (nodes["Check"]["activity"], nodes["Check"]["matched_by"]) == ("Check", "id")
    assert nodes["approve"]["activity"] is None
    assert nodes["s"]["activity"] is None
    assert found["matched"] == 2
    assert found["unmatched_activities"] == ["Ship"]
    check = nodes["Check"]
    assert (check["instances"], check["waiting_mean_s"], check["service_mean_s"]) == (2, 7200.0, 1800.0)
    assert check["waiting_p90_s"] == pytest.approx(3600 + 0.9 * 7200)
    assert (check["level"], nodes["enter"]["level"]) == (5, 1)
    # the model's own isthmus:sla (by task name) does not name an activity of the log; the catalog's does
    assert check["sla"]["source"] == "catalog"
    assert check["sla"]["breaches"] == 1
    assert nodes["enter"]["sla"] is None
    p90 = container.mining.heatmap(SYSTEM, log_id, MODEL, "orders.bpmn", metric=HeatMetric.P90)
    assert p90["max_s"] == pytest.approx(3600 + 0.9 * 7200)
    assert [s["to_s"] for s in p90["scale"]][-1] == pytest.approx(p90["max_s"])
