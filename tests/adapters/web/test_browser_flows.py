"""Connect › flows in a real Chromium: table 2 lists the flow, its page draws the metrics chart under
the CSP, a flow test runs in the server's worker while htmx polls its progress, a dead letter is
replayed from the dead-letter list (it leaves the list, the page says so), and the structured form
rewrites the YAML beside it."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, expect

from isthmus.adapters.api.app import create_app
from isthmus.adapters.storage import Database
from isthmus.bootstrap import build
from isthmus.demo import DEMO_USERS
from isthmus.demo.integration import SandboxApi
from isthmus.integration import MessageState, NewMessage
from isthmus.security import SYSTEM
from isthmus.settings import load_settings
from tests.adapters.web.test_browser import (  # noqa: F401  (fixtures)
    _free_port,
    _sign_in,
    _wait_until_healthy,
    browser,
    shots,
)

pytestmark = pytest.mark.browser


@pytest.fixture
def flow_server(tmp_path: Path) -> Iterator[str]:
    """A server with the CRM→ERP flow deployed against a sandbox API and one dead letter (id 2)."""
    db_url = f"sqlite:///{tmp_path / 'browser.db'}"
    database = Database(db_url)
    database.upgrade()
    database.dispose()
    settings = load_settings(
        {"ISTHMUS_DATA_DIR": str(tmp_path / "data"), "ISTHMUS_DB_URL": db_url, "ISTHMUS_LANGUAGE": "zh_CN"}
    )
    container = build(settings)
    for user in DEMO_USERS:
        container.accounts.ensure_user(SYSTEM, user.username, user.password, {user.role}, user.display_name)
    with SandboxApi() as api:
        container.flows.deploy(
            SYSTEM,
            "flow: crm-erp-orders\nsource: {system: CRM, connector: webhook}\n"
            f'target: {{system: ERP, connector: http, options: {{url: "{api.url}/orders"}}}}\n'
            "trigger: {webhook: true}\nmapping: {vbeln: order_id, kunnr: cust_code}\n"
            "idempotency_key: order_id\nowner: 李*\ngo_live: 2024-06-30\n",
        )
        container.flows.accept(SYSTEM, "crm-erp-orders", [{"order_id": "SO-1", "cust_code": "C1"}])
        container.job_runner().run_until_idle()
        with container.database.unit_of_work() as uow:  # the ERP was down for every attempt
            dead = uow.flows.add_message(
                NewMessage(flow_id="crm-erp-orders", idempotency_key="SO-2", payload={}, display={}),
                container.clock.now(),
            )
            assert dead is not None
            uow.flows.save_message(
                replace(dead, state=MessageState.DEAD_LETTERED, attempts=4, last_error="HTTP 503 from ERP")
            )
            uow.commit()
        port = _free_port()
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(container, run_worker=True), host="127.0.0.1", port=port, log_level="warning"
            )
        )
        thread = threading.Thread(target=server.run, name="uvicorn-flows-test", daemon=True)
        thread.start()
        base_url = f"http://127.0.0.1:{port}"
        try:
            _wait_until_healthy(base_url, server)
            yield base_url
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            container.close()


def test_table2_the_chart_and_a_replay(flow_server: str, browser: Browser, shots: Path) -> None:  # noqa: F811
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        _sign_in(page, flow_server)
        page.goto(f"{flow_server}/language/en")
        page.get_by_role("navigation", name="Stages").get_by_role("link", name="Integration flows").click()
        row = page.locator("#flow-crm-erp-orders")
        expect(row).to_contain_text("CRM→ERP")
        expect(row).to_contain_text("CRM.order_id→ERP.vbeln")
        expect(page.locator("#table2 thead")).to_contain_text("Exchange frequency")

        row.get_by_role("link", name="crm-erp-orders").click()
        chart = page.locator("#flow-chart")
        expect(chart).to_have_attribute("data-ready", "true")  # flows.js ran under the CSP
        expect(chart.locator("canvas")).to_be_visible()
        expect(page.locator("#m-messages")).to_have_text("2")
        # A flow test: the in-process worker runs the six scenarios, the page polls until they are done.
        page.get_by_label("Sample source record (JSON)").fill('{"order_id": "SO-9", "cust_code": "C9"}')
        page.get_by_role("button", name="Run flow test").click()
        run = page.locator("#test-run")
        expect(run).to_have_attribute("data-state", "passed", timeout=60_000)
        expect(run.locator(".scenarios li")).to_have_count(6)

        page.get_by_role("link", name="Dead letters (1)").click()
        dead = page.locator("#dlq-2")
        expect(dead).to_contain_text("HTTP 503 from ERP")
        page.screenshot(path=str(shots / "flows-dlq-1280.png"), full_page=True)
        dead.get_by_role("button", name="Replay").click()
        expect(page.get_by_role("status")).to_contain_text("1 message(s) replayed")
        expect(page.locator("#dlq-2")).to_have_count(0)
        page.goto(f"{flow_server}/flows/new")  # the structured form rewrites the YAML beside it (htmx)
        page.get_by_label("Runs").select_option("cron")
        page.get_by_label("Cron").fill("0 22 * * *")
        page.get_by_label("Cron").press("Tab")
        expect(page.locator("#f-yaml")).to_have_value(
            re.compile(r"cron: 0 22 \* \* \*\n\s+timezone: Asia/Shanghai")
        )
        for width in (1280, 768):  # the layout at a desktop and on a tablet (cards below 900 px)
            page.set_viewport_size({"width": width, "height": 1000})
            for name, path in (
                ("table2", "/flows"),
                ("flow", "/flows/crm-erp-orders"),
                ("form", "/flows/new"),
            ):
                page.goto(f"{flow_server}{path}")
                page.screenshot(path=str(shots / f"flows-{name}-{width}.png"), full_page=True)
        assert errors == []
    finally:
        context.close()
