"""Design › process models in a real Chromium: upload a model, bpmn-js draws it under the CSP, the
properties panel writes isthmus: attributes, "Save draft" stores version 2 and "Deploy" version 3."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from isthmus.models import parse_bpmn
from tests.adapters.web.test_browser import _sign_in, browser, live_server  # noqa: F401  (fixtures)
from tests.models._files import BPMN

pytestmark = pytest.mark.browser
ORDER = BPMN / "order-diagram.bpmn"


def test_modeler_panel_save_draft_and_deploy(live_server: str, browser: Browser) -> None:  # noqa: F811
    context = browser.new_context(locale="zh-CN", viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        _sign_in(page, live_server)
        page.goto(f"{live_server}/models")
        page.get_by_label("BPMN 文件（.bpmn）").set_input_files(ORDER)
        page.get_by_role("button", name="部署", exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Order entry")
        expect(page.locator("#bpmn-editor")).to_have_attribute("data-ready", "true")
        expect(page.locator("#p-id")).to_have_value("order")  # nothing selected: the process

        page.locator('#bpmn-canvas [data-element-id="enter"]').click()
        expect(page.locator("#p-owner")).to_have_value("sales.rep")
        page.locator("#p-sla").fill("PT45M")
        page.locator("#p-sla").press("Tab")
        page.locator("#p-four-eyes").check()
        page.locator("#p-add-field").click()
        row = page.locator("#p-form-fields tbody tr").last
        row.locator("[data-field=id]").fill("amount")
        row.locator("[data-field=id]").press("Tab")
        page.locator("#p-add-field").click()
        row = page.locator("#p-form-fields tbody tr").last
        row.locator("[data-field=id]").fill("region")
        row.locator("[data-field=type]").select_option("enum")
        row.locator("[data-field=options]").fill("north, south")
        row.locator("[data-field=options]").press("Tab")

        # A horizontal flow has no height to click on: click just left of the task it enters.
        target = page.locator('#bpmn-canvas [data-element-id="check"]').bounding_box()
        assert target is not None
        page.mouse.click(target["x"] - 12, target["y"] + target["height"] / 2)
        expect(page.locator("#p-condition")).to_have_value("amount > 50000")
        page.locator("#p-condition").fill("amount >= 100000")
        page.locator("#p-condition").press("Tab")

        page.get_by_role("button", name="检查").click()
        expect(page.locator("#bpmn-status")).to_have_text("没有问题：模型可以部署。")

        page.get_by_role("button", name="保存草稿").click()
        expect(page.get_by_role("status").first).to_contain_text("已保存为草稿第 2 版")
        xml = page.request.get(f"{live_server}/api/v1/models/order/xml?version=2").body()
        process = parse_bpmn(xml).process("order")
        enter = process.nodes["enter"].props
        assert (enter.sla, enter.four_eyes, enter.owner) == ("PT45M", True, "sales.rep")
        assert [(f.id, f.options) for f in enter.form_fields] == [
            ("amount", ()),
            ("region", ("north", "south")),
        ]
        assert process.flows["large"].condition == "amount >= 100000"

        expect(page.locator("#bpmn-editor")).to_have_attribute("data-ready", "true")
        page.get_by_role("button", name="部署", exact=True).click()
        expect(page.get_by_role("status").first).to_contain_text("已部署为第 3 版")
        assert errors == []
    finally:
        context.close()
