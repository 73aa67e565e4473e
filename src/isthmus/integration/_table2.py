"""The guide's table 2 (系统对接需求明细表), one row per flow, computed from its definition."""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill

from isthmus.integration._definition import Direction, FlowDefinition
from isthmus.integration._messages import DeployedFlow, TestStatus

COLUMNS = (
    "系统A",
    "系统B",
    "方向",
    "字段映射",
    "交换频率",
    "接口类型",
    "安全要求",
    "开发负责人",
    "测试状态",
    "上线时间",
)
# The headers exactly as the guide's template 2 prints them (the short COLUMNS are the UI's and JSON's keys).
GUIDE_HEADERS = (
    "对接系统A",
    "对接系统B",
    "数据交换方向",
    "数据字段映射",
    "交换频率",
    "接口类型",
    "安全要求",
    "开发负责人",
    "测试状态",
    "上线时间节点",
)
SHEET_TITLE = "系统对接需求明细表"
_NAME = re.compile(r"^[A-Za-z_][\w]*$")
INTERFACE_TYPES = {
    "http": "API (REST/JSON)",
    "webhook": "API (REST/JSON)",
    "sql": "数据库直连 (direct database)",
    "files": "文件交换 (CSV file exchange)",
    "soap": "API (SOAP/XML)",
    "jsonrpc": "API (JSON-RPC)",
    "xmlrpc": "API (XML-RPC)",
}
TEST_STATUS = {TestStatus.NOT_STARTED: "未开始", TestStatus.PASSED: "已完成", TestStatus.FAILED: "测试中"}
_AUTH = {"oauth2": "OAuth 2.0", "basic": "Basic", "api_key": "API key"}


@dataclass(frozen=True, slots=True)
class Table2Row:
    flow_id: str
    system_a: str
    system_b: str
    direction: str
    field_mapping: str
    frequency: str
    interface_type: str
    security: str
    owner: str
    test_status: str
    go_live: str

    def cells(self) -> tuple[str, ...]:
        """In the order of :data:`COLUMNS`."""
        return (
            self.system_a,
            self.system_b,
            self.direction,
            self.field_mapping,
            self.frequency,
            self.interface_type,
            self.security,
            self.owner,
            self.test_status,
            self.go_live,
        )

    def as_dict(self) -> dict[str, Any]:
        return {"flow": self.flow_id} | dict(zip(COLUMNS, self.cells(), strict=True))


def _mapping_text(flow: FlowDefinition) -> str:
    parts = []
    for target, expression in flow.mapping.items():
        source = expression.strip()
        left = f"{flow.source.system}.{source}" if _NAME.match(source) else f"({source})"
        parts.append(f"{left}→{flow.target.system}.{target}")
    return ", ".join(parts)


def _security(flow: FlowDefinition) -> str:
    if flow.security:
        return flow.security
    auth = str(flow.target.options.get("auth", flow.source.options.get("auth", "")))
    masked = [t.field for t in flow.transforms if t.mask is not None]
    parts = [_AUTH.get(auth, auth)] if auth else []
    if masked:
        parts.append("masking: " + ", ".join(masked))
    return "; ".join(parts)


def table2_row(flow: FlowDefinition, deployed: DeployedFlow) -> Table2Row:
    """The row of ``flow`` in the guide's layout (CRM→ERP: ``CRM.order_id→ERP.vbeln`` …)."""
    arrow = "↔" if flow.direction is Direction.BOTH else "→"
    kind = flow.target.connector if flow.source.connector == "webhook" else flow.source.connector
    return Table2Row(
        flow_id=flow.id,
        system_a=flow.source.system,
        system_b=flow.target.system,
        direction=f"{flow.source.system}{arrow}{flow.target.system}",
        field_mapping=_mapping_text(flow),
        frequency=flow.trigger.describe(),
        interface_type=INTERFACE_TYPES.get(kind, kind),
        security=_security(flow),
        owner=flow.owner,
        test_status=TEST_STATUS[deployed.test_status],
        go_live=(flow.go_live or deployed.deployed_at.date()).isoformat(),
    )


def table2_workbook(rows: Iterable[Table2Row]) -> bytes:
    """Table 2 as the guide prints it (sheet name, its ten headers, one row per flow), so the file can
    replace the hand-kept spreadsheet; the CLI and the web export share it."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None  # a new Workbook always has one sheet
    sheet.title = SHEET_TITLE
    sheet.append(list(GUIDE_HEADERS))
    for row in rows:
        sheet.append(list(row.cells()))
    header_fill = PatternFill("solid", fgColor="DDE5F3")
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = header_fill
        cell.alignment = Alignment(horizontal="center", vertical="center")
    for column, width in zip("ABCDEFGHIJ", (10, 10, 14, 48, 22, 24, 28, 12, 10, 12), strict=True):
        sheet.column_dimensions[column].width = width
    for line in sheet.iter_rows(min_row=2):
        for cell in line:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
