"""The numpy fast paths (``_encoded.py``) equal the plain-Polars reference definitions on any log.

The pm4py comparisons run on a few real logs; these properties cover the shapes those logs lack:
hundreds of activities (several 32-bit words per variant), long cases, ties, negative-free but
huge gaps (the ``lexsort`` fallback of the performance DFG), single-event cases, empty logs.
"""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

import isthmus.mining as m
from isthmus.mining import _conformance, _discovery, _encoded, _filters
from isthmus.mining._token_replay import label_map, silent_paths

EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


@st.composite
def logs(draw: st.DrawFn) -> m.EventLog:
    pool = draw(st.integers(1, 300))
    cases = draw(st.integers(0, 25))
    huge = draw(st.booleans())
    rows: dict[str, list[object]] = {m.CASE: [], m.ACTIVITY: [], m.TIMESTAMP: []}
    for case in range(cases):
        length = draw(st.integers(1, 40))
        moment = EPOCH + timedelta(seconds=draw(st.integers(0, 10**6)))
        for _ in range(length):
            rows[m.CASE].append(f"c{case:02d}")
            rows[m.ACTIVITY].append(f"a{draw(st.integers(0, pool - 1))}")
            rows[m.TIMESTAMP].append(moment)
            step = draw(st.sampled_from([0, 1, 7, 10**15]) if huge else st.integers(0, 10**9))
            moment += timedelta(microseconds=step)
    frame = pl.DataFrame(
        rows, schema={m.CASE: pl.String, m.ACTIVITY: pl.String, m.TIMESTAMP: pl.Datetime("us", "UTC")}
    )
    ordered = m.EventLog.of(frame.sample(fraction=1.0, shuffle=True, seed=draw(st.integers(0, 9)))).frame
    # in chunks cut anywhere, as a block-wise CSV import or a Parquet file with row groups leaves it
    cuts = sorted(draw(st.lists(st.integers(0, ordered.height), max_size=4)))
    bounds = [0, *cuts, ordered.height]
    pieces = [ordered.slice(a, b - a) for a, b in itertools.pairwise(bounds)]
    return m.EventLog.presorted(pl.concat(pieces, rechunk=False))


def close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-9)


@settings(max_examples=60, deadline=None)
@given(logs())
def test_dfg_and_variants_equal_the_reference(log: m.EventLog) -> None:
    assert _encoded.encoded(log) is not None
    fast, slow = m.dfg(log), _discovery._dfg_reference(log)
    assert list(fast.edges.items()) == list(slow.edges.items())
    assert list(fast.start.items()) == list(slow.start.items())
    assert list(fast.end.items()) == list(slow.end.items())
    assert m.variants(log) == _discovery._variants_reference(log)
    with_cases = m.variants(log, with_cases=True)
    reference = _discovery._variants_reference(log, with_cases=True)
    assert [(v.activities, v.count, sorted(v.cases)) for v in with_cases] == [
        (v.activities, v.count, sorted(v.cases)) for v in reference
    ]
    assert m.case_durations(log).equals(_discovery._case_durations_reference(log))
    assert m.statistics(log).variants == len(reference)
    for k in (0, 1, 3):
        assert m.filter_top_variants(log, k).frame.equals(_filters._top_variants_reference(log, k).frame)


@settings(max_examples=60, deadline=None)
@given(logs())
def test_performance_dfg_equals_the_reference(log: m.EventLog) -> None:
    fast, slow = m.performance_dfg(log), _discovery._performance_reference(log)
    assert list(fast.edges) == list(slow.edges)
    for edge, p in fast.edges.items():
        q = slow.edges[edge]
        assert (p.count, p.min_s, p.max_s) == (q.count, q.min_s, q.max_s)
        for a, b in ((p.mean_s, q.mean_s), (p.median_s, q.median_s), (p.sum_s, q.sum_s)):
            assert close(a, b)
        assert close(p.stdev_s, q.stdev_s)
    assert (fast.start, fast.end) == (slow.start, slow.end)


@settings(max_examples=25, deadline=None)
@given(logs())
def test_token_replay_equals_the_reference(log: m.EventLog) -> None:
    net = m.net_from_bpmn(m.discovered_bpmn(m.dfg(log), coverage=0.8).encode())
    fast = m.token_replay(log, net)
    slow = _conformance._token_replay_reference(log, net, silent_paths(net), label_map(net))
    assert fast == slow
    assert list(fast.cases) == list(slow.cases)


def test_a_log_with_a_missing_activity_takes_the_reference_path() -> None:
    log = m.EventLog.of(
        pl.DataFrame(
            {
                m.CASE: ["1", "1", "2"],
                m.ACTIVITY: ["a", None, "a"],
                m.TIMESTAMP: [EPOCH, EPOCH + timedelta(hours=1), EPOCH],
            }
        )
    )
    assert _encoded.encoded(log) is None
    assert m.dfg(log).edges == {("a", None): 1}  # type: ignore[comparison-overlap]
    assert [v.count for v in m.variants(log)] == [1, 1]


def test_the_encoding_is_computed_once_per_log() -> None:
    log = m.EventLog.of(pl.DataFrame({m.CASE: ["1"], m.ACTIVITY: ["a"], m.TIMESTAMP: [EPOCH]}))
    assert _encoded.encoded(log) is _encoded.encoded(log)
    assert m.dfg(log).start == {"a": 1}


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 2), st.integers(0, 3)), min_size=2, max_size=12),
    st.lists(st.integers(1, 6), max_size=6),
    st.booleans(),
)
def test_the_order_check_equals_sorting(rows: list[tuple[int, int]], cuts: list[int], shuffle: bool) -> None:
    """``_in_order`` walks the columns chunk by chunk; chunks may split a case anywhere."""
    from isthmus.mining._log import _in_order

    frame = pl.DataFrame(
        {
            m.CASE: [f"c{c}" for c, _ in rows],
            m.TIMESTAMP: [EPOCH + timedelta(seconds=t) for _, t in rows],
            m.INDEX: list(range(len(rows))),
        },
        schema={m.CASE: pl.String, m.TIMESTAMP: pl.Datetime("us", "UTC"), m.INDEX: pl.UInt64},
    )
    # sorted by case only (rows of a case in any order), or fully sorted
    frame = frame.sort(m.CASE, maintain_order=True) if shuffle else frame.sort(m.CASE, m.TIMESTAMP, m.INDEX)
    pieces, start = [], 0
    for cut in cuts:
        pieces.append(frame.slice(start, cut))
        start += cut
    pieces.append(frame.slice(start))
    chunked = pl.concat(pieces, rechunk=False)
    assert _in_order(chunked) == frame.equals(frame.sort(m.CASE, m.TIMESTAMP, m.INDEX))


def test_the_order_check_looks_across_chunk_boundaries() -> None:
    from isthmus.mining._log import _in_order

    def frame(seconds: list[int]) -> pl.DataFrame:
        return pl.DataFrame(
            {
                m.CASE: ["c"] * len(seconds),
                m.TIMESTAMP: [EPOCH + timedelta(seconds=s) for s in seconds],
                m.INDEX: pl.Series(range(len(seconds)), dtype=pl.UInt64),
            }
        )

    for seconds, expected in (([1, 2], True), ([2, 1], False), ([3, 0], False)):
        chunked = pl.concat([frame(seconds).slice(0, 1), frame(seconds).slice(1)], rechunk=False)
        assert chunked[m.TIMESTAMP].n_chunks() == 2
        assert _in_order(chunked) is expected


def test_sorting_by_edge_packs_or_falls_back_to_lexsort() -> None:
    import numpy as np

    keys = np.array([5000, 3, 5000, 3], dtype=np.int32)
    present, counts = _discovery._tally(keys, 5001 * 5001)
    for scale in (1, 2**50):  # 5000 << 51 overflows the packed form: lexsort
        durations = np.array([2 * scale, 7, 1, 3 * scale], dtype=np.int64)
        ordered = _discovery._sorted_by_edge(keys, present, counts, durations.copy())
        assert ordered.tolist() == [*sorted([7, 3 * scale]), *sorted([1, 2 * scale])]
