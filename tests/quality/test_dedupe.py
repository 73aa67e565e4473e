"""De-duplication: measured precision/recall on generated customers, partition and symmetry properties."""

from __future__ import annotations

from itertools import combinations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from isthmus.errors import InvalidInput
from isthmus.quality import (
    Cluster,
    DedupeConfig,
    Strategy,
    Survivorship,
    candidate_pairs,
    clusters_from_pairs,
    dedupe,
    detect_columns,
    golden_records,
    match_keys,
)
from isthmus.testing.customers import generate_customers


def _frame(rows: list[dict[str, str | None]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=dict.fromkeys(rows[0], pl.String))


@pytest.fixture(scope="module")
def customers() -> tuple[pl.DataFrame, set[tuple[int, int]]]:
    data = generate_customers(20_000, seed=11)
    return _frame(data.rows), data.true_pairs()


def test_precision_and_recall_on_known_duplicates(
    customers: tuple[pl.DataFrame, set[tuple[int, int]]],
) -> None:
    frame, truth = customers
    result = dedupe(frame)
    predicted = {p for c in result.clusters for p in combinations(c.rows, 2)}
    hits = len(predicted & truth)
    assert hits / len(predicted) >= 0.98
    assert hits / len(truth) >= 0.95
    assert result.candidate_pairs < 20 * frame.height  # blocking, not 2·10⁸ comparisons


def test_clusters_are_a_partition_and_do_not_depend_on_row_order(
    customers: tuple[pl.DataFrame, set[tuple[int, int]]],
) -> None:
    frame, _ = customers
    frame = frame.head(4000)
    clusters = dedupe(frame).clusters
    seen = [r for c in clusters for r in c.rows]
    assert len(seen) == len(set(seen))
    assert all(len(c.rows) >= 2 for c in clusters)
    order = list(range(frame.height))[::-1]
    reversed_clusters = dedupe(frame[order]).clusters
    back = sorted(tuple(sorted(order[r] for r in c.rows)) for c in reversed_clusters)
    assert back == [c.rows for c in clusters]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30)), max_size=40))
def test_union_find_is_a_partition_with_every_edge_inside(edges: list[tuple[int, int]]) -> None:
    pairs = [(a, b, 0.9) for a, b in edges if a != b]
    clusters = clusters_from_pairs(pairs)
    where = {r: i for i, c in enumerate(clusters) for r in c.rows}
    assert len(where) == sum(len(c.rows) for c in clusters)
    assert all(where[a] == where[b] for a, b, _ in pairs)
    assert clusters == clusters_from_pairs([(b, a, s) for a, b, s in pairs])  # symmetric
    assert clusters == sorted(clusters, key=lambda c: c.rows)


def test_chinese_and_english_headers_are_detected() -> None:
    assert detect_columns(["名称", "电话", "地址", "城市"]) == {
        "name": "名称",
        "phone": "电话",
        "address": "地址",
        "city": "城市",
    }
    assert detect_columns(["Customer Name", "Mobile", "ADDRESS"]) == {
        "name": "Customer Name",
        "phone": "Mobile",
        "address": "ADDRESS",
    }


def test_match_keys_erase_formatting() -> None:
    frame = pl.DataFrame({"name": ["华通科技（集团）有限责任公司", "华通科技有限公司", "Acme Co., Ltd."],
                          "phone": ["+86 138-0013-8000", "１３８００１３８０００", "0086 10 65529988"]})  # fmt: skip
    keys = match_keys(frame, {"name": "name", "phone": "phone"})
    assert keys["name"].to_list() == ["华通科技", "华通科技", "acme"]
    assert keys["phone"].to_list() == ["13800138000", "13800138000", "1065529988"]


def test_oversized_blocks_are_skipped() -> None:
    keys = pl.DataFrame({"row": list(range(60)), "name": ["same"] * 60, "phone": [None] * 60,
                         "address": [None] * 60, "city": [None] * 60}, schema_overrides={"phone": pl.String,
                         "address": pl.String, "city": pl.String})  # fmt: skip
    assert candidate_pairs(keys, max_block=50).height == 0
    assert candidate_pairs(keys, max_block=60).height == 60 * 59 // 2


def test_exact_keys_and_missing_columns() -> None:
    frame = pl.DataFrame({"code": ["C1", "c1 ", "C2"], "名称": ["甲", "乙", "丙"]})
    assert dedupe(frame, DedupeConfig(keys=("code",), threshold=1.0)).as_dict() == {"clusters": [[0, 1]]}
    with pytest.raises(InvalidInput, match="missing column 'tel'"):
        dedupe(frame, DedupeConfig(columns={"phone": "tel"}))


def test_golden_records_by_strategy() -> None:
    frame = pl.DataFrame(
        {
            "name": ["华通", "华通科技", "华通科技有限公司"],
            "phone": [None, "13800138000", None],
            "updated": ["2024-01-01", "2023-05-01", "2024-06-30"],
            "source": ["ERP", "CRM", "OA"],
        }
    )
    cluster = [Cluster((0, 1, 2), 0.9)]
    complete = golden_records(frame, cluster).row(0, named=True)
    assert (complete["name"], complete["phone"]) == ("华通科技", "13800138000")
    recent = golden_records(frame, cluster, Survivorship(Strategy.MOST_RECENT, order_by="updated")).row(
        0, named=True
    )
    assert (recent["name"], recent["phone"]) == ("华通科技有限公司", "13800138000")
    by_source = Survivorship(Strategy.SOURCE_PRIORITY, source="source", priority=("ERP", "CRM"))
    assert golden_records(frame, cluster, by_source).row(0, named=True)["name"] == "华通"
