"""The real thing: uvicorn on loopback, Debian's Chromium driven by Playwright, no sleeps.

Skipped when /usr/bin/chromium is missing, unless ``ISTHMUS_REQUIRE_BROWSER=1`` (CI), which
turns the skip into a failure. Screenshots go to ``ISTHMUS_SCREENSHOT_DIR`` when set (for people
checking the layout at 1280 px and on a 768 px tablet), else to the test's temporary directory.
"""

from __future__ import annotations

import os
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect, sync_playwright

from isthmus.adapters.api.app import create_app
from isthmus.adapters.storage import Database
from isthmus.bootstrap import build
from isthmus.demo import DEMO_USERS
from isthmus.security import SYSTEM
from isthmus.settings import load_settings

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TABLE1 = Path(__file__).resolve().parents[2] / "data" / "table1.xlsx"
GUIDE_IDS = ("SAL-ORD-001", "PUR-REQ-001", "PRO-MFG-001")
ADMIN = next(u for u in DEMO_USERS if u.username == "admin")
STARTUP_DEADLINE_S = 20.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_healthy(base_url: str, server: uvicorn.Server) -> None:
    """Poll /api/v1/health until it answers; each failed poll waits briefly on an event, not a sleep."""
    pause = threading.Event()
    with httpx.Client(timeout=2.0) as http:
        for _ in range(int(STARTUP_DEADLINE_S / 0.05)):
            try:
                if http.get(f"{base_url}/api/v1/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if server.should_exit:
                break
            pause.wait(0.05)
    pytest.fail(f"the server at {base_url} did not answer /api/v1/health within {STARTUP_DEADLINE_S} s")


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[str]:
    db_url = f"sqlite:///{tmp_path / 'browser.db'}"
    database = Database(db_url)
    database.upgrade()
    database.dispose()
    settings = load_settings(
        {"ISTHMUS_DATA_DIR": str(tmp_path / "data"), "ISTHMUS_DB_URL": db_url, "ISTHMUS_LANGUAGE": "zh_CN"}
    )
    container = build(settings)
    for user in DEMO_USERS:  # only the users: the processes come from importing table1.xlsx
        container.accounts.ensure_user(SYSTEM, user.username, user.password, {user.role}, user.display_name)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(container), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="uvicorn-browser-test", daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(base_url, server)
        yield base_url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        container.close()


@pytest.fixture
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        if os.environ.get("ISTHMUS_REQUIRE_BROWSER") == "1":
            pytest.fail(f"ISTHMUS_REQUIRE_BROWSER=1 but {CHROMIUM} is missing")
        pytest.skip(f"{CHROMIUM} is not installed")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    directory = Path(os.environ.get("ISTHMUS_SCREENSHOT_DIR") or tmp_path / "screenshots")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _sign_in(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/")
    expect(page).to_have_url(re.compile(r"/login\?next=%2F$"))
    page.get_by_label("用户名").fill(ADMIN.username)
    page.get_by_label("密码").fill(ADMIN.password)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"欢迎，{ADMIN.display_name}")


def _switch_language(page: Page) -> None:
    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Welcome, {ADMIN.display_name}")
    expect(page.get_by_role("navigation", name="Stages")).to_contain_text("Process catalog")
    page.get_by_role("link", name="中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("navigation", name="阶段")).to_contain_text("流程目录")


def _import_table1(page: Page) -> None:
    page.get_by_role("navigation", name="阶段").get_by_role("link", name="流程目录").click()
    page.get_by_text("从 Excel 或 CSV 导入").click()
    page.get_by_label("表 1 文件（.xlsx 或 .csv）").set_input_files(TABLE1)
    page.get_by_role("button", name="导入", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("新增：3 · 更新：0 · 未变：0")
    for process_id in GUIDE_IDS:
        expect(page.locator(f"#process-{process_id}")).to_be_visible()
    # ECharts drew the chart: the page's own script ran under the Content-Security-Policy.
    expect(page.locator("#catalog-chart canvas")).to_have_count(1)


def _search_with_htmx(page: Page) -> None:
    page.get_by_label("搜索").press_sequentially("采购")
    expect(page.locator("#catalog-table tbody tr")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"search=%E9%87%87%E8%B4%AD"))
    page.get_by_role("link", name="重置").click()
    expect(page.locator("#catalog-table tbody tr")).to_have_count(3)


def _screenshots(page: Page, shots: Path, language: str) -> None:
    for width in (1280, 768):
        page.set_viewport_size({"width": width, "height": 1000})
        expect(page.locator("#catalog-chart canvas")).to_have_count(1)
        page.screenshot(path=str(shots / f"catalog-{language}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 1000})


def _edit_and_find_in_audit(page: Page) -> None:
    page.get_by_role("link", name="编辑 SAL-ORD-001").click()
    page.get_by_label("平均处理时长(小时)").fill("36")
    page.get_by_role("button", name="保存", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("流程 SAL-ORD-001 已保存。")
    expect(page.locator("#process-SAL-ORD-001 td.num").nth(1)).to_have_text("36")
    page.get_by_role("navigation", name="阶段").get_by_role("link", name="审计日志").click()
    page.get_by_label("对象编号").fill("SAL-ORD-001")
    page.get_by_label("操作（前缀）").fill("catalog.update")
    page.get_by_role("button", name="筛选").click()
    row = page.locator("table.audit-table > tbody > tr").first
    expect(row).to_contain_text("catalog.update")
    expect(row.locator("table.diff tr", has_text="avg_hours")).to_contain_text("48")
    expect(row.locator("table.diff tr", has_text="avg_hours").locator("td.after")).to_have_text("36")
    page.get_by_role("button", name="校验审计链").click()
    expect(page.locator("#verify-result")).to_contain_text("审计链完整")


def test_a_person_signs_in_imports_table1_edits_and_finds_the_change_in_the_audit_trail(
    live_server: str, browser: Browser, shots: Path
) -> None:
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    console_errors: list[str] = []
    page.on(
        "console",
        lambda message: (
            console_errors.append(f"{message.text} {message.location} {page.url}")
            if message.type == "error"
            else None
        ),
    )
    try:
        _sign_in(page, live_server)
        _switch_language(page)
        _import_table1(page)
        _search_with_htmx(page)
        _screenshots(page, shots, "zh")
        page.get_by_role("link", name="English").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Process catalog")
        _screenshots(page, shots, "en")
        page.get_by_role("link", name="中文").click()
        _edit_and_find_in_audit(page)
    finally:
        context.close()
    assert not console_errors, console_errors  # e.g. a Content-Security-Policy violation
