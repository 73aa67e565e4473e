"""Design › decisions in a real Chromium: upload a model, dmn-js draws it under the CSP, the
"test this decision" form evaluates through the API, and "Save as new version" deploys version 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.adapters.web.test_browser import _sign_in, browser, live_server  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser
# dmn-js 17 bundles Inferno's development build and says so on the console; nothing we can change.
INFERNO_NOTICE = "It looks like you're using a minified copy of the development build of Inferno"

APPROVAL = (
    Path(__file__).resolve().parents[3] / "src" / "isthmus" / "demo" / "decisions" / "tiered-approval.dmn"
)


def test_dmn_js_shows_the_model_and_the_test_form_evaluates_it(
    live_server: str,  # noqa: F811
    browser: Browser,  # noqa: F811
) -> None:
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        _sign_in(page, live_server)
        page.goto(f"{live_server}/decisions")
        page.get_by_label("DMN 文件（.dmn）").set_input_files(APPROVAL)
        page.get_by_role("button", name="部署", exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Tiered approval")
        expect(page.locator("#dmn-editor")).to_have_attribute("data-ready", "true")
        expect(page.locator("#dmn-canvas .djs-container")).to_be_visible()  # the DRD

        page.locator(".dmn-tabs button[data-view-type=decisionTable]").click()
        expect(page.locator("#dmn-canvas .tjs-table")).to_be_visible()

        page.locator("[data-input=amount]").fill("60000")
        page.get_by_role("button", name="评估").click()
        expect(page.locator("#dmn-result-value")).to_contain_text('"director"')
        expect(page.locator("#dmn-result-rules")).to_contain_text("rule_director")

        page.get_by_role("button", name="另存为新版本").click()
        expect(page.get_by_role("status").first).to_contain_text("已部署为第 2 版")
        expect(page.locator("#dmn-editor")).to_have_attribute("data-ready", "true")
        assert [e for e in errors if not e.startswith(INFERNO_NOTICE)] == []
    finally:
        context.close()
