"""Importers: encodings, delimiters, mappings, time zones, errors with line and column."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import isthmus.mining as m
from isthmus.errors import InvalidInput

CSV = "案例,活动,时间,系统\nSO-1,创建订单,2024-06-30 08:00:00,CRM\nSO-1,录入订单,2024-06-30 09:30:00,ERP\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "gbk"])
def test_chinese_csv_in_every_encoding(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "log.csv"
    path.write_bytes(CSV.replace(",", ";").encode(encoding))
    mapping = m.ColumnMapping(
        case="案例", activity="活动", timestamp="时间", system="系统", timezone="Asia/Shanghai"
    )
    log = m.read_log(path, mapping)
    assert log.frame[m.ACTIVITY].to_list() == ["创建订单", "录入订单"]
    assert log.frame[m.TIMESTAMP][0] == datetime(2024, 6, 30, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
    assert log.frame[m.SYSTEM].to_list() == ["CRM", "ERP"]


def test_bad_timestamp_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("case,activity,timestamp\n1,a,2024-01-01T00:00:00\n1,b,yesterday\n")
    with pytest.raises(InvalidInput) as info:
        m.read_log(path)
    assert "line 3" in info.value.message
    assert "column timestamp" in info.value.message


def test_bad_xes_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.xes"
    path.write_text(
        '<log><trace><string key="concept:name" value="1"/>\n<event><string key="x" value="y"/>\n</trace></log>'
    )
    with pytest.raises(InvalidInput) as info:
        m.read_log(path)
    assert "line" in info.value.message


def test_equal_timestamps_keep_source_order(tmp_path: Path) -> None:
    path = tmp_path / "tie.csv"
    path.write_text("case,activity,timestamp\n1,b,2024-01-01T00:00:00Z\n1,a,2024-01-01T00:00:00Z\n")
    assert m.read_log(path).frame[m.ACTIVITY].to_list() == ["b", "a"]


def test_ocel_flattened_on_an_object_type() -> None:
    path = Path("/work/shared/data/eventlogs/ocel20_example.jsonocel")
    if not path.exists():
        pytest.skip("shared logs missing")
    log = m.read_log(path, m.ColumnMapping(object_type="Purchase Order"))
    assert m.statistics(log).cases == 2
    with pytest.raises(InvalidInput):
        m.read_log(path)  # several object types: the caller must choose


traces = st.lists(st.lists(st.sampled_from("abcd"), min_size=1, max_size=6), min_size=1, max_size=20)


def _log(cases: list[list[str]]) -> m.EventLog:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    rows = [
        {"case_id": f"c{i}", "activity": a, "timestamp": start + timedelta(minutes=j)}
        for i, trace in enumerate(cases)
        for j, a in enumerate(trace)
    ]
    return m.EventLog.of(pl.DataFrame(rows))


@settings(max_examples=60, deadline=None)
@given(traces)
def test_dfg_equals_brute_force(cases: list[list[str]]) -> None:
    expected: dict[tuple[str, str], int] = {}
    for trace in cases:
        for a, b in itertools.pairwise(trace):
            expected[(a, b)] = expected.get((a, b), 0) + 1
    graph = m.dfg(_log(cases))
    assert graph.edges == expected
    assert sum(graph.start.values()) == len(cases) == sum(graph.end.values())
    assert sum(v.count for v in m.variants(_log(cases))) == len(cases)


@settings(max_examples=30, deadline=None)
@given(traces)
def test_parquet_round_trip(tmp_path_factory: pytest.TempPathFactory, cases: list[list[str]]) -> None:
    log = _log(cases)
    path = tmp_path_factory.mktemp("rt") / "log.parquet"
    log.frame.write_parquet(path)
    assert (
        m.read_log(path)
        .frame.select(m.CASE, m.ACTIVITY, m.TIMESTAMP)
        .equals(log.frame.select(m.CASE, m.ACTIVITY, m.TIMESTAMP))
    )


def test_value_stream_on_start_and_complete_events(tmp_path: Path) -> None:
    path = tmp_path / "vs.csv"
    path.write_text(
        "case,activity,timestamp,lifecycle,resource,system,customer\n"
        "1,Enter order,2024-01-01T08:00:00Z,start,ann,CRM,ACME\n"
        "1,Enter order,2024-01-01T08:10:00Z,complete,ann,CRM,ACME\n"
        "1,Enter order,2024-01-01T09:00:00Z,start,bob,ERP,ACME\n"
        "1,Enter order,2024-01-01T09:20:00Z,complete,bob,ERP,ACME\n"
    )
    log = m.read_log(path)
    inst = m.instances(log)
    assert inst["service_s"].to_list() == [600.0, 1200.0]
    assert inst["waiting_s"].to_list() == [0.0, 3000.0]
    assert m.rework(log)[0]["extra_executions"] == 1
    dup = m.duplicate_entry(log)
    assert dup["activities"][0]["systems"] == ["CRM", "ERP"]
    assert dup["attributes"][0]["attribute"] == "customer"
    assert m.handover(log) == [{"from": "ann", "to": "bob", "count": 1}]
    (breach,) = m.sla_breaches(log, {"Enter order": "PT30M"})
    assert (breach.instances, breach.breaches) == (2, 1)
    with pytest.raises(InvalidInput):
        m.parse_duration("P1M")


OCEL_XML = """<?xml version="1.0" encoding="UTF-8"?>
<log>
  <object-types><object-type name="Order"/><object-type name="Item"/></object-types>
  <event-types><event-type name="Place order"/><event-type name="Ship"/></event-types>
  <objects>
    <object id="o1" type="Order"/><object id="o2" type="Order"/><object id="i1" type="Item"/>
  </objects>
  <events>
    <event id="e1" type="Place order" time="2024-01-01T08:00:00+08:00">
      <attributes><attribute name="clerk">ann</attribute></attributes>
      <objects><relationship object-id="o1" qualifier="order"/><relationship object-id="i1" qualifier="item"/></objects>
    </event>
    <event id="e2" type="Place order" time="2024-01-01T09:00:00Z">
      <objects><relationship object-id="o2" qualifier="order"/></objects>
    </event>
    <event id="e3" type="Ship" time="2024-01-02T09:00:00Z">
      <objects><relationship object-id="o1" qualifier="order"/><relationship object-id="i1" qualifier="item"/></objects>
    </event>
  </events>
</log>
"""


def test_ocel_xml_flattened_on_orders(tmp_path: Path) -> None:
    path = tmp_path / "log.xmlocel"
    path.write_text(OCEL_XML)
    log = m.read_log(path, m.ColumnMapping(object_type="Order"))
    assert m.dfg(log).edges == {("Place order", "Ship"): 1}
    assert log.frame.filter(pl.col(m.CASE) == "o1")[m.TIMESTAMP][0] == datetime(2024, 1, 1, 0, 0, tzinfo=UTC)
    items = m.read_log(path, m.ColumnMapping(object_type="Item"))
    assert m.statistics(items).cases == 1


def test_filters_keep_whole_cases() -> None:
    log = _log([["a", "b"], ["a", "c", "c"], ["a", "b"]])
    assert m.statistics(m.filter_top_variants(log, 1)).cases == 2
    assert m.statistics(m.filter_attribute(log, m.ACTIVITY, ["c"])).cases == 1
    assert m.statistics(m.filter_attribute(log, m.ACTIVITY, ["c"], keep=False)).cases == 2
    assert m.statistics(m.filter_duration(log, min_s=120)).cases == 1
    start = datetime(2024, 1, 1, tzinfo=UTC)
    window = m.filter_time(log, start, start + timedelta(minutes=1))
    assert m.statistics(window).cases == 2
    events = m.filter_time(log, start, start, m.TimeMode.EVENTS)
    assert len(events) == 3
