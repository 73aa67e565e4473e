from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from isthmus.demo.integration import flow_text
from isthmus.integration import FlowMapper, MappedRecord, Rejected, mask_name, parse_flow, to_xml


@pytest.fixture
def orders(tmp_path: Path) -> FlowMapper:
    return FlowMapper(parse_flow(flow_text("crm-erp-orders", tmp_path)))


@pytest.fixture
def employees(tmp_path: Path) -> FlowMapper:
    return FlowMapper(parse_flow(flow_text("oa-hr-employees", tmp_path)))


ORDER = {
    "order_id": "SO-1",
    "cust_code": "C001",
    "order_date": "2024-06-30",
    "amount": "1200.50",
    "phone": "13812345678",
}


def test_one_order_is_mapped_typed_and_masked(orders: FlowMapper) -> None:
    result = orders.map_record(ORDER)
    assert isinstance(result, MappedRecord)
    assert result.key == "SO-1"
    assert result.payload == {
        "vbeln": "SO-1",
        "kunnr": "C001",
        "erdat": "2024-06-30",
        "netwr": "1200.50",
        "telf1": "138****5678",
    }


@pytest.mark.parametrize(
    ("phone", "ok"),
    [
        ("13812345678", True),
        ("+8613812345678", True),
        ("+85213812345678", True),
        ("1381234567", False),
        ("abc", False),
    ],
)
def test_chg_2024_008_phone_formats(orders: FlowMapper, phone: str, ok: bool) -> None:
    result = orders.map_record(ORDER | {"phone": phone})
    assert isinstance(result, MappedRecord) is ok


def test_a_bad_value_is_rejected_with_its_field(orders: FlowMapper) -> None:
    result = orders.map_record(ORDER | {"order_date": "30/06/2024"}, row=7)
    assert isinstance(result, Rejected)
    assert result.row == 7
    assert "erdat" in result.error


def test_code_tables_and_masks(employees: FlowMapper) -> None:
    result = employees.map_record(
        {"emp_id": "E0001", "name": "王小明", "dept_name": "销售部", "phone": "13912345678"}
    )
    assert isinstance(result, MappedRecord)
    assert result.payload == {"emp_id": "E0001", "name": "王*明", "dept_code": "SAL", "phone": "139****5678"}
    unknown = employees.map_record(
        {"emp_id": "E0002", "name": "张三", "dept_name": "外星部", "phone": "13912345678"}
    )
    assert isinstance(unknown, Rejected)
    assert "code table" in unknown.error


def test_batch_mode_gives_the_row_wise_result_with_row_numbers(orders: FlowMapper) -> None:
    rows = [ORDER | {"order_id": f"SO-{i}"} for i in range(5)]
    rows[2] = rows[2] | {"phone": "12"}
    rows[4] = rows[4] | {"amount": "n/a"}
    batch = list(orders.map_frame(pl.DataFrame(rows), first_row=101))
    single = [orders.map_record(r, 101 + i) for i, r in enumerate(rows)]
    assert [type(r) for r in batch] == [MappedRecord, MappedRecord, Rejected, MappedRecord, Rejected]
    assert [r.row for r in batch if isinstance(r, Rejected)] == [103, 105]
    assert [r.payload for r in batch if isinstance(r, MappedRecord)] == [
        r.payload for r in single if isinstance(r, MappedRecord)
    ]


def test_names_and_xml() -> None:
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳娜娜") == "欧**娜"
    assert to_xml({"vbeln": "SO-1", "kunnr": "C1"}, root="Order") == (
        b"<?xml version='1.0' encoding='UTF-8'?>\n<Order><vbeln>SO-1</vbeln><kunnr>C1</kunnr></Order>"
    )
