"""Discover › event logs: upload with a column mapping, the log page (map data, variants, waiting
chart, bottlenecks, SLA table), linking to the catalog and accepting proposed pain points."""

from __future__ import annotations

import json
import re

from isthmus.bootstrap import Container
from isthmus.catalog import NodeSla, Process, ProcessId
from isthmus.security import SYSTEM
from tests.adapters.web.web_client import TestClient, sign_in, visible_text

CSV = (
    "单号,动作,完成时间,开始时间,系统,客户\n"
    "SO-1,创建订单,2024-06-30 08:30,2024-06-30 08:00,CRM,ACME\n"
    "SO-1,录入订单,2024-06-30 10:00,2024-06-30 09:30,ERP,ACME\n"
    "SO-2,创建订单,2024-07-01 08:30,2024-07-01 08:00,CRM,BETA\n"
    "SO-2,创建订单,2024-07-01 11:00,2024-07-01 10:00,CRM,BETA\n"
)
MAPPING = {"case": "单号", "activity": "动作", "timestamp": "完成时间", "start": "开始时间", "system": "系统"}


def test_upload_and_the_log_page(client: TestClient, container: Container) -> None:
    container.catalog.create(SYSTEM, Process(id=ProcessId("SAL-ORD-001"), name="销售订单处理流程"))
    csrf = sign_in(client, "owner")
    assert 'href="/logs"' in client.get("/").text  # in the menu, under Discover
    done = client.post(
        "/logs",
        data={"csrf_token": csrf, **MAPPING},
        files={"file": ("orders.csv", CSV.encode(), "text/csv")},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    page = client.get(done.headers["location"])
    assert page.status_code == 200
    text = visible_text(page.text)
    assert "流程图" in text  # Process map
    assert "创建订单" in text
    assert "<script>" not in page.text
    data = json.loads(re.search(r'id="process-map-data">(.*?)</script>', page.text, re.S).group(1))  # type: ignore[union-attr]
    assert {n["id"] for n in data["nodes"]} == {"__start", "创建订单", "录入订单", "__end"}
    assert "/static/js/mining-map.js" in page.text
    log_id = data["log_id"]

    with_sla = client.get(f"/logs/{log_id}", params={"sla": "创建订单 = PT20M"})
    assert "SLA" in visible_text(with_sla.text)
    bad_sla = client.get(f"/logs/{log_id}", params={"sla": "创建订单 = 20 minutes"})
    assert 'aria-invalid="true"' in bad_sla.text

    linked = client.post(
        f"/logs/{log_id}/link",
        data={"csrf_token": csrf, "process_id": "SAL-ORD-001", "key_node_share": "0"},
        follow_redirects=False,
    )
    assert linked.status_code == 303
    assert container.catalog.get(SYSTEM, "SAL-ORD-001").key_nodes == 2
    accepted = client.post(
        f"/logs/{log_id}/accept",
        data={
            "csrf_token": csrf,
            "process_id": "SAL-ORD-001",
            "accept": ["0"],
            "text-0": "客户数据在 CRM 和 ERP 重复录入",
        },
        follow_redirects=False,
    )
    assert accepted.status_code == 303
    assert container.catalog.get(SYSTEM, "SAL-ORD-001").pain_points == ("客户数据在 CRM 和 ERP 重复录入",)


def test_a_bad_upload_shows_the_line_and_keeps_the_mapping(client: TestClient) -> None:
    csrf = sign_in(client, "owner")
    bad = "单号,动作,完成时间\nSO-1,创建订单,明天\n"
    page = client.post(
        "/logs",
        data={"csrf_token": csrf, "case": "单号", "activity": "动作", "timestamp": "完成时间"},
        files={"file": ("bad.csv", bad.encode(), "text/csv")},
    )
    assert page.status_code == 422
    assert "2" in visible_text(page.text)
    assert 'value="单号"' in page.text
    assert client.get("/logs").status_code == 200


MODEL = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="urn:t">
  <bpmn:process id="so" name="Sales orders" isExecutable="true">
    <bpmn:startEvent id="s"/>
    <bpmn:userTask id="create" name="创建订单"/>
    <bpmn:endEvent id="e"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="create"/>
    <bpmn:sequenceFlow id="f2" sourceRef="create" targetRef="e"/>
  </bpmn:process>
</bpmn:definitions>
""".encode()


def test_heat_map_panel_and_catalog_slas_on_the_log_page(client: TestClient, container: Container) -> None:
    container.catalog.create(SYSTEM, Process(id=ProcessId("SAL-ORD-001"), name="销售订单处理流程"))
    container.catalog.set_slas(SYSTEM, "SAL-ORD-001", [NodeSla("创建订单", "PT20M")])
    csrf = sign_in(client, "owner")
    done = client.post(
        "/logs",
        data={"csrf_token": csrf, **MAPPING},
        files={"file": ("orders.csv", CSV.encode(), "text/csv")},
        follow_redirects=False,
    )
    log_id = done.headers["location"].split("/")[2].split("?")[0]
    page = client.get(f"/logs/{log_id}")
    assert 'id="heat-map-panel"' not in page.text  # no deployed model yet: no panel, no viewer script
    assert "bpmn-modeler.production.min.js" not in page.text
    assert "SAL-ORD-001" not in visible_text(page.text.split("SLA", 1)[1].split("</section>", 1)[0])

    container.models.deploy(SYSTEM, MODEL, "so.bpmn")
    client.post(f"/logs/{log_id}/link", data={"csrf_token": csrf, "process_id": "SAL-ORD-001"})
    page = client.get(f"/logs/{log_id}", params={"model": "so"})
    assert f'data-url="/api/v1/logs/{log_id}/heatmap"' in page.text
    assert '<option value="so" selected>' in page.text
    assert "/static/js/mining-heatmap.js" in page.text
    assert "<script>" not in page.text  # CSP: no inline scripts
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "unsafe-inline" not in page.headers["content-security-policy"]
    sla_section = visible_text(page.text.split('class="sla-form"', 1)[0].rsplit("<section", 1)[1])
    assert "SAL-ORD-001" in sla_section
    table = page.text.split('class="sla-form"', 1)[1]
    assert "创建订单" in table
    assert "/catalog/SAL-ORD-001/edit#slas" in page.text
