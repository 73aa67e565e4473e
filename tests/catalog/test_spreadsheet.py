"""Table 1 in and out of Excel and CSV: the guide's headers, lossless round trips, all-or-nothing."""

from __future__ import annotations

import io
from collections.abc import Sequence
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook

from isthmus.catalog import (
    GUIDE_COLUMNS,
    Priority,
    PriorityScores,
    Process,
    ProcessId,
    read_processes,
    settle_priority,
    write_csv,
    write_xlsx,
)
from isthmus.demo import GUIDE_PROCESSES
from isthmus.errors import InvalidInput

GUIDE_HEADERS = [
    "流程编号",
    "流程名称",
    "所属部门",
    "当前系统支持情况",
    "流程负责人",
    "参与角色",
    "关键节点数量",
    "平均处理时长(小时)",
    "主要痛点问题",
    "优化优先级(高/中/低)",
]


def _workbook(rows: Sequence[Sequence[object]]) -> bytes:
    wb = Workbook()
    sheet = wb.active
    assert sheet is not None
    sheet.title = "表1"
    for row in rows:
        sheet.append(list(row))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_export_uses_the_guides_chinese_headers_exactly() -> None:
    sheet = load_workbook(io.BytesIO(write_xlsx(list(GUIDE_PROCESSES)))).active
    assert sheet is not None
    headers = [c.value for c in sheet[1]][:10]
    assert headers == GUIDE_HEADERS == [c.zh for c in GUIDE_COLUMNS]


def test_the_guides_own_table_text_imports() -> None:
    """The row exactly as the guide prints it: numbered pain points separated by ';'."""
    data = _workbook(
        [
            GUIDE_HEADERS,
            [
                "SAL-ORD-001",
                "销售订单处理流程",
                "销售部",
                "部分支持(CRM无库存接口)",
                "张*",
                "销售专员、仓库主管、财务专员",
                5,
                48,
                "1.库存查询需手动登录ERP;2.审批节点冗余(销售经理→财务→总监);3.订单状态更新不及时",
                "高",
            ],
        ]
    )
    (process,) = read_processes(data, "table1.xlsx")
    assert process == GUIDE_PROCESSES[0].with_changes(version=1)
    assert process.pain_points[1] == "审批节点冗余(销售经理→财务→总监)"


def test_english_headers_and_full_width_brackets_are_accepted() -> None:
    headers = [
        "id",
        "name",
        "department",
        "system_support",
        "owner",
        "roles",
        "key_nodes",
        "avg_hours",
        "pain_points",
        "priority",
    ]
    data = _workbook([headers, ["X-1", "n", "d", "s", "o", "a, b", 2, 1.5, "p", "low"]])
    (process,) = read_processes(data, "en.xlsx")
    assert (process.roles, process.avg_hours, process.priority) == (("a", "b"), Decimal("1.5"), Priority.LOW)
    full_width = ["流程编号", "流程名称", "优化优先级（高/中/低）"]
    assert (
        read_processes(_workbook([full_width, ["X-2", "n", "中"]]), "f.xlsx")[0].priority is Priority.MEDIUM
    )


@pytest.mark.parametrize("writer", [write_xlsx, write_csv], ids=["xlsx", "csv"])
def test_guide_rows_round_trip(writer: object) -> None:
    data = writer(list(GUIDE_PROCESSES))  # type: ignore[operator]
    name = "t.xlsx" if writer is write_xlsx else "t.csv"
    assert read_processes(data, name) == [p.with_changes(version=1) for p in GUIDE_PROCESSES]


def test_bad_rows_are_all_reported_with_sheet_row_and_column_and_nothing_returned() -> None:
    data = _workbook(
        [
            GUIDE_HEADERS,
            ["OK-1", "fine", "", "", "", "", 1, 1, "", "高"],
            ["BAD-1", "n", "", "", "", "", "five", 1, "", "高"],
            ["BAD-2", "n", "", "", "", "", 1, -3, "", "urgent"],
            ["OK-1", "dup", "", "", "", "", 1, 1, "", "低"],
        ]
    )
    with pytest.raises(InvalidInput) as caught:
        read_processes(data, "bad.xlsx")
    messages = [d.message for d in caught.value.details]
    assert (
        "bad.xlsx, sheet 表1, row 3, column 关键节点数量: expected a whole number of nodes (0–10000), got 'five'"
        in messages
    )
    assert any("row 4, column 平均处理时长(小时)" in m for m in messages)
    assert any("row 4, column 优化优先级(高/中/低)" in m and "'urgent'" in m for m in messages)
    assert any("row 5" in m and "duplicate process id 'OK-1', first seen at row 2" in m for m in messages)
    assert "nothing was imported" in caught.value.message


@pytest.mark.parametrize(
    ("data", "name", "expected"),
    [
        (b"not a zip", "x.xlsx", "not a readable Excel workbook"),
        (b"", "x.csv", "the file is empty"),
        (b"\xff\xfe\x00garbage", "x.pdf", "expected an .xlsx or .csv file"),
        ("流程编号,colour\nA,red\n".encode(), "x.csv", "unknown header 'colour'"),
        ("流程名称\n名字\n".encode(), "x.csv", "missing the required column 流程编号"),
    ],
)
def test_unreadable_files_fail_clearly(data: bytes, name: str, expected: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        read_processes(data, name)
    text = caught.value.message + " ".join(d.message for d in caught.value.details)
    assert expected in text


def test_gb18030_csv_from_chinese_excel_imports() -> None:
    text = "流程编号,流程名称,优化优先级(高/中/低)\nPUR-REQ-001,采购申请流程,中\n"
    (process,) = read_processes(text.encode("gb18030"), "gbk.csv")
    assert process.name == "采购申请流程"


line = (
    st.text(
        alphabet=st.characters(
            blacklist_categories=("Cs", "Cc"), blacklist_characters="\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
        ),
        min_size=1,
        max_size=30,
    )
    .map(str.strip)
    .filter(bool)
)
role = line.filter(lambda s: not any(sep in s for sep in "、,，;；"))
processes = st.builds(
    lambda pid, name, dept, roles, nodes, hours, pains, prio, scores, manual: settle_priority(
        Process(
            id=ProcessId(pid),
            name=name,
            department=dept,
            roles=tuple(roles),
            key_nodes=nodes,
            avg_hours=Decimal(hours).quantize(Decimal("0.01")).normalize(),
            pain_points=tuple(pains),
            priority=prio,
            scores=scores,
            priority_manual=manual or scores is None,
        )
    ),
    st.from_regex(r"[A-Z]{3}-[A-Z]{3}-[0-9]{3}", fullmatch=True),
    line,
    line,
    st.lists(role, max_size=4),
    st.integers(0, 10_000),
    st.decimals(min_value=0, max_value=100_000, places=2, allow_nan=False, allow_infinity=False),
    st.lists(line, max_size=4),
    st.sampled_from(Priority),
    st.none()
    | st.builds(PriorityScores, value=st.integers(1, 5), pain=st.integers(1, 5), ease=st.integers(1, 5)),
    st.booleans(),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(processes, min_size=1, max_size=5, unique_by=lambda p: p.id))
def test_any_valid_catalog_round_trips_through_excel_and_csv(items: list[Process]) -> None:
    expected = [p.with_changes(version=1) for p in items]
    assert read_processes(write_xlsx(items), "r.xlsx") == expected
    assert read_processes(write_csv(items), "r.csv") == expected
