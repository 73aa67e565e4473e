"""The compact in-memory log: Categorical text columns, the streamed Parquet reader, the integer
view recoded from Categorical codes, and the per-case replay results without a dict of every case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import isthmus.mining as m
from isthmus.mining import _tabular
from isthmus.mining._encoded import encoded
from isthmus.mining._schema import normalise

NAMES = st.sampled_from(["Ship", "approve", "Álvaro", "创建订单", "b", "Zeta", "a b", "12"])


_SCHEMA = {"case:concept:name": m.CASE, "concept:name": m.ACTIVITY, "time:timestamp": m.TIMESTAMP}


def _frame(cases: list[list[str]]) -> pl.DataFrame:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    rows = [
        {"case:concept:name": f"C{c:03d}", "concept:name": a, "time:timestamp": start + timedelta(minutes=i)}
        for c, acts in enumerate(cases)
        for i, a in enumerate(acts)
    ]
    return pl.DataFrame(rows)


def test_text_columns_are_categorical_and_read_back_as_written(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text(
        "case,activity,timestamp,resource,system,amount\n"
        "2,b,2024-01-01T00:00:00Z,u1,ERP,3\n1,a,2024-01-01T00:00:00Z,u2,CRM,4\n"
    )
    log = m.read_log(path)
    schema = log.frame.schema
    for column in (m.CASE, m.ACTIVITY, m.RESOURCE, m.SYSTEM):
        assert isinstance(schema[column], pl.Categorical), column
    assert schema[m.LIFECYCLE] == pl.String
    assert schema["amount"] == pl.String
    # sorted by the case ids' text, not by the order their codes were handed out
    assert log.frame[m.CASE].to_list() == ["1", "2"]
    assert log.frame[m.ACTIVITY].to_list() == ["a", "b"]
    assert log.frame.filter(pl.col(m.SYSTEM) == "ERP")[m.RESOURCE].to_list() == ["u1"]
    assert log.frame.filter(pl.col(m.ACTIVITY).is_in(["b", "never seen"])).height == 1


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(NAMES, min_size=1, max_size=6), min_size=1, max_size=8), st.permutations(range(8)))
def test_activity_codes_rank_names_whatever_the_shared_dictionary_holds(
    cases: list[list[str]], noise: list[int]
) -> None:
    # Other columns and logs put strings into Polars' shared dictionary first, in any order, so
    # the activities' Categorical codes are neither dense nor in name order.
    pl.Series([f"noise-{i}" for i in noise] + ["Zeta", "12", "b"]).cast(pl.Categorical)
    log = m.EventLog.of(normalise(_frame(cases).rename(_SCHEMA)))
    enc = encoded(log)
    assert enc is not None
    names = sorted({a for acts in cases for a in acts})
    assert enc.names == tuple(names)
    assert [enc.names[c] for c in enc.codes.tolist()] == log.frame[m.ACTIVITY].to_list()
    assert [names.index(a) for a in log.frame[m.ACTIVITY].to_list()] == enc.codes.tolist()


@pytest.mark.parametrize(("zone", "slice_rows"), [(None, 4), ("UTC", 1 << 17), ("Asia/Shanghai", 1)])
def test_parquet_read_in_slices_equals_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, zone: str | None, slice_rows: int
) -> None:
    monkeypatch.setattr(_tabular, "PARQUET_SLICE_ROWS", slice_rows)
    frame = _frame([["a", "b"], ["b"], ["a", "c", "a"]]).with_columns(
        pl.col("time:timestamp").dt.convert_time_zone(zone)
        if zone
        else pl.col("time:timestamp").dt.replace_time_zone(None),
        pl.Series(m.INDEX, [9, 9, 9, 9, 9, 9]),  # a column named like the schema's own is replaced
        pl.col("concept:name").alias("note"),
    )
    path = tmp_path / "log.parquet"
    frame.sample(fraction=1.0, shuffle=True, seed=3).write_parquet(path, row_group_size=2)
    log = m.read_log(path)
    source = pl.read_parquet(path)
    expected = source.with_row_index("position").sort("case:concept:name", "time:timestamp", "position")
    assert log.frame[m.CASE].to_list() == expected["case:concept:name"].to_list()
    assert log.frame[m.ACTIVITY].to_list() == expected["concept:name"].to_list()
    assert log.frame["note"].to_list() == expected["note"].to_list()
    assert log.frame[m.INDEX].to_list() == expected["position"].to_list()
    assert log.frame[m.INDEX].dtype == pl.UInt32
    assert log.frame[m.TIMESTAMP].dtype == pl.Datetime("us", "UTC")
    stamps = expected["time:timestamp"]
    utc = stamps.dt.convert_time_zone("UTC") if zone else stamps.dt.replace_time_zone("UTC")
    assert log.frame[m.TIMESTAMP].to_list() == utc.dt.cast_time_unit("us").to_list()


def test_replay_results_per_case_without_a_dict() -> None:
    log = m.EventLog.of(normalise(_frame([["a", "b"], ["a", "c"], ["a", "b"]]).rename(_SCHEMA)))
    fitting = m.EventLog.presorted(log.frame.filter(pl.col(m.CASE) != "C001"))
    net = m.net_from_bpmn(m.discovered_bpmn(m.dfg(fitting)).encode())
    result = m.token_replay(log, net)
    cases = result.cases
    assert len(cases) == 3
    assert list(cases) == ["C000", "C001", "C002"]
    assert [c for c, r in cases.items() if not r.fit] == ["C001"]
    assert cases["C000"] == cases["C002"]
    assert cases["C001"].fitness < 1
    assert dict(cases.items()) == {c: cases[c] for c in ["C000", "C001", "C002"]}
    assert list(cases.values()) == [cases[c] for c in cases]
    assert result.deviating() == ["C001"]
    assert [c["case_id"] for c in result.as_dict()["cases"]] == ["C000", "C001", "C002"]
    with pytest.raises(KeyError):
        cases["nope"]


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.lists(NAMES, min_size=1, max_size=7), min_size=1, max_size=9),
    st.lists(st.integers(1, 6), min_size=1, max_size=6),
    st.integers(0, 10**9),
)
def test_timestamps_read_from_the_frames_chunks_as_from_one(
    cases: list[list[str]], pieces: list[int], seed: int
) -> None:
    import random

    rng = random.Random(seed)
    frame = normalise(_frame(cases).rename(_SCHEMA)).with_columns(
        pl.Series(
            m.TIMESTAMP,
            [
                datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(10**6))
                for _ in range(sum(map(len, cases)))
            ],
        )
    )
    whole = m.EventLog.of(frame)
    parts, start = [], 0
    for size in pieces:
        parts.append(whole.frame.slice(start, size))
        start += size
    parts.append(whole.frame.slice(start))
    chunked = m.EventLog.presorted(pl.concat(parts, rechunk=False))
    nonempty = sum(1 for p in parts if p.height)
    assert chunked.frame[m.TIMESTAMP].n_chunks() >= min(nonempty, 2)  # really chunked
    enc = encoded(chunked)
    assert enc is not None
    flat = whole.frame[m.TIMESTAMP].dt.epoch("us").to_list()
    assert len(enc.times) == len(flat)
    for lo in range(len(flat)):
        for hi in range(lo, len(flat) + 1):
            assert enc.times.span(lo, hi).tolist() == flat[lo:hi]
    assert m.performance_dfg(chunked) == m.performance_dfg(whole)
    assert m.case_durations(chunked).equals(m.case_durations(whole))
