"""Per-node SLAs of a catalog process: parsing the durations, validating a list, the form's lines,
and the workbook's SLA sheet beside the guide's table-1 sheet."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook

from isthmus.catalog import (
    GUIDE_COLUMNS,
    NodeSla,
    Process,
    ProcessId,
    parse_sla_lines,
    read_processes,
    read_slas,
    sla_duration,
    validate_slas,
    write_csv,
    write_xlsx,
)
from isthmus.catalog._spreadsheet import SHEET_TITLE, SLA_SHEET_TITLE
from isthmus.errors import InvalidInput

PROCESSES = [
    Process(id=ProcessId("SAL-ORD-001"), name="销售订单处理流程"),
    Process(id=ProcessId("PUR-REQ-001"), name="采购申请流程"),
]
SLAS = {ProcessId("SAL-ORD-001"): (NodeSla("审核订单", "PT4H"), NodeSla("发货", "P2D"))}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT4H", timedelta(hours=4)),
        ("p2d", timedelta(days=2)),
        ("P1DT12H30M", timedelta(days=1, hours=12, minutes=30)),
        ("P2W", timedelta(weeks=2)),
        ("PT0.5S", timedelta(seconds=0.5)),
    ],
)
def test_fixed_length_durations_parse(text: str, expected: timedelta) -> None:
    assert sla_duration(text) == expected


@pytest.mark.parametrize("text", ["P1Y", "P1M", "PT", "P", "4h", "P1DT", "", "PT-1H"])
def test_calendar_and_malformed_durations_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput, match="ISO 8601"):
        sla_duration(text)


@given(st.integers(0, 50), st.integers(0, 30), st.integers(0, 23), st.integers(0, 59), st.integers(0, 59))
def test_any_composed_duration_has_its_seconds(w: int, d: int, h: int, m: int, s: int) -> None:
    text = f"P{w}W{d}DT{h}H{m}M{s}S"
    assert sla_duration(text).total_seconds() == (((w * 7 + d) * 24 + h) * 60 + m) * 60 + s


def test_a_list_names_each_bad_entry() -> None:
    problems = validate_slas(
        [
            NodeSla("审核订单", "PT4H"),
            NodeSla("审核订单", "PT1H"),
            NodeSla(" ", "PT1H"),
            NodeSla("发货", "PT0S"),
            NodeSla("开票", "soon"),
        ]
    )
    fields = [p.location.field for p in problems if p.location]
    assert fields == ["slas[1].node", "slas[2].node", "slas[3].duration", "slas[4].duration"]
    assert validate_slas([NodeSla("审核订单", "PT4H")]) == []
    assert validate_slas([NodeSla(f"n{i}", "PT1H") for i in range(201)])[0].location.field == "slas"  # type: ignore[union-attr]


def test_form_lines_split_on_the_last_equals_sign() -> None:
    assert parse_sla_lines("审核 = 订单 = PT4H\n\n发货: P2D\n") == (
        NodeSla("审核 = 订单", "PT4H"),
        NodeSla("发货", "P2D"),
    )
    with pytest.raises(InvalidInput) as caught:
        parse_sla_lines("审核订单 = PT4H\n发货")
    assert caught.value.params["line"] == 2


def test_the_sla_sheet_round_trips_beside_an_untouched_table_1() -> None:
    data = write_xlsx(PROCESSES, slas=SLAS)
    workbook = load_workbook(io.BytesIO(data))
    assert workbook.sheetnames == [SHEET_TITLE, SLA_SHEET_TITLE]
    header = [c.value for c in workbook[SHEET_TITLE][1]][: len(GUIDE_COLUMNS)]
    assert header == [c.zh for c in GUIDE_COLUMNS]
    assert [[c.value for c in row] for row in workbook[SLA_SHEET_TITLE].iter_rows()] == [
        ["流程编号", "关键节点", "SLA"],
        ["SAL-ORD-001", "审核订单", "PT4H"],
        ["SAL-ORD-001", "发货", "P2D"],
    ]
    assert read_processes(data, "t.xlsx") == read_processes(write_xlsx(PROCESSES), "t.xlsx")
    assert read_slas(data, "t.xlsx", [p.id for p in PROCESSES]) == {
        "SAL-ORD-001": SLAS[ProcessId("SAL-ORD-001")],
        "PUR-REQ-001": (),
    }
    english = write_xlsx(PROCESSES, "en", slas=SLAS)
    assert read_slas(english, "t.xlsx", ["SAL-ORD-001"]) == {"SAL-ORD-001": SLAS[ProcessId("SAL-ORD-001")]}


def test_files_without_an_sla_sheet_say_nothing_about_slas() -> None:
    assert read_slas(write_xlsx(PROCESSES), "t.xlsx", ["SAL-ORD-001"]) is None
    assert read_slas(write_csv(PROCESSES), "t.csv", ["SAL-ORD-001"]) is None


def _with_sla_rows(*rows: tuple[str, str, str]) -> bytes:
    workbook = load_workbook(io.BytesIO(write_xlsx(PROCESSES, slas={})))
    for row in rows:
        workbook[SLA_SHEET_TITLE].append(list(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_a_bad_sla_row_names_sheet_row_and_column() -> None:
    data = _with_sla_rows(
        ("SAL-ORD-001", "审核订单", "PT4H"), ("SAL-ORD-001", "发货", "two days"), ("NOPE-1", "x", "PT1H")
    )
    with pytest.raises(InvalidInput) as caught:
        read_slas(data, "t.xlsx", [p.id for p in PROCESSES])
    described = [d.message for d in caught.value.details]
    assert described[0].startswith(f"t.xlsx, sheet {SLA_SHEET_TITLE}, row 4, column 流程编号")
    assert described[1].startswith(f"t.xlsx, sheet {SLA_SHEET_TITLE}, row 3, column SLA")
    duplicate = _with_sla_rows(("SAL-ORD-001", "审核订单", "PT4H"), ("SAL-ORD-001", "审核订单", "PT1H"))
    with pytest.raises(InvalidInput, match="row 3, column 关键节点"):
        read_slas(duplicate, "t.xlsx", ["SAL-ORD-001"])
