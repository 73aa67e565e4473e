"""Discover › event log › heat map in a real Chromium: a model deployed through the API, a CSV log
imported through the page; the bpmn-js viewer draws the model and colours the two nodes whose names
match activities, leaves the unmatched ones grey, puts a badge with the numbers on each matched node,
and redraws when the metric switches to the 90th percentile — under the site's strict CSP (the
viewer needs no inline styles; a violation would be a console error)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.adapters.web.test_browser import _sign_in, browser, live_server  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser

CSV = (
    "case,activity,timestamp,start\n"
    "1,Enter order,2024-01-01T08:10:00Z,2024-01-01T08:00:00Z\n"
    "1,Check order,2024-01-01T09:40:00Z,2024-01-01T09:10:00Z\n"
    "1,Ship,2024-01-01T10:40:00Z,2024-01-01T09:40:00Z\n"
    "2,Enter order,2024-01-02T08:10:00Z,2024-01-02T08:00:00Z\n"
    "2,Check order,2024-01-02T11:40:00Z,2024-01-02T11:10:00Z\n"
    "2,Ship,2024-01-02T13:40:00Z,2024-01-02T12:40:00Z\n"
)


def _shape(element: str, x: int, y: int, w: int, h: int) -> str:
    return (
        f'<bpmndi:BPMNShape id="{element}_di" bpmnElement="{element}">'
        f'<dc:Bounds x="{x}" y="{y}" width="{w}" height="{h}"/></bpmndi:BPMNShape>'
    )


def _edge(flow: str, x1: int, x2: int) -> str:
    return (
        f'<bpmndi:BPMNEdge id="{flow}_di" bpmnElement="{flow}">'
        f'<di:waypoint x="{x1}" y="120"/><di:waypoint x="{x2}" y="120"/></bpmndi:BPMNEdge>'
    )


MODEL = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
  xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:isthmus="https://isthmus.dev/schema/bpmn"
  id="defs" targetNamespace="urn:heat">
  <bpmn:process id="heat_orders" name="Heat orders" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:userTask id="enter" name="Enter order"/>
    <bpmn:userTask id="check" name="Check order" isthmus:sla="PT2H"/>
    <bpmn:userTask id="approve" name="Approve"/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="enter"/>
    <bpmn:sequenceFlow id="f2" sourceRef="enter" targetRef="check"/>
    <bpmn:sequenceFlow id="f3" sourceRef="check" targetRef="approve"/>
    <bpmn:sequenceFlow id="f4" sourceRef="approve" targetRef="end"/>
  </bpmn:process>
  <bpmndi:BPMNDiagram id="diagram"><bpmndi:BPMNPlane id="plane" bpmnElement="heat_orders">
    {_shape("start", 100, 102, 36, 36)}{_shape("enter", 190, 80, 100, 80)}{_shape("check", 340, 80, 100, 80)}
    {_shape("approve", 490, 80, 100, 80)}{_shape("end", 640, 102, 36, 36)}
    {_edge("f1", 136, 190)}{_edge("f2", 290, 340)}{_edge("f3", 440, 490)}{_edge("f4", 590, 640)}
  </bpmndi:BPMNPlane></bpmndi:BPMNDiagram>
</bpmn:definitions>
"""


def test_the_heat_map_colours_the_matched_nodes(live_server: str, browser: Browser, tmp_path: Path) -> None:  # noqa: F811
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        _sign_in(page, live_server)
        page.goto(f"{live_server}/logs")
        csrf = page.locator('input[name="csrf_token"]').first.get_attribute("value") or ""
        deployed = page.request.post(
            f"{live_server}/api/v1/models?filename=heat_orders.bpmn",
            data=MODEL,
            headers={"Content-Type": "application/xml", "X-CSRF-Token": csrf},
        )
        assert deployed.ok, deployed.text()
        log = tmp_path / "orders.csv"
        log.write_text(CSV)
        page.get_by_label("事件日志（CSV、XES、XES.gz、Parquet、OCEL 2.0）").set_input_files(log)
        page.get_by_role("button", name="导入", exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_have_text("orders.csv")

        panel = page.locator("#heat-map-panel")
        expect(panel).to_have_attribute("data-ready", "true")
        expect(panel).to_have_attribute("data-painted", "2")
        canvas = page.locator("#heat-canvas")
        for node in ("enter", "check"):
            shape = canvas.locator(f'.djs-element[data-element-id="{node}"]')
            expect(shape).to_have_class(re.compile(r"\bheat-[1-5]\b"))
        check = canvas.locator('.djs-element[data-element-id="check"]')
        expect(check).to_have_class(re.compile(r"\bheat-5\b"))  # the longest wait
        for node in ("approve", "start", "end"):
            expect(canvas.locator(f'.djs-element[data-element-id="{node}"]')).to_have_class(
                re.compile(r"\bheat-none\b")
            )
        badges = canvas.locator(".heat-badge")
        expect(badges).to_have_count(2)
        badge = canvas.locator('.heat-badge[data-node="check"]')
        expect(badge.locator(".heat-value")).to_have_text(re.compile(r"^2\.0\D"))
        badge.hover()
        tip = badge.locator(".heat-tip")
        expect(tip).to_be_visible()
        expect(tip).to_contain_text("SLA")
        expect(tip).to_contain_text("PT2H")
        expect(page.locator("#heat-legend .heat-key")).to_have_count(6)
        expect(page.locator("#heat-status")).to_contain_text("Ship")  # the activity no node stands for

        # texts of new features are translated when the catalogs are merged: select by value
        page.locator('input[name="heat-metric"][value="p90"]').check()
        expect(panel).to_have_attribute("data-ready", "true")
        expect(badge.locator(".heat-value")).to_have_text(re.compile(r"^2\.8\D"))  # 1 h + 0.9 × 2 h
        assert errors == []

        # A model without a diagram cannot be drawn; its numbers are still shown in the table.
        bare = re.sub(r"<bpmndi:BPMNDiagram.*</bpmndi:BPMNDiagram>", "", MODEL, flags=re.S)
        bare = bare.replace('id="heat_orders" name="Heat orders"', 'id="bare_orders" name="Bare orders"')
        deployed = page.request.post(
            f"{live_server}/api/v1/models?filename=bare_orders.bpmn",
            data=bare,
            headers={"Content-Type": "application/xml", "X-CSRF-Token": csrf},
        )
        assert deployed.ok, deployed.text()
        page.reload()
        page.locator("#heat-model").select_option("bare_orders")
        expect(page.locator("#heat-status")).to_have_class(re.compile(r"\bis-error\b"))
        expect(page.locator("#heat-table tbody tr")).to_have_count(2)
        expect(page.locator("#heat-table")).to_be_visible()
    finally:
        context.close()
