"""The process catalog page (table 1): list, search, sort, filter, forms, import, permissions."""

from __future__ import annotations

import re

import pytest

from isthmus.bootstrap import Container
from isthmus.catalog import write_xlsx
from isthmus.demo import GUIDE_PROCESSES
from isthmus.security import SYSTEM
from tests.adapters.web.web_client import TestClient, sign_in, visible_text

pytestmark = pytest.mark.usefixtures("demo_processes")

HX = {"HX-Request": "true", "HX-Target": "catalog-results"}
GUIDE_HEADERS = (
    "流程编号",
    "流程名称",
    "所属部门",
    "当前系统支持情况",
    "流程负责人",
    "参与角色",
    "关键节点数量",
    "平均处理时长(小时)",
    "主要痛点问题",
    "优化优先级",
)


def _row_ids(html: str) -> list[str]:
    return re.findall(r'<tr id="process-([^"]+)"', html)


def _form(**changes: str) -> dict[str, str]:
    fields = {
        "id": "HR-ONB-001",
        "name": "员工入职流程",
        "department": "人力资源部",
        "system_support": "部分支持(OA)",
        "owner": "赵*",
        "roles": "HR 专员\n部门经理\n",
        "key_nodes": "6",
        "avg_hours": "30.5",
        "pain_points": "账号开通靠邮件\n资料重复填写",
        "priority_mode": "manual",
        "priority": "medium",
        "value_score": "3",
        "pain_score": "3",
        "ease_score": "3",
        "version": "1",
    }
    return fields | changes


def test_the_catalog_shows_the_three_guide_processes_with_every_column(client: TestClient) -> None:
    sign_in(client, "viewer")

    page = client.get("/catalog")
    text = visible_text(page.text)

    assert sorted(_row_ids(page.text)) == ["PRO-MFG-001", "PUR-REQ-001", "SAL-ORD-001"]
    for header in GUIDE_HEADERS:
        assert header in text, header
    sales = GUIDE_PROCESSES[0]
    for value in (
        sales.name,
        sales.department,
        sales.system_support,
        sales.owner,
        "销售专员、仓库主管、财务专员",
    ):
        assert value in text
    assert "<li>库存查询需手动登录ERP</li>" in page.text  # pain points as a list
    assert 'class="badge badge-high"' in page.text
    assert 'class="badge badge-medium"' in page.text
    assert "手动设定" in text  # the guide's priorities were set by hand
    assert 'id="catalog-chart-data"' in page.text
    assert '"hours": 72.0' in page.text


def test_search_answers_htmx_with_only_the_results(client: TestClient) -> None:
    sign_in(client, "viewer")

    partial = client.get("/catalog?search=采购", headers=HX)

    assert "<html" not in partial.text
    assert _row_ids(partial.text) == ["PUR-REQ-001"]
    assert "HX-Target" in partial.headers["vary"]


def test_search_without_javascript_returns_the_whole_page(client: TestClient) -> None:
    sign_in(client, "viewer")

    page = client.get("/catalog?search=ERP")

    assert "<html" in page.text
    assert sorted(_row_ids(page.text)) == ["PUR-REQ-001", "SAL-ORD-001"]
    # keyup for typing; input too, because an IME commits Chinese text without a keyup of its own.
    assert 'hx-trigger="keyup changed delay:300ms, input changed delay:300ms, search"' in page.text


def test_clicking_a_header_sorts_and_clicking_again_reverses(client: TestClient) -> None:
    sign_in(client, "viewer")

    descending = client.get("/catalog?sort=avg_hours&order=desc", headers=HX)
    ascending = client.get("/catalog?sort=avg_hours", headers=HX)

    assert _row_ids(descending.text) == ["PRO-MFG-001", "SAL-ORD-001", "PUR-REQ-001"]
    assert _row_ids(ascending.text) == ["PUR-REQ-001", "SAL-ORD-001", "PRO-MFG-001"]
    assert 'aria-sort="ascending"' in ascending.text
    assert 'href="/catalog?sort=avg_hours&amp;order=desc"' in ascending.text


def test_filters_by_department_and_priority(client: TestClient) -> None:
    sign_in(client, "viewer")

    by_priority = client.get("/catalog?priority=high", headers=HX)
    by_department = client.get("/catalog?department=生产部", headers=HX)
    nonsense = client.get("/catalog?priority=urgent&sort=colour", headers=HX)

    assert sorted(_row_ids(by_priority.text)) == ["PRO-MFG-001", "SAL-ORD-001"]
    assert _row_ids(by_department.text) == ["PRO-MFG-001"]
    assert len(_row_ids(nonsense.text)) == 3


def test_create_edit_and_delete_through_the_forms(client: TestClient, container: Container) -> None:
    csrf = sign_in(client, "owner")
    assert client.get("/catalog/new").status_code == 200

    created = client.post("/catalog/new", data=_form(csrf_token=csrf), follow_redirects=False)
    assert created.status_code == 303, created.text
    stored = container.catalog.get(SYSTEM, "HR-ONB-001")
    assert stored.roles == ("HR 专员", "部门经理")
    assert str(stored.avg_hours) == "30.5"
    assert "流程 HR-ONB-001 已创建" in client.get(created.headers["location"]).text

    edit = client.get("/catalog/HR-ONB-001/edit")
    assert 'name="version" value="1"' in edit.text
    computed = _form(
        csrf_token=csrf, priority_mode="computed", value_score="5", pain_score="5", ease_score="3"
    )
    edited = client.post("/catalog/HR-ONB-001/edit", data=computed, follow_redirects=False)
    assert edited.status_code == 303, edited.text
    again = container.catalog.get(SYSTEM, "HR-ONB-001")
    assert again.priority.value == "high"
    assert not again.priority_manual
    assert "计算得出，评分 4.50" in client.get("/catalog").text

    assert "确定删除流程 HR-ONB-001" in client.get("/catalog/HR-ONB-001/delete").text
    deleted = client.post("/catalog/HR-ONB-001/delete", data={"csrf_token": csrf}, follow_redirects=False)
    assert deleted.status_code == 303
    assert "HR-ONB-001" not in _row_ids(client.get("/catalog").text)


def test_validation_errors_are_shown_next_to_their_fields(client: TestClient) -> None:
    csrf = sign_in(client, "owner")

    response = client.post(
        "/catalog/new", data=_form(csrf_token=csrf, id="bad id!", name="", avg_hours="lots")
    )

    assert response.status_code == 422
    for field in ("id", "avg_hours"):
        assert f'id="f-{field}-error"' in response.text
        assert re.search(
            rf'id="f-{field}"[^>]*aria-invalid="true"[^>]*aria-describedby="[^"]*f-{field}-error',
            response.text,
        )
    assert "应为小时数" in response.text
    assert 'value="bad id!"' in response.text  # what was typed comes back


def test_service_validation_lands_on_the_field(client: TestClient) -> None:
    csrf = sign_in(client, "owner")

    response = client.post("/catalog/new", data=_form(csrf_token=csrf, id="bad id!"))

    assert response.status_code == 422
    assert 'id="f-id-error"' in response.text
    assert "流程编号应由字母" in response.text


def test_a_duplicate_id_is_an_error_on_the_id_field(client: TestClient) -> None:
    csrf = sign_in(client, "owner")

    response = client.post("/catalog/new", data=_form(csrf_token=csrf, id="SAL-ORD-001"))

    assert response.status_code == 409
    assert 'id="f-id-error"' in response.text
    assert "流程 SAL-ORD-001 已存在" in response.text


def test_a_stale_edit_reports_the_conflict_and_offers_a_reload(
    client: TestClient, container: Container
) -> None:
    csrf = sign_in(client, "owner")
    current = container.catalog.get(SYSTEM, "SAL-ORD-001")
    container.catalog.update(SYSTEM, current.with_changes(owner="钱*"))

    response = client.post(
        "/catalog/SAL-ORD-001/edit",
        data=_form(csrf_token=csrf, id="SAL-ORD-001", version=str(current.version)),
    )

    assert response.status_code == 409
    assert "此流程已被他人修改" in response.text
    assert 'href="/catalog/SAL-ORD-001/edit"' in response.text


def test_a_form_post_without_csrf_token_is_forbidden(client: TestClient, container: Container) -> None:
    sign_in(client, "owner")

    response = client.post("/catalog/SAL-ORD-001/delete", data={})

    assert response.status_code == 403
    assert container.catalog.get(SYSTEM, "SAL-ORD-001")


def test_a_viewer_sees_no_edit_button_and_may_not_post(client: TestClient) -> None:
    csrf = sign_in(client, "viewer")

    page = client.get("/catalog")
    response = client.post("/catalog/SAL-ORD-001/delete", data={"csrf_token": csrf})

    assert "/catalog/SAL-ORD-001/edit" not in page.text
    assert "新建流程" not in page.text
    assert response.status_code == 403
    assert "catalog:write" in response.text
    assert "您没有执行此操作的权限" in response.text
    assert client.get("/catalog/new").status_code == 403


def test_importing_a_good_workbook_reports_the_counts(client: TestClient, container: Container) -> None:
    csrf = sign_in(client, "owner")
    changed = GUIDE_PROCESSES[1].with_changes(avg_hours=GUIDE_PROCESSES[1].avg_hours + 1)
    new = GUIDE_PROCESSES[0].with_changes(id="SAL-RET-001", name="销售退货流程")
    workbook = write_xlsx([GUIDE_PROCESSES[0], changed, GUIDE_PROCESSES[2], new], "zh_CN")

    response = client.post(
        "/catalog/import",
        data={"csrf_token": csrf},
        files={"file": ("table1.xlsx", workbook, "application/octet-stream")},
    )

    assert response.status_code == 200, response.text
    assert "新增：1 · 更新：1 · 未变：2" in visible_text(response.text)
    assert container.catalog.get(SYSTEM, "SAL-RET-001").name == "销售退货流程"


def test_importing_a_bad_workbook_lists_every_problem_and_imports_nothing(
    client: TestClient, container: Container
) -> None:
    csrf = sign_in(client, "owner")
    sheet = "id,name,key_nodes,avg_hours,priority\nNEW-001,新流程,many,5,高\nNEW-002,另一个,3,-1,urgent\n"

    response = client.post(
        "/catalog/import", data={"csrf_token": csrf}, files={"file": ("bad.csv", sheet.encode(), "text/csv")}
    )

    assert response.status_code == 422
    text = visible_text(response.text)
    assert "未导入任何数据" in text
    problems = set(re.findall(r"<tr>\s*<td>[^<]*</td>\s*<td>(\d+)</td>\s*<td>([^<]*)</td>", response.text))
    assert {("2", "关键节点数量"), ("3", "平均处理时长(小时)"), ("3", "优化优先级(高/中/低)")} <= problems
    assert "应为 高、中 或 低，实际为 'urgent'" in text
    assert len(container.catalog.all(SYSTEM)) == 3


def test_key_node_slas_are_edited_on_the_edit_page(client: TestClient, container: Container) -> None:
    csrf = sign_in(client, "owner")
    edit = client.get("/catalog/SAL-ORD-001/edit")
    assert 'action="/catalog/SAL-ORD-001/slas"' in edit.text
    assert 'name="slas"' in edit.text
    saved = client.post(
        "/catalog/SAL-ORD-001/slas",
        data={"csrf_token": csrf, "slas": "审核订单 = PT4H\n\n发货: p2d\n"},
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    assert saved.headers["location"] == "/catalog/SAL-ORD-001/edit?slas=saved"
    assert [(s.node, s.duration) for s in container.catalog.slas(SYSTEM, "SAL-ORD-001")] == [
        ("审核订单", "PT4H"),
        ("发货", "P2D"),
    ]
    shown = client.get(saved.headers["location"])
    assert "审核订单 = PT4H\n发货 = P2D</textarea>" in shown.text
    assert 'role="status"' in shown.text

    bad = client.post(
        "/catalog/SAL-ORD-001/slas", data={"csrf_token": csrf, "slas": "审核订单 = PT4H\n\n发货 = next week"}
    )
    assert bad.status_code == 422
    assert 'aria-invalid="true"' in bad.text
    assert "发货 = next week</textarea>" in bad.text  # the text as typed
    assert re.search(r'id="f-slas-error">\s*<li>[^<]*3', bad.text)  # names the line
    assert len(container.catalog.slas(SYSTEM, "SAL-ORD-001")) == 2
    missing_sep = client.post("/catalog/SAL-ORD-001/slas", data={"csrf_token": csrf, "slas": "发货"})
    assert missing_sep.status_code == 422
    # the row's own form leaves the SLAs alone
    process = container.catalog.get(SYSTEM, "SAL-ORD-001")
    edited = client.post(
        "/catalog/SAL-ORD-001/edit",
        data=_form(csrf_token=csrf, id="SAL-ORD-001", name=process.name, version=str(process.version)),
        follow_redirects=False,
    )
    assert edited.status_code == 303, edited.text
    assert len(container.catalog.slas(SYSTEM, "SAL-ORD-001")) == 2


def test_a_viewer_may_not_save_slas(client: TestClient, container: Container) -> None:
    csrf = sign_in(client, "viewer")
    denied = client.post("/catalog/SAL-ORD-001/slas", data={"csrf_token": csrf, "slas": "审核订单 = PT4H"})
    assert denied.status_code == 403
    assert container.catalog.slas(SYSTEM, "SAL-ORD-001") == ()
