"""Design › process models: the "Integration flow" field offers the deployed flows."""

from __future__ import annotations

from pathlib import Path

from isthmus.bootstrap import Container
from isthmus.security import SYSTEM
from tests.adapters.web.web_client import TestClient, sign_in

FLOW = """\
flow: orders-to-erp
source: {system: ISTHMUS, connector: webhook}
target: {system: ERP, connector: http, options: {url: "http://127.0.0.1:9/api/orders"}}
trigger: {webhook: true}
mapping: {vbeln: order_id}
idempotency_key: order_id
"""
MODEL = Path(__file__).parents[2] / "engine" / "data" / "flow_task.bpmn"


def test_the_flow_field_lists_the_deployed_flows(client: TestClient, container: Container) -> None:
    container.models.deploy(SYSTEM, MODEL.read_bytes(), "flow_task.bpmn")
    sign_in(client, "admin")
    before = client.get("/models/flow_task")
    assert 'list="p-flow-choices"' in before.text
    assert '<option value="orders-to-erp">' not in before.text
    container.flows.deploy(SYSTEM, FLOW, "orders-to-erp.yaml")
    for url in ("/models/flow_task", "/models/new"):
        page = client.get(url)
        assert page.status_code == 200
        assert '<option value="orders-to-erp"></option>' in page.text
