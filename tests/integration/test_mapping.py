from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


text_or_null = st.one_of(
    st.none(),
    st.text(max_size=14),
    st.from_regex(r"1[3-9]\d{9}", fullmatch=True),
    st.from_regex(r"-?\d{1,6}(\.\d{1,3})?", fullmatch=True),
    st.sampled_from(
        ["0012.50", " 12.5 ", "1,200.50", "2024-06-30", "30/06/2024", "+8613812345678", "销售部"]
    ),
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "order_id": text_or_null,
                "cust_code": text_or_null,
                "order_date": text_or_null,
                "amount": text_or_null,
                "phone": text_or_null,
            }
        ),
        min_size=1,
        max_size=12,
    )
)
def test_chunk_mapping_gives_each_row_what_map_record_gives_it(rows: list[dict[str, str | None]]) -> None:
    mapper = FlowMapper(parse_flow(flow_text("crm-erp-orders", Path("/tmp"))))
    frame = pl.DataFrame(rows, schema=dict.fromkeys(rows[0], pl.String))
    batch = list(mapper.map_frame(frame, first_row=1))
    single = [mapper.map_record(r, 1 + i) for i, r in enumerate(rows)]
    assert [type(r) for r in batch] == [type(r) for r in single]
    for got, want in zip(batch, single, strict=True):
        if isinstance(want, MappedRecord):
            assert isinstance(got, MappedRecord)
            assert (got.key, got.payload, got.display, got.row) == (
                want.key,
                want.payload,
                want.display,
                want.row,
            )
        else:
            assert isinstance(got, Rejected)
            assert (got.row, got.error) == (want.row, want.error)


def test_a_chunk_keeps_the_last_row_of_a_key_and_counts_the_others(orders: FlowMapper) -> None:
    rows = [
        ORDER | {"order_id": "SO-1", "cust_code": "old"},
        ORDER | {"order_id": "SO-2"},
        ORDER | {"order_id": "SO-1"},
    ]
    chunk = orders.map_chunk(pl.DataFrame(rows), first_row=10)
    assert chunk.duplicates == 1
    assert chunk.frame.select("vbeln", "kunnr", "__row").rows() == [
        ("SO-2", "C001", 11),
        ("SO-1", "C001", 12),
    ]
    assert (chunk.first_row, chunk.last_row) == (10, 12)
