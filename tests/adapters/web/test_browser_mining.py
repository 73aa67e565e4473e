"""Discover › event logs in a real Chromium: upload a XES log, the process map and the waiting chart
draw under the CSP, the coverage slider and the frequency/performance toggle redraw the map."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.adapters.web.test_browser import _sign_in, browser, live_server  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser
ROAD = Path("/work/shared/data/eventlogs/roadtraffic100traces.xes")


@pytest.mark.skipif(not ROAD.exists(), reason="shared event logs missing")
def test_the_process_map_draws_and_reacts(live_server: str, browser: Browser) -> None:  # noqa: F811
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        _sign_in(page, live_server)
        page.goto(f"{live_server}/logs")
        page.get_by_label("事件日志（CSV、XES、XES.gz、Parquet、OCEL 2.0）").set_input_files(ROAD)
        page.get_by_role("button", name="导入", exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(ROAD.name)
        chart = page.locator("#process-map")
        expect(chart).to_have_attribute("data-ready", "true")
        expect(chart.locator("canvas")).to_be_visible()
        expect(page.locator("#waiting-chart canvas")).to_be_visible()
        full = int(chart.get_attribute("data-edges") or 0)
        page.locator("#map-coverage").fill("30")
        expect(page.locator("#map-coverage-value")).to_have_text("30%")
        assert int(chart.get_attribute("data-edges") or 0) < full
        page.get_by_label("性能（中位时长）").check()
        expect(chart).to_have_attribute("data-ready", "true")
        assert errors == []
    finally:
        context.close()
