"""Review decisions in clustering: a pair kept apart stays apart (also through a third record), a merge stays merged."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from isthmus.errors import InvalidInput
from isthmus.quality import Decision, PairDecision, clusters_with_decisions, dedupe, pairs_for, record_ids

FRAME = pl.DataFrame(
    {
        "name": ["华通科技有限公司", "华通科技有限责任公司", "华通科技股份有限公司", "远大贸易", "恒信物流"],
        "phone": ["138 0013 8000", "+86 13800138000", "13800138000", "139 0000 0001", "137 0000 0002"],
        "city": ["上海", "上海市", "上海", "北京", "广州"],
    }
)


def test_without_decisions_the_three_variants_are_one_cluster() -> None:
    assert dedupe(FRAME).as_dict() == {"clusters": [[0, 1, 2]]}


def test_a_pair_kept_apart_stays_apart_even_through_a_third_record() -> None:
    ids = record_ids(FRAME)
    apart = pairs_for([ids[0], ids[2]], Decision.APART)
    clusters = dedupe(FRAME, decisions=apart).as_dict()["clusters"]
    assert not any(0 in c and 2 in c for c in clusters)
    assert clusters == [[0, 1]]  # 0–1 is the strongest link; 1–2 would join 2 to 0


def test_a_merge_stays_merged_and_decisions_follow_the_records_not_the_rows() -> None:
    ids = record_ids(FRAME)
    merge = pairs_for([ids[3], ids[4]], Decision.MERGE)
    assert dedupe(FRAME, decisions=merge).as_dict()["clusters"] == [[0, 1, 2], [3, 4]]
    shuffled = FRAME.reverse()  # the same records in other rows
    assert dedupe(shuffled, decisions=merge).as_dict()["clusters"] == [[0, 1], [2, 3, 4]]


def test_a_changed_record_drops_its_decision() -> None:
    ids = record_ids(FRAME)
    merge = pairs_for([ids[3], ids[4]], Decision.MERGE)
    changed = FRAME.with_columns(
        pl.when(pl.int_range(pl.len()) == 4)
        .then(pl.lit("恒信物流集团"))
        .otherwise(pl.col("name"))
        .alias("name")
    )
    assert dedupe(changed, decisions=merge).as_dict()["clusters"] == [[0, 1, 2]]


def test_pairs_for_a_cluster() -> None:
    assert pairs_for(["c", "a", "b"], Decision.MERGE) == [
        PairDecision("a", "c", Decision.MERGE),
        PairDecision("b", "c", Decision.MERGE),
    ]
    assert len(pairs_for(["c", "a", "b"], Decision.APART)) == 3
    with pytest.raises(InvalidInput, match="at least two different records"):
        pairs_for(["a", "a"], Decision.MERGE)
    with pytest.raises(InvalidInput, match="expected merge or apart"):
        Decision.parse("join")


links = st.lists(st.tuples(st.integers(0, 9), st.integers(0, 9), st.floats(0.5, 1.0)), max_size=30)
pairs = st.lists(st.tuples(st.integers(0, 9), st.integers(0, 9)), max_size=6)


@given(links, pairs, pairs)
def test_decisions_always_hold(
    found: list[tuple[int, int, float]], merge: list[tuple[int, int]], apart: list[tuple[int, int]]
) -> None:
    apart = [(a, b) for a, b in apart if a != b and (a, b) not in merge and (b, a) not in merge]
    links_ = [(a, b, s) for a, b, s in found if a != b]
    merge = [(a, b) for a, b in merge if a != b]
    clusters = [set(rows) for rows, _ in clusters_with_decisions(links_, merge, apart)]
    for a, b in apart:
        assert not any(a in c and b in c for c in clusters)
    assert all(len(c) > 1 for c in clusters)
    assert sum(len(c) for c in clusters) == len(set().union(*clusters)) if clusters else True  # disjoint
