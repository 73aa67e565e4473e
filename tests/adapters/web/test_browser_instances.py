"""Run › instance in a real Chromium: the bpmn-js viewer draws the running demo order under the CSP
and paints its path — completed nodes and flows, the active approval task with its token count."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from isthmus.bootstrap import build
from isthmus.demo import deploy_demo_decisions, deploy_demo_processes
from isthmus.security import SYSTEM
from isthmus.settings import load_settings
from tests.adapters.web.test_browser import _sign_in, browser, live_server, shots  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


def _running_order(tmp_path: Path) -> str:
    """The demo order, entered and routed, waiting for the department manager (same database as
    the live server)."""
    settings = load_settings(
        {
            "ISTHMUS_DATA_DIR": str(tmp_path / "data"),
            "ISTHMUS_DB_URL": f"sqlite:///{tmp_path / 'browser.db'}",
            "ISTHMUS_LANGUAGE": "zh_CN",
        }
    )
    container = build(settings)
    try:
        deploy_demo_decisions(SYSTEM, container.decisions)
        deploy_demo_processes(SYSTEM, container.models)
        started = container.engine.start(SYSTEM, "SAL-ORD-001", {"order_id": "SO-1"}, business_key="SO-1")
        (task,) = container.tasks.list(SYSTEM, instance_id=started.id)
        container.tasks.complete(SYSTEM, task.id, {"customer": "ACME", "amount": 9000, "quantity": 3})
        container.job_runner("browser-test").run_until_idle()
        return started.id
    finally:
        container.close()


def _has(cls: str) -> re.Pattern[str]:
    return re.compile(rf"(^|\s){cls}(\s|$)")


def test_the_instance_view_paints_the_running_demo_order(
    live_server: str,  # noqa: F811
    browser: Browser,  # noqa: F811
    shots: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    instance_id = _running_order(tmp_path)
    context = browser.new_context(locale="zh-CN", viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        _sign_in(page, live_server)
        page.goto(f"{live_server}/instances/{instance_id}")
        diagram = page.locator("#instance-diagram")
        expect(diagram).to_have_attribute("data-painted", "true")

        def element(node: str):  # type: ignore[no-untyped-def]
            return diagram.locator(f'g.djs-element[data-element-id="{node}"]')

        for node in ("order_received", "enter_order", "check_stock", "tiered_approval", "which_approver"):
            expect(element(node)).to_have_class(_has("is-completed"))
        for flow in ("f_start", "f_entered", "f_checked", "f_to_manager"):
            expect(element(flow)).to_have_class(_has("is-taken"))
        expect(element("manager_approval")).to_have_class(_has("is-active"))
        expect(diagram.locator(".token-count")).to_have_text(["1"])
        for node in ("director_approval", "finance_pre_review", "reserve_stock"):
            expect(element(node)).not_to_have_class(_has("is-completed"))
            expect(element(node)).not_to_have_class(_has("is-active"))
        expect(element("f_to_director")).not_to_have_class(_has("is-taken"))
        expect(page.locator("#instance-state")).to_have_text("active")
        page.screenshot(path=str(shots / "instance-view.png"), full_page=True)
        assert errors == []
    finally:
        context.close()
